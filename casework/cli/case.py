"""casework case list|show|triggers|advance|assign|apply."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from casework.cli.common import (
    CliState,
    actor_option,
    console,
    human,
    json_option,
    local,
    plain,
    print_json,
    progress,
    safe,
)
from casework.cli.params import COUNT, ID, at_option, one_of, parse_at
from casework.text import shown


@click.group()
def case() -> None:
    """Cases: see them, see what can happen next, and move them along their route."""


def parse_sets(values: tuple[str, ...]) -> dict[str, Any]:
    """Return data fields from --set key=value (key.sub=value for notes per theme)."""
    data: dict[str, Any] = {}
    for item in values:
        if "=" not in item:
            raise click.BadParameter(f"{shown(item)} is not key=value", param_hint="--set")
        key, value = item.split("=", 1)
        key = key.strip()
        if not key:
            raise click.BadParameter(f"{shown(item)} has no field name", param_hint="--set")
        if "." in key:
            head, sub = key.split(".", 1)
            slot = data.setdefault(head, {})
            if not isinstance(slot, dict):
                raise click.BadParameter(f"field '{head}' given twice", param_hint="--set")
            slot[sub] = value
        else:
            data[key] = value
    return data


@case.command("list")
@click.option("--state", "state_name", help="Only cases in this state.")
@click.option("--wijk", help="Only cases in this wijk.")
@click.option("--workflow", "workflow", help="Only cases on this route.")
@click.option("--assigned", "assigned_to", metavar="WORKER",
              help="Only cases of this worker ('-' for unassigned).")
@click.option("--open", "open_only", is_flag=True, help="Only cases not closed.")
@click.option("--limit", default=100, show_default=True, type=COUNT,
              help="Show at most this many cases (0 = all).")
@click.option("--offset", default=0, type=COUNT, help="Skip this many first.")
@actor_option
@json_option
@click.pass_obj
def list_command(state: CliState, actor: str | None, as_json: bool, limit: int, offset: int,
                 **filters: Any) -> None:
    """List cases, filtered by state, wijk, route or worker."""
    from casework import vocabulary
    from casework.cases import CaseFilter, list_cases

    engine = state.engine()
    filters["state"] = filters.pop("state_name")
    actor = state.who(actor, "case.list")
    route = one_of(filters["workflow"], vocabulary.routes(engine), "--workflow", "route")
    one_of(filters["state"], vocabulary.states(engine, route, also=filters["state"]), "--state",
           "state" + (f" of {route}" if route else ""))
    one_of(filters["wijk"], lambda: vocabulary.wijken(engine, route), "--wijk", "wijk",
           known_if=lambda w: vocabulary.has_wijk(engine, w, route))
    one_of(filters["assigned_to"], [*vocabulary.staff_names(engine), vocabulary.UNASSIGNED],
           "--assigned", "staff member", "'-' for unassigned")
    result = list_cases(engine, actor, CaseFilter(**filters), limit or None, offset)
    if as_json:
        print_json(result)
        return
    from rich.table import Table

    settings = state.settings()
    from rich.table import Column

    # The route and worker columns only when they tell something (the list fits a terminal).
    routes = len({c["workflow"] for c in result["cases"]}) > 1
    workers = any(c["assigned_to"] for c in result["cases"])
    table = Table(Column("case", no_wrap=True), Column("name", no_wrap=True),
                  Column("wijk", no_wrap=True), *(["route"] if routes else []),
                  Column("state", no_wrap=True), Column("since", no_wrap=True),
                  *(["worker"] if workers else []))
    for c in result["cases"]:
        table.add_row(str(c["id"]), plain(c["name"]), plain(c["wijk"]),
                      *([plain(c["workflow"])] if routes else []), plain(c["state"]),
                      local(c["state_entered_at"], settings, "%Y-%m-%d"),
                      *([plain(c["assigned_to"])] if workers else []))
    out = console()
    out.print(table)
    shown = result["shown"]
    if result["total"] > shown + offset or offset:
        out.print(f"showing {shown} of {result['total']} cases (from {offset + 1}); "
                  "use --limit and --offset for more")
    else:
        out.print(f"{result['total']} case{'s' if result['total'] != 1 else ''}")


@case.command("show")
@click.argument("case_id", type=ID)
@actor_option
@json_option
@click.pass_obj
def show_command(state: CliState, case_id: int, actor: str | None, as_json: bool) -> None:
    """Show a case: the person, state, data and the timeline of events."""
    from casework import vocabulary
    from casework.cases import show_case

    data = show_case(state.engine(), state.who(actor, "case.read"), case_id)
    if as_json:
        print_json(data)
        return
    settings = state.settings()
    out = console()
    p = data["person"]
    from rich.text import Text

    out.print(Text.assemble((f"Case {data['id']}", "bold"),
                            f"  {safe(data['workflow'])} v{data['workflow_version']}  state ",
                            (safe(data["state"]), "bold"),
                            f" since {local(data['state_entered_at'], settings)}"))
    if data["closed_at"]:
        out.print(safe(f"closed {local(data['closed_at'], settings)}: {data['close_reason']}"))
    flag = f"  flagged: {p['flag']}" if p.get("flag") else ""
    out.print(safe(f"{p['name']}  (BSN {p['bsn_masked']}){flag}"))
    out.print(safe(f"{p['address']}, {p['postcode']} {p['city']}  wijk {data['wijk']}"))
    out.print(safe(f"phone {p['phone'] or '-'}  e-mail {p['email'] or '-'}"))
    out.print(safe(f"worker {data['assigned_to'] or '-'}"))
    if data.get("excluded"):
        out.print(safe(f"excluded: {data['excluded']} (kept out of waves)"))
    shown = {k: v for k, v in data["data"].items() if k != "themes"}
    for key, value in shown.items():
        out.print(safe(f"  {key}: {human(value, settings)}", lines=True))
    for theme, text in data["data"].get("themes", {}).items():
        out.print(safe(f"  theme {theme}: {text}", lines=True))
    for a in data["appointments"]:
        who = f" with {a['specialist']}" if a.get("specialist") else ""
        out.print(safe(f"appointment {local(a['starts_at'], settings)} "
                       f"{a['location'] or ''}{who} ({a['status']})"))
    partners = vocabulary.partner_labels(state.engine(), data["workflow"])
    for r in data["referrals"]:
        out.print(safe(f"referral to {partners.get(r['partner'], r['partner'])} on "
                       f"{local(r['referred_at'], settings)} "
                       f"({r['status']})"))
    for m in data.get("meetings", []):
        out.print(safe(f"attended {m['title'] or m['kind']} on {m['date']} at {m['place']}"))
    for m in data.get("matches", []):
        out.print(safe(f"matched with {m['employer']}: {m['job'] or 'job'}, "
                       f"{human(m['hours_per_week'], settings)} hours a week "
                       f"({human(m['fte'], settings)} fte)"))
    for letter in data.get("letters", []):
        sent = f", sent {local(letter['sent_at'], settings)}" if letter["sent_at"] else ""
        out.print(safe(f"letter {letter['id']} {letter['template']} "
                       f"({letter['status']}{sent})"))
    from rich.table import Table

    if data.get("tasks"):
        work = Table("task", "due", "what", "round", "status", "outcome", "by", "note",
                     title="Work")
        for t in data["tasks"]:
            rounds = f"{t['round']}/{t['rounds']}" if t["rounds"] > 1 else ""
            outcome = ": ".join(part for part in (t["outcome"], t["result"]) if part)
            who = t["done_by"] or t["assigned_to"] or (f"({t['role']})" if t["role"] else "")
            work.add_row(str(t["id"]), t["due"], plain(t["label"] or t["kind"]), rounds,
                         plain(t["status"]), plain(outcome), plain(who),
                         plain(t["note"], lines=True))
        out.print(work)
    table = Table("#", "when", "who", "what", "from", "to", "details", title="Timeline")
    for e in data["timeline"]:
        details = ", ".join(_detail(k, v, settings) for k, v in e["data"].items())
        if e["note"]:
            details = (details + "; " if details else "") + f"note: {e['note']}"
        table.add_row(str(e["seq"]), _when(e, settings), plain(e["actor"]),
                      plain(e["trigger"]), plain(e["from"]), plain(e["to"]),
                      plain(details, lines=True))
    out.print(table)


def _when(event: dict[str, Any], settings: Any) -> str:
    """Return when an event happened, and when it was written down if that was later (a past
    moment recorded with --at or loaded as history)."""
    from datetime import datetime

    from casework.display import DUTCH_DAY

    when = local(event["at"], settings)
    recorded = event.get("recorded_at")
    if recorded and abs(datetime.fromisoformat(recorded)
                        - datetime.fromisoformat(event["at"])).total_seconds() >= 60:
        when += f"\nvastgelegd {local(recorded, settings, DUTCH_DAY + ' %H:%M')}"
    return when


def _detail(key: str, value: Any, settings: Any) -> str:
    """Return one item of an event's data for the timeline: a correction as old -> new."""
    if isinstance(value, dict) and set(value) == {"old", "new"}:
        old, new = ("-" if v is None or v == "" else human(v, settings)
                    for v in (value["old"], value["new"]))
        return f"{key}: {old} -> {new}"
    return f"{key}={human(value, settings)}"


@case.command("triggers")
@click.argument("case_id", type=ID)
@actor_option
@json_option
@click.pass_obj
def triggers_command(state: CliState, case_id: int, actor: str | None, as_json: bool) -> None:
    """Show what can happen next to a case and, for what cannot, why."""
    from casework.cases import case_triggers

    data = case_triggers(state.engine(), state.who(actor, "case.read"), case_id)
    if as_json:
        print_json(data)
        return
    out = console()
    from rich.text import Text

    out.print(Text.assemble(safe(f"Case {data['id']} ({data['workflow']}) is in state "),
                            (safe(data["state"]), "bold")))
    for t in data["triggers"]:
        if t["possible"]:
            needs = f" needs {', '.join(t['needs'])}" if t["needs"] else ""
            out.print(Text.assemble("  ", ("can", "green"),
                                    safe(f"    {t['trigger']} -> {t['dest']}{needs}")))
        else:
            out.print(Text.assemble("  ", ("cannot", "red"),
                                    safe(f" {t['trigger']}: {t['reason']}")))


@case.command("advance")
@click.argument("case_id", type=ID)
@click.argument("trigger")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="A data field for the trigger (repeat; themes.health=... for notes).")
@click.option("--note", help="A note for the timeline.")
@at_option()
@click.option("--history", is_flag=True,
              help="Recording the past: the step queues no letter (see 'Bringing in an "
                   "earlier season').")
@click.option("--override-exclusion", is_flag=True,
              help="Coordinators: approach an excluded person anyway (say why with --note).")
@actor_option
@json_option
@click.pass_obj
def advance_command(state: CliState, case_id: int, trigger: str, sets: tuple[str, ...],
                    note: str | None, at_text: str | None, history: bool,
                    override_exclusion: bool, actor: str | None, as_json: bool) -> None:
    """Move a case along its route with TRIGGER (see 'casework case triggers ID')."""
    if override_exclusion and not (note or "").strip():
        raise click.UsageError("--override-exclusion needs --note REASON (why the person is "
                               "approached anyway)")
    engine = state.engine()
    who = state.who(actor, "case.write")
    at = parse_at(at_text, engine.tz)
    step = engine.advance(case_id, trigger, who, parse_sets(sets), at, note,
                          letters=not history,
                          overrides=("exclusion",) if override_exclusion else ())
    if as_json:
        print_json(step.as_dict())
        return
    line = f"Case {case_id}: {trigger}, {step.source} -> {step.dest}"
    if step.overridden:
        line += f" (exclusion {step.overridden['exclusion']} overridden)"
    if step.closed:
        line += f" (closed: {step.close_reason})"
    click.echo(safe(line))
    if step.to_pull:
        from casework.cli.letters import print_pulls

        print_pulls(step.to_pull)


@case.command("open")
@click.option("--workflow", "workflow_id", required=True,
              help="The route (e.g. participatiecoach).")
@click.option("--bsn", required=True, help="The person's BSN (never printed).")
@click.option("--source", help="Where the signal came from (routes that ask for it).")
@click.option("--surname", help="New person: surname.")
@click.option("--initials", help="New person: initials.")
@click.option("--prefix", help="New person: prefix (tussenvoegsel).")
@click.option("--street", help="New person: street.")
@click.option("--house-number", "house_number", help="New person: house number.")
@click.option("--suffix", "house_number_suffix", help="New person: house number suffix.")
@click.option("--postcode", help="New person: postcode (1234 AB).")
@click.option("--city", help="New person: city.")
@click.option("--wijk", help="New person: wijk.")
@click.option("--phone", help="New person: phone number.")
@click.option("--email", help="New person: e-mail address.")
@click.option("--birth-date", "birth_date", help="New person: date of birth.")
@click.option("--note", help="A note for the timeline.")
@at_option("When the case was opened")
@actor_option
@json_option
@click.pass_obj
def open_command(state: CliState, workflow_id: str, bsn: str, source: str | None,
                 note: str | None, at_text: str | None, actor: str | None, as_json: bool,
                 **person: str | None) -> None:
    """Open a case for one person (arriving by a signal); new people need their details."""
    from casework import vocabulary
    from casework.intake import open_case

    details = {key: value for key, value in person.items() if value is not None}
    actor = state.who(actor, "case.write")
    engine = state.engine()
    one_of(workflow_id, vocabulary.routes(engine), "--workflow", "route")
    result = open_case(engine, actor, workflow_id, {"bsn": bsn, **details},
                       source, note, parse_at(at_text, engine.tz))
    if as_json:
        print_json(result)
        return
    known = "new person" if result["new_person"] else "known person"
    click.echo(safe(f"Case {result['id']} opened on {result['workflow']} version "
                    f"{result['workflow_version']} in state {result['state']} ({known})."))


@case.command("correct")
@click.argument("case_id", type=ID)
@click.option("--set", "sets", multiple=True, metavar="themes.KEY=TEXT", required=True,
              help="The corrected text of a theme (empty: leave it out of the report).")
@click.option("--note", help="A note for the timeline (how the correction came in).")
@click.option("--resend", is_flag=True, help="Send the corrected report to the person.")
@at_option("When the correction came in")
@actor_option
@json_option
@click.pass_obj
def correct_command(state: CliState, case_id: int, sets: tuple[str, ...], note: str | None,
                    resend: bool, at_text: str | None, actor: str | None,
                    as_json: bool) -> None:
    """Record the person's corrections to their conversation report (the original stays)."""
    from casework.cases import correct_report

    corrections: dict[str, str] = {}
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep or not key.startswith("themes.") or len(key) == len("themes."):
            raise click.BadParameter(f"{shown(item)} is not themes.KEY=TEXT", param_hint="--set")
        corrections[key[len("themes."):]] = value
    actor = state.who(actor, "case.write")
    engine = state.engine()
    result = correct_report(engine, actor, case_id, corrections, note, resend,
                            parse_at(at_text, engine.tz))
    if as_json:
        print_json(result)
        return
    sent = "; the corrected report goes out with the next letters run" if result["letter"] else ""
    click.echo(safe(f"Case {case_id}: report corrected ({', '.join(result['corrected'])})"
                    f"{sent}."))


@case.command("assign")
@click.argument("targets", nargs=-1, metavar="[ID...] WORKER")
@click.option("--wave", type=ID, help="Assign every open case of this wave (with --wijk).")
@click.option("--wijk", help="With --wave: the wijk of the wave.")
@click.option("--workflow", "workflow_id", help="With --wave: the route (when several).")
@at_option("When it was assigned")
@actor_option
@json_option
@click.pass_obj
def assign_command(state: CliState, targets: tuple[str, ...], wave: int | None,
                   wijk: str | None, workflow_id: str | None, at_text: str | None,
                   actor: str | None, as_json: bool) -> None:
    """Assign a case (ID WORKER), several cases at once (ID ID ... WORKER: all or none), or a
    whole wave (--wave N --wijk W WORKER), to a staff member who can see it: a case worker,
    or a coordinator of its route (each recorded in the timeline)."""
    from casework.cases import assign_case

    if wave is not None or wijk is not None or workflow_id is not None:
        wave_command(state, targets, wave, wijk, workflow_id, at_text, actor, as_json)
        return
    if len(targets) < 2:
        raise click.UsageError("give the case and the worker: casework case assign ID WORKER "
                               "(several cases: ID ID ... WORKER; a wave: --wave N --wijk W "
                               "WORKER)")
    case_ids = []
    for target in targets[:-1]:
        try:
            case_ids.append(ID.convert(target, None, None))
        except click.BadParameter as exc:
            raise click.BadParameter(exc.message, param_hint="ID") from None
    worker = targets[-1]
    if len(case_ids) > 1:
        selection_command(state, case_ids, worker, at_text, actor, as_json)
        return
    case_id = case_ids[0]
    engine = state.engine()
    result = assign_case(engine, state.who(actor, "case.assign"), case_id, worker,
                         parse_at(at_text, engine.tz))
    if as_json:
        print_json(result)
        return
    was = f" (was {result['previous']})" if result["previous"] else ""
    click.echo(safe(f"Case {case_id} assigned to {worker}{was}."))


def previous_words(previous: dict[str, int]) -> str:
    """Say who had the cases an assignment moved: '2 from piet, 1 unassigned'."""
    return ", ".join(f"{n} from {who}" if who != "-" else f"{n} unassigned"
                     for who, n in sorted(previous.items()))


def selection_command(state: CliState, case_ids: list[int], worker: str,
                      at_text: str | None, actor: str | None, as_json: bool) -> None:
    """case assign ID ID ... WORKER."""
    from casework.cases import assign_cases

    engine = state.engine()
    result = assign_cases(engine, state.who(actor, "case.assign"), case_ids, worker,
                          parse_at(at_text, engine.tz))
    if as_json:
        print_json(result)
        return
    was = previous_words(result["previous"])
    click.echo(safe(f"{result['assigned']} of {result['cases']} cases assigned to {worker}"
                    + (f" ({was})" if was else "")
                    + (f"; {result['already_assigned']} already were"
                       if result["already_assigned"] else "") + "."))


def wave_command(state: CliState, targets: tuple[str, ...], wave: int | None,
                 wijk: str | None, workflow_id: str | None, at_text: str | None,
                 actor: str | None, as_json: bool) -> None:
    """case assign --wave N --wijk W WORKER."""
    from casework.cases import assign_wave

    if wave is None or wijk is None:
        raise click.UsageError("a wave is assigned with --wave N and --wijk W together")
    if len(targets) != 1:
        raise click.UsageError("give only the worker with --wave: casework case assign "
                               "--wave N --wijk W WORKER")
    engine = state.engine()
    result = assign_wave(engine, state.who(actor, "case.assign"), wave, wijk, targets[0],
                         workflow_id, parse_at(at_text, engine.tz))
    if as_json:
        print_json(result)
        return
    was = previous_words(result["previous"])
    click.echo(safe(f"Wave {wave} in {wijk} ({result['workflow']}): {result['assigned']} of "
                    f"{result['open_cases']} open cases assigned to {result['assigned_to']}"
                    + (f" ({was})" if was else "")
                    + (f"; {result['already_assigned']} already were"
                       if result["already_assigned"] else "") + "."))


@case.command("apply")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check every line, change nothing.")
@click.option("--history", is_flag=True,
              help="The file is history: record every line, queue no letter.")
@actor_option
@json_option
@click.pass_obj
def apply_command(state: CliState, file: Path, dry_run: bool, history: bool,
                  actor: str | None, as_json: bool) -> None:
    """Apply many advances from CSV or JSON lines, each checked like 'case advance'.

    Each line names the case ('case', or 'bsn' and 'workflow'), the 'trigger', 'at', an
    optional 'note' and the data fields (CSV: one column per field, themes.health for notes;
    JSON: the fields at top level or under "data"). A line without a trigger records a
    consent ('consent', optional 'consent_how'), its withdrawal ('consent_withdrawn') or a
    task outcome ('task_kind' and 'task_outcome', with 'result' for a reached call), like
    'consent grant', 'consent withdraw' and 'task done'.
    Failing lines are reported by line number while the good lines apply. Exit code 1 when a
    line failed. A line applied before (same 'id', or else the same values) is skipped and
    counted as already applied. With --history no line queues a letter.
    """
    from casework.bulk import apply_file
    from casework.errors import InputFileError

    if not file.is_file():
        raise InputFileError(f"{file}: no such file")
    engine = state.engine()
    who = state.who(actor, "case.write")
    with progress(f"applying {file.name}", hidden=as_json) as bar:
        summary = apply_file(engine, file, who, dry_run, bar, history=history)
    if as_json:
        print_json(summary.as_dict())
    else:
        for number, reason in summary.failures[:100]:
            click.echo(safe(f"line {number}: {reason}"), err=True)
        if summary.failed > 100:
            click.echo(f"... and {summary.failed - 100} more failed lines (use --json for all)",
                       err=True)
        verb = "would apply" if dry_run else "applied"
        already = (f", already applied {summary.already_applied}"
                   if summary.already_applied else "")
        click.echo(safe(f"{file.name}: read {summary.read}, {verb} {summary.applied}, "
                        f"failed {summary.failed}{already}"))
        for trigger, count in summary.by_trigger.most_common():
            click.echo(safe(f"  {trigger:<20} {count}"))
        if history:
            click.echo("History: no letters were queued.")
        if summary.to_pull:
            from casework.cli.letters import print_pulls

            print_pulls(summary.to_pull)
        if dry_run:
            click.echo("Dry run: nothing was changed.")
    if summary.failed:
        raise SystemExit(1)


@case.command("flag")
@click.argument("case_id", type=ID)
@click.argument("flag", type=click.Choice(["moved", "deceased", "none"]))
@at_option("When it became known")
@actor_option
@json_option
@click.pass_obj
def flag_command(state: CliState, case_id: int, flag: str, at_text: str | None,
                 actor: str | None, as_json: bool) -> None:
    """Flag the person of a case as moved or deceased (none: clear); kept out of waves."""
    from casework.cases import flag_person

    engine = state.engine()
    result = flag_person(engine, state.who(actor, "case.write"), case_id, flag,
                         parse_at(at_text, engine.tz))
    if as_json:
        print_json(result)
        return
    click.echo(f"Case {case_id}: person flagged {result['flag'] or 'none'} "
               f"({result['cases_changed']} case(s) changed).")
    stopped = result["cancelled"]
    if stopped["tasks"] or stopped["letters"]:
        click.echo(f"  nothing more is sent to them: cancelled {stopped['tasks']} task(s), "
                   f"{stopped['letters']} letter(s)")
    if result["requeued"]:
        click.echo(f"  {result['requeued']} letter(s) held while the person was flagged are "
                   "queued again")
    if result["to_pull"]:
        from casework.cli.letters import print_pulls

        print_pulls(result["to_pull"])
