"""casework staff add|list."""

from __future__ import annotations

import click

from casework.cli.common import CliState, console, json_option, print_json


@click.group()
def staff() -> None:
    """Staff members who act on and are assigned cases."""


@staff.command("add")
@click.argument("name")
@click.option("--role", required=True,
              type=click.Choice(["back_office", "case_worker", "coordinator", "admin"]),
              help="What the person does.")
@click.option("--full-name", help="Name shown to colleagues and on letters.")
@click.pass_obj
def add_command(state: CliState, name: str, role: str, full_name: str | None) -> None:
    """Add a staff member (NAME is their login name)."""
    from casework.staff import add_staff

    add_staff(state.engine(), name, role, full_name)
    click.echo(f"Added {name} ({role}).")


@staff.command("list")
@json_option
@click.pass_obj
def list_command(state: CliState, as_json: bool) -> None:
    """List staff members."""
    from casework.staff import list_staff

    members = list_staff(state.engine())
    if as_json:
        print_json(members)
        return
    from rich.table import Table

    table = Table("name", "full name", "role", "active")
    for m in members:
        table.add_row(m["name"], m["full_name"] or "", m["role"], "yes" if m["active"] else "no")
    console().print(table)
