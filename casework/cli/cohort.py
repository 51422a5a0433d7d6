"""casework cohort import."""

from __future__ import annotations

from pathlib import Path

import click

from casework.cli.common import (
    CliState,
    actor_option,
    console,
    json_option,
    local,
    plain,
    print_json,
    progress,
    safe,
)
from casework.cli.params import COUNT, at_option, one_of, parse_at

SHOW_REJECTS = 50


@click.group()
def cohort() -> None:
    """Cohorts: bring the people selected for a project into a route."""


def _known_route_and_wijk(state: CliState, workflow_id: str, wijk: str | None) -> None:
    """Stop (exit 2) at a route or wijk that is not known, naming the known ones."""
    from casework import vocabulary

    engine = state.engine()
    one_of(workflow_id, vocabulary.routes(engine), "--workflow", "route")
    one_of(wijk, lambda: vocabulary.wijken(engine, workflow_id), "--wijk",
           f"wijk of {workflow_id}", known_if=lambda w: vocabulary.has_wijk(engine, w, workflow_id))


@cohort.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--workflow", "workflow_id", required=True, help="Route to open cases in.")
@click.option("--rejects", "rejects_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the rejected rows with their reasons to this CSV for correction.")
@at_option("When the cohort was selected (every case opens then)")
@actor_option
@json_option
@click.pass_obj
def import_command(state: CliState, file: Path, workflow_id: str, rejects_path: Path | None,
                   at_text: str | None, actor: str | None, as_json: bool) -> None:
    """Import a cohort CSV (comma or semicolon, UTF-8 with or without BOM).

    Bad rows are reported by row number and reason and not imported; the good rows are. A
    bad phone number or e-mail address is left out with a warning (the person is imported).
    Blank rows (also ';;;;') are skipped. Importing the same file again adds nothing. Exit
    code 1 when rows were rejected.
    """
    from casework.cohort import import_cohort
    from casework.errors import InputFileError

    if not file.is_file():
        raise InputFileError(f"{file}: no such file")
    state.output(rejects_path, "--rejects", (file, "the cohort file being imported"))
    from casework import vocabulary

    engine = state.engine()
    who = state.who(actor, "cohort.import")
    one_of(workflow_id, vocabulary.routes(engine), "--workflow", "route")
    at = parse_at(at_text, engine.tz)
    with progress(f"importing {file.name}", hidden=as_json, counted=True) as bar:
        summary = import_cohort(engine, file, workflow_id, who, rejects_path, bar, at)
    if as_json:
        print_json(summary.as_dict())
    else:
        for r in summary.rejects[:SHOW_REJECTS]:
            click.echo(safe(f"row {r.row}: {r.detail}"), err=True)
        if summary.rejected > SHOW_REJECTS:
            click.echo(f"... and {summary.rejected - SHOW_REJECTS} more rejected rows"
                       + (f" (all in {rejects_path})" if rejects_path else
                          "; use --rejects FILE to get them all"), err=True)
        for w in summary.warnings[:SHOW_REJECTS]:
            click.echo(safe(f"row {w.row}: warning: {w.detail}"), err=True)
        if len(summary.warnings) > SHOW_REJECTS:
            click.echo(f"... and {len(summary.warnings) - SHOW_REJECTS} more warnings "
                       "(--json lists them all)", err=True)
        click.echo(safe(f"{file.name} into {summary.workflow}:"))
        click.echo(f"  read             {summary.read}")
        click.echo(f"  imported         {summary.imported}")
        click.echo(f"  already present  {summary.already_present}")
        excluded = sum(summary.excluded.values())
        if excluded:
            click.echo(f"  excluded         {excluded}   (imported, kept out of waves)")
            for reason, count in summary.excluded.most_common():
                click.echo(safe(f"    {reason:<24} {count}"))
        if summary.warnings:
            click.echo(f"  warnings         {len(summary.warnings)}   (imported without a "
                       "bad phone number or e-mail address; correct it with 'casework person "
                       "edit')")
        click.echo(f"  rejected         {summary.rejected}")
        for reason, count in summary.rejected_by_reason.items():
            click.echo(f"    {reason:<24} {count}")
        if summary.ignored_columns:
            click.echo(safe(f"  ignored columns: {', '.join(summary.ignored_columns)}"))
        if summary.rejected:
            hint = f"see {rejects_path}" if rejects_path else "use --rejects FILE to get them"
            click.echo(f"Correct the rejected rows ({hint}) and import them again.")
    if summary.rejected:
        raise SystemExit(1)


@cohort.command("plan")
@click.option("--workflow", "workflow_id", required=True, help="Route of the cases.")
@click.option("--wijk", required=True, help="Neighbourhood to plan a wave in.")
@click.option("--size", type=COUNT,
              help="Most invitations in this wave (default: planning.wave_size).")
@click.option("--from", "start_text", required=True, metavar="DATE",
              help="First day appointments may be proposed on (at the earliest the day "
                   "after an invitation made today can arrive: letters.delivery_workdays).")
@click.option("--specialist", "specialist_names", multiple=True, metavar="NAME",
              help="Staff member who holds the conversations (repeat for each); each slot is "
                   "booked for one of them, never one they already have.")
@click.option("--specialists", type=COUNT,
              help="Or: the number of (unnamed) specialists available in parallel.")
@click.option("--dry-run", is_flag=True, help="Show the plan, invite nobody.")
@actor_option
@json_option
@click.pass_obj
def plan_command(state: CliState, workflow_id: str, wijk: str, size: int | None,
                 start_text: str, specialist_names: tuple[str, ...], specialists: int | None,
                 dry_run: bool, actor: str | None, as_json: bool) -> None:
    """Plan a wave: invite selected cases of a wijk with proposed appointment slots.

    Slots fall on workdays (no weekends or Dutch public holidays), in the hours and numbers set
    under [planning] in config.toml. Each invitation is the route's wave step
    ([workflow] wave_step in the route file).
    """
    from casework.cli.params import parse_day
    from casework.planning import plan_wave

    start = parse_day(start_text, "--from")
    assert start is not None
    engine = state.engine()
    if size is None:
        size = int(engine.settings["planning.wave_size"])
    actor = state.who(actor, "cohort.plan")
    _known_route_and_wijk(state, workflow_id, wijk)
    if bool(specialist_names) == (specialists is not None):
        raise click.UsageError("name the specialists (--specialist NAME, repeated) or give "
                               "their number (--specialists N), one of the two")
    plan = plan_wave(engine, actor, workflow_id, wijk, size, start,
                     list(specialist_names) or specialists or 0, dry_run)
    if as_json:
        print_json(plan)
        return
    from rich.table import Table

    settings = state.settings()
    out = console()
    if dry_run and plan["invitations"]:
        table = Table("case", "name", "appointment", "specialist")
        for inv in plan["invitations"]:
            table.add_row(str(inv["case_id"]), plain(inv["name"]),
                          local(inv["appointment"], settings), str(inv["specialist"]))
        out.print(table)
    for item in plan["excluded_now"]:
        click.echo(safe(f"case {item['case_id']}: left out ({item['reason']})"), err=True)
    for failure in plan["failures"]:
        click.echo(safe(f"case {failure['case_id']}: {failure['reason']}"), err=True)
    verb = "would invite" if dry_run else "invited"
    out.print(safe(f"Wave {plan['wave']} in {wijk} ({plan['workflow']}): {verb} "
                   f"{plan['invited']} of {plan['selected']} selected (size {plan['size']})"))
    if plan["first_appointment"]:
        out.print(f"  appointments {local(plan['first_appointment'], settings)} to "
                  f"{local(plan['last_appointment'], settings)}")
    if not plan["selected"]:
        out.print("  nobody in this wijk is waiting for an invitation")
    if dry_run:
        out.print("Dry run: nobody was invited.")
    if plan["failures"]:
        raise SystemExit(1)


@cohort.command("excluded")
@click.option("--workflow", "workflow_id", required=True, help="Route of the cases.")
@click.option("--wijk", help="Only this wijk.")
@click.option("--reason", help="Only this reason (e.g. social_team_contact).")
@actor_option
@json_option
@click.pass_obj
def excluded_command(state: CliState, workflow_id: str, wijk: str | None, reason: str | None,
                     actor: str | None, as_json: bool) -> None:
    """List the people a rule keeps out of waves, with the reason."""
    from casework import vocabulary
    from casework.planning import list_excluded

    actor = state.who(actor, "cohort.plan")
    _known_route_and_wijk(state, workflow_id, wijk)
    one_of(reason, vocabulary.exclusion_reasons(state.engine(), workflow_id), "--reason",
           "reason")
    result = list_excluded(state.engine(), actor, workflow_id, wijk, reason)
    if as_json:
        print_json(result)
        return
    from rich.table import Table

    table = Table("case", "name", "wijk", "state", "reason")
    for row in result["cases"]:
        table.add_row(str(row["case_id"]), plain(row["name"]), plain(row["wijk"]),
                      plain(row["state"]), plain(row["reason"]))
    out = console()
    out.print(table)
    out.print(safe(f"{len(result['cases'])} excluded; by reason: "
                   + (", ".join(f"{k} {v}" for k, v in result["by_reason"].items()) or "none")))
