"""casework event: Meedoenpleinen and other meetings, and who attended."""

from __future__ import annotations

import click

from casework.cli.common import (
    CliState,
    actor_option,
    console,
    json_option,
    plain,
    print_json,
    safe,
)
from casework.cli.params import ID, at_option, parse_at, parse_day


@click.group("event")
def event() -> None:
    """Meedoenpleinen and other meetings: add, list, attend."""


@event.command("add")
@click.option("--date", "day_text", required=True, metavar="DATE", help="The day of the meeting.")
@click.option("--place", required=True, help="Where it is held.")
@click.option("--kind", type=click.Choice(["meedoenplein", "other"]), default="meedoenplein",
              show_default=True)
@click.option("--title", help="A title, e.g. 'Meedoenplein november'.")
@json_option
@click.pass_obj
def add_command(state: CliState, day_text: str, place: str, kind: str, title: str | None,
                as_json: bool) -> None:
    """Add a meeting."""
    from casework.meetings import add_meeting

    day = parse_day(day_text, "--date")
    assert day is not None
    result = add_meeting(state.engine(), state.who(None, "employers"), day, place, kind, title)
    if as_json:
        print_json(result)
        return
    click.echo(safe(f"Meeting {result['id']}: {result['title'] or kind} on {result['date']} "
                    f"at {result['place']}."))


@event.command("list")
@click.option("--from", "since_text", metavar="DATE", help="Only meetings from this day on.")
@json_option
@click.pass_obj
def list_command(state: CliState, since_text: str | None, as_json: bool) -> None:
    """Meetings with how many candidates and employers attended."""
    from rich.table import Table

    from casework.meetings import list_meetings

    rows = list_meetings(state.engine(), state.who(None, "employers"),
                         parse_day(since_text, "--from"))
    if as_json:
        print_json(rows)
        return
    table = Table("id", "date", "kind", "title", "place", "candidates", "employers",
                  title="Meetings")
    for r in rows:
        table.add_row(str(r["id"]), r["date"], r["kind"], plain(r["title"]), plain(r["place"]),
                      str(r["candidates"]), str(r["employers"]))
    console().print(table)


@event.command("attend")
@click.argument("meeting_id", type=ID)
@click.option("--case", "case_ids", type=ID, multiple=True, help="A candidate who came.")
@click.option("--employer", "employers", multiple=True, help="An employer who came (name).")
@at_option("When they attended")
@actor_option
@json_option
@click.pass_obj
def attend_command(state: CliState, meeting_id: int, case_ids: tuple[int, ...],
                   employers: tuple[str, ...], at_text: str | None, actor: str | None,
                   as_json: bool) -> None:
    """Record who attended; candidates at a Meedoenplein move on with attend_meedoenplein."""
    from casework.meetings import attend

    engine = state.engine()
    report = attend(engine, state.who(actor, "case.write"), meeting_id, list(case_ids),
                    list(employers), parse_at(at_text, engine.tz))
    if as_json:
        print_json(report)
        return
    for entry in report["candidates"]:
        if entry["advanced"]:
            click.echo(f"Case {entry['case']}: present, {entry['from']} -> {entry['to']}")
        elif entry["why_not"]:
            click.echo(safe(f"Case {entry['case']}: present, not moved on: {entry['why_not']}"))
        else:
            click.echo(f"Case {entry['case']}: present")
    for name in report["employers"]:
        click.echo(safe(f"{name}: present"))
