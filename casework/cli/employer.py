"""casework employer: employers candidates meet and are matched with."""

from __future__ import annotations

import click

from casework.cli.common import (
    CliState,
    actor_option,
    console,
    human,
    json_option,
    plain,
    print_json,
    safe,
)


@click.group()
def employer() -> None:
    """Employers: add, list, show (matches and meetings attended)."""


@employer.command("add")
@click.argument("name")
@click.option("--sector", help="The employer's sector, e.g. horeca, zorg, logistiek.")
@click.option("--contact", help="Contact person and phone number or e-mail.")
@json_option
@click.pass_obj
def add_command(state: CliState, name: str, sector: str | None, contact: str | None,
                as_json: bool) -> None:
    """Add an employer."""
    from casework.employers import add_employer

    result = add_employer(state.engine(), state.who(None, "employers"), name, sector, contact)
    if as_json:
        print_json(result)
        return
    click.echo(safe(f"Employer {result['id']}: {result['name']} added."))


@employer.command("list")
@json_option
@click.pass_obj
def list_command(state: CliState, as_json: bool) -> None:
    """Every employer with its matches and meetings attended."""
    from rich.table import Table

    from casework.employers import list_employers

    rows = list_employers(state.engine(), state.who(None, "employers"))
    if as_json:
        print_json(rows)
        return
    table = Table("id", "name", "sector", "contact", "matches", "meetings", title="Employers")
    for r in rows:
        table.add_row(str(r["id"]), plain(r["name"]), plain(r["sector"]), plain(r["contact"]),
                      str(r["matches"]), str(r["meetings"]))
    console().print(table)


@employer.command("show")
@click.argument("name")
@actor_option
@json_option
@click.pass_obj
def show_command(state: CliState, name: str, actor: str | None, as_json: bool) -> None:
    """An employer: contact details, matches (case, job, hours) and meetings attended."""
    from casework.employers import employer_detail

    data = employer_detail(state.engine(), state.who(actor, "employers"), name)
    if as_json:
        print_json(data)
        return
    out = console()
    settings = state.settings()
    from rich.text import Text

    out.print(Text.assemble((safe(data["name"]), "bold"),
                            safe(f"  sector {data['sector'] or '-'}  "
                                 f"contact {data['contact'] or '-'}")))
    for m in data["matches"]:
        out.print(safe(f"match: case {m['case_id']}, {m['job'] or 'job'}, "
                       f"{human(m['hours_per_week'], settings)} hours a week "
                       f"({human(m['fte'], settings)} fte)"))
    for m in data["meetings"]:
        out.print(safe(f"attended {m['title'] or m['kind']} on {m['date']} at {m['place']}"))
