"""casework serve: the web front for staff."""

from __future__ import annotations

import click

from casework.cli.common import CliState


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (put a TLS proxy in front for other hosts).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535),
              help="Port to listen on.")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64),
              help="Requests answered at the same time.")
@click.pass_obj
def serve_command(state: CliState, host: str, port: int, threads: int) -> None:
    """Run the web front for staff (log in with a password set by
    'casework staff set-password'); stop with Ctrl-C."""
    from waitress import serve

    from casework.db import checkpoints_aside
    from casework.web import create_app

    engine = state.engine()
    app = create_app(engine)
    click.echo(f"casework web front on http://{host}:{port}/ (stop with Ctrl-C)")
    # A form's step never waits for SQLite to copy its log into the database file.
    with checkpoints_aside(engine):
        serve(app, host=host, port=port, threads=threads, ident="casework")
