"""casework init, casework db upgrade|current."""

from __future__ import annotations

import click

from casework.cli.common import CliState, json_option, print_json


@click.command("init")
@click.option("--training", is_flag=True,
              help="Make a training database (for rehearsal: --clock may set 'now' on it).")
@click.pass_obj
def init_command(state: CliState, training: bool) -> None:
    """Create the database (or bring an existing one to the current schema)."""
    from casework.access import with_chain_key
    from casework.db import current_revision, describe_url, make_engine, upgrade
    from casework.training import is_training, mark_training

    settings = state.settings()
    engine = with_chain_key(make_engine(settings.database_url), settings)
    where = describe_url(settings.database_url)
    if training and current_revision(engine) is not None and not is_training(engine):
        from casework.training import TrainingRefused

        raise TrainingRefused(f"database {where} exists and is not a training database; "
                              "--training only marks a new database (use an empty one)")
    before, after = upgrade(engine)
    if training:
        mark_training(engine)
    if before is None:
        kind = "training database" if training else "database"
        click.echo(f"Created {kind} {where} (schema {after}).")
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
@json_option
@click.pass_obj
def current_command(state: CliState, as_json: bool) -> None:
    """Show the database's schema revision and the one this casework needs."""
    from casework.db import current_revision, describe_url, head_revision, make_engine
    from casework.training import header, is_training

    settings = state.settings()
    engine = make_engine(settings.database_url)
    current = current_revision(engine)
    training = current is not None and is_training(engine)
    if training:
        click.echo(header(settings, None), err=True)
    if as_json:
        print_json({"database": describe_url(settings.database_url), "schema": current,
                    "needed": head_revision(), "training": training})
        return
    click.echo(f"database: {describe_url(settings.database_url)}")
    click.echo(f"schema:   {current or 'empty (run casework init)'}")
    click.echo(f"needed:   {head_revision()}")
    click.echo(f"training: {'yes (a training database)' if training else 'no'}")
