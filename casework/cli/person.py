"""casework person find|edit."""

from __future__ import annotations

import click

from casework.cli.common import CliState, actor_option, console, json_option, plain, print_json
from casework.cli.params import COUNT, ID


@click.group()
def person() -> None:
    """People: find their cases, correct their contact data."""


@person.command("find")
@click.argument("query")
@click.option("--limit", default=50, show_default=True, type=COUNT,
              help="Show at most this many cases (0 = all).")
@actor_option
@json_option
@click.pass_obj
def find_command(state: CliState, query: str, limit: int, actor: str | None,
                 as_json: bool) -> None:
    """Find the cases of a person by BSN, name, postcode and house number ('9711 AB 12') or
    a letter's reference ('KIK-000123'); only cases you may see are listed."""
    from casework.person import find_cases

    actor = state.who(actor, "case.read")
    result = find_cases(state.engine(), actor, query, limit or None)
    if as_json:
        print_json(result)
        return
    out = console()
    if not result["cases"]:
        out.print("No case you may see matches.")
        return
    from rich.table import Column, Table

    table = Table(Column("case", no_wrap=True), Column("reference", no_wrap=True), "name",
                  "address", Column("postcode", no_wrap=True), "wijk", "route",
                  Column("state", no_wrap=True), "worker")
    for c in result["cases"]:
        table.add_row(str(c["id"]), c["reference"], plain(c["name"]), plain(c["address"]),
                      plain(c["postcode"]), plain(c["wijk"]), plain(c["workflow"]),
                      plain(c["state"]), plain(c["assigned_to"]))
    out.print(table)
    more = (f" (showing {result['shown']}; use --limit for more)"
            if result["total"] > result["shown"] else "")
    out.print(f"{result['total']} case{'s' if result['total'] != 1 else ''}{more}")


# How people call the participant's columns a correction changed.
_WHAT = {"email": "e-mail", "street": "address", "house_number": "address",
         "house_number_suffix": "address"}


@person.command("edit")
@click.argument("case_id", metavar="CASE", type=ID)
@click.option("--phone", help="The phone number ('' removes it).")
@click.option("--email", help="The e-mail address ('' removes it).")
@click.option("--address", help="Street and house number, e.g. 'Kerkstraat 12-A'.")
@click.option("--postcode", help="Postcode (1234 AB).")
@click.option("--city", help="City.")
@click.option("--note", help="How the correction came in (for the timeline).")
@actor_option
@json_option
@click.pass_obj
def edit_command(state: CliState, case_id: int, phone: str | None, email: str | None,
                 address: str | None, postcode: str | None, city: str | None,
                 note: str | None, actor: str | None, as_json: bool) -> None:
    """Correct the contact data of a case's person; the old values stay in the timeline."""
    from casework.person import contact_changes, edit_contact

    actor = state.who(actor, "case.write")
    values = contact_changes(phone, email, address, postcode, city)
    result = edit_contact(state.engine(), actor, case_id, values, note)
    if as_json:
        print_json(result)
        return
    if not result["changed"]:
        click.echo(f"Case {case_id}: nothing changed (the contact data already read so).")
        return
    names = ", ".join(dict.fromkeys(_WHAT.get(name, name) for name in result["changed"]))
    click.echo(f"Case {case_id}: corrected {names}; the old values stay in the timeline.")
