"""casework init, casework db upgrade|current."""

from __future__ import annotations

import click

from casework.cli.common import CliState


@click.command("init")
@click.pass_obj
def init_command(state: CliState) -> None:
    """Create the database (or bring an existing one to the current schema)."""
    from casework.access import with_chain_key
    from casework.db import describe_url, make_engine, upgrade

    settings = state.settings()
    engine = with_chain_key(make_engine(settings.database_url), settings)
    before, after = upgrade(engine)
    where = describe_url(settings.database_url)
    if before is None:
        click.echo(f"Created database {where} (schema {after}).")
    elif before == after:
        click.echo(f"Database {where} is already initialised (schema {after}).")
    else:
        click.echo(f"Upgraded database {where} from schema {before} to {after}.")


@click.group()
def db() -> None:
    """Database maintenance: migrations."""


@db.command("upgrade")
@click.pass_obj
def upgrade_command(state: CliState) -> None:
    """Migrate the database to the schema of this casework version."""
    from casework.access import with_chain_key
    from casework.db import current_revision, describe_url, make_engine, upgrade

    settings = state.settings()
    engine = with_chain_key(make_engine(settings.database_url), settings)
    if current_revision(engine) is None:
        from casework.errors import DatabaseError

        raise DatabaseError(
            f"database {describe_url(settings.database_url)} is empty; run 'casework init'"
        )
    before, after = upgrade(engine)
    if before == after:
        click.echo(f"Database is up to date (schema {after}).")
    else:
        click.echo(f"Upgraded database from schema {before} to {after}.")


@db.command("current")
@click.pass_obj
def current_command(state: CliState) -> None:
    """Show the database's schema revision and the one this casework needs."""
    from casework.db import current_revision, describe_url, head_revision, make_engine

    settings = state.settings()
    engine = make_engine(settings.database_url)
    click.echo(f"database: {describe_url(settings.database_url)}")
    click.echo(f"schema:   {current_revision(engine) or 'empty (run casework init)'}")
    click.echo(f"needed:   {head_revision()}")
