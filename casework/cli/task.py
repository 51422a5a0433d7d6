"""casework task list|done."""

from __future__ import annotations

from typing import Any

import click

from casework.cli.case import parse_sets
from casework.cli.common import (
    CliState,
    actor_option,
    console,
    json_option,
    local,
    plain,
    print_json,
    safe,
)
from casework.cli.params import COUNT, ID, at_option, one_of, parse_at, parse_day


@click.group()
def task() -> None:
    """Work lists: calls, deadlines and escalations the routes plan."""


@task.command("list")
@click.option("--due", "due_text", metavar="DATE", help="Only work due on or before DATE.")
@click.option("--overdue", is_flag=True, help="Only work whose due date has passed.")
@click.option("--kind", help="Only this kind, e.g. reminder_call or follow_up_call.")
@click.option("--status", default="open", show_default=True,
              type=click.Choice(["open", "done", "cancelled", "all"]))
@click.option("--mine", is_flag=True, help="Only work assigned to me (or to my role).")
@click.option("--assigned", "assigned_to", metavar="WORKER",
              help="Only work assigned to this worker ('-' for work assigned to no one).")
@click.option("--limit", default=500, show_default=True, type=COUNT,
              help="Show at most this many (0 = all).")
@actor_option
@json_option
@click.pass_obj
def list_command(state: CliState, due_text: str | None, overdue: bool, kind: str | None,
                 status: str, mine: bool, assigned_to: str | None, limit: int,
                 actor: str | None, as_json: bool) -> None:
    """List work for people, soonest first (the call list of a day: --due DATE)."""
    from casework.tasks import TaskFilter, list_tasks

    if due_text and overdue:
        raise click.UsageError("give --due DATE or --overdue, not both")
    from casework import vocabulary

    filters = TaskFilter(due=parse_day(due_text, "--due"), overdue=overdue, kind=kind,
                         status=status, mine=mine, assigned_to=assigned_to)
    engine = state.engine()
    who = state.who(actor, "case.read")
    one_of(kind, vocabulary.task_kinds(engine, also=kind), "--kind", "kind of work")
    one_of(assigned_to, [*vocabulary.staff_names(engine), vocabulary.UNASSIGNED], "--assigned",
           "staff member", "'-' for work assigned to no one")
    result = list_tasks(engine, who, filters, limit=limit or None)
    if as_json:
        print_json(result)
        return
    from rich.table import Column, Table

    finished = status != "open"
    settings = state.settings()
    rows: list[dict[str, Any]] = []
    for t in result["tasks"]:
        row = {
            "task": str(t["id"]), "due": plain(t["due"], style="red" if t["overdue"] else ""),
            "what": plain(t["label"] or t["kind"]),
            "round": f"{t['round']}/{t['rounds']}" if t["rounds"] > 1 else "",
            "case": str(t["case_id"]), "name": plain(t["name"]), "phone": plain(t["phone"]),
            "appointment": local(t["appointment"], settings),
            "for": plain(t["assigned_to"] or (f"({t['role']})" if t["role"] else "")),
        }
        if finished:
            row.update({"status": plain(t["status"]), "outcome": plain(_outcome(t)),
                        "by": plain(t["done_by"]), "note": plain(t["note"], lines=True)})
        rows.append(row)
    # A column nobody's row fills is left out, so the list fits a terminal (the kind of work
    # is in --json; its label is shown).
    keep = [name for name in (rows[0] if rows else {"task": "", "due": "", "what": ""})
            if name in ("task", "due", "what") or any(str(r[name]) for r in rows)]
    table = Table(*[Column(name, no_wrap=name in ("task", "due", "case", "appointment"))
                    for name in keep])
    for row in rows:
        table.add_row(*[row[name] for name in keep])
    out = console()
    out.print(table)
    out.print(f"{result['shown']} of {result['total']} task(s)")


def _outcome(task: dict[str, Any]) -> str:
    """Return what came of a finished task: the outcome, and a call's result."""
    result = task["result"] or {}
    text = result.get("outcome") or ""
    if result.get("result"):
        text += f": {result['result']}"
    if result.get("expired"):
        text += " (last round)"
    return text


@task.command("done")
@click.argument("task_id", type=ID)
@click.option("--outcome", required=True,
              type=click.Choice(["reached", "not_reached", "wrong_number", "done"]),
              help="What happened (calls: reached, not_reached, wrong_number; other work: "
                   "done; reached with --set result=... where the route lists results).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="For a reached call: result=... and data for the case's next step.")
@at_option("When it was done")
@click.option("--history", is_flag=True,
              help="Recording the past: queue no letter (see 'Bringing in an earlier season').")
@click.option("--note", help="What was said or done (kept with the task and in the timeline).")
@actor_option
@json_option
@click.pass_obj
def done_command(state: CliState, task_id: int, outcome: str, sets: tuple[str, ...],
                 at_text: str | None, history: bool, note: str | None, actor: str | None,
                 as_json: bool) -> None:
    """Finish a task; a reached follow-up call moves the case as the route says."""
    from casework.tasks import complete_task

    actor = state.who(actor, "case.write")
    engine = state.engine()
    report: dict[str, Any] = complete_task(engine, actor, task_id, outcome, parse_sets(sets),
                                           parse_at(at_text, engine.tz), letters=not history,
                                           note=note)
    if as_json:
        print_json(report)
        return
    click.echo(safe(f"Task {task_id} ({report['kind']}, case {report['case_id']}): {outcome}."))
    if report["letter_not_sent"]:
        click.echo(safe(f"  no {report['letter_not_sent']['template']} letter: "
                        f"{report['letter_not_sent']['reason']}"))
    if outcome == "wrong_number":
        click.echo(f"  correct the number with casework person edit {report['case_id']} "
                   "--phone ...")
    if report["next_round"]:
        click.echo(f"  round {report['next_round']['round']} is due "
                   f"{report['next_round']['due']}")
    if report["transition"]:
        t = report["transition"]
        line = f"  case {report['case_id']}: {t['trigger']}, {t['from']} -> {t['to']}"
        if t["closed"]:
            line += f" (closed: {t['close_reason']})"
        click.echo(safe(line))
    if report["to_pull"]:
        from casework.cli.letters import print_pulls

        print_pulls(report["to_pull"])
