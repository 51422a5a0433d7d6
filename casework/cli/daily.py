"""casework daily and casework scheduler run."""

from __future__ import annotations

from typing import Any

import click

from casework.cli.common import (
    CliState,
    console,
    json_option,
    local,
    plain,
    print_json,
    progress,
    safe,
)
from casework.cli.params import parse_day


def print_summary(summary: Any) -> None:
    from rich.text import Text

    out = console()
    data = summary.as_dict()
    head = "Dry run for" if summary.dry_run else "Daily run for"
    out.print(Text.assemble((f"{head} {data['run_date']}", "bold"), f": {data['status']}"))
    if summary.dry_run:
        planned = data["planned"]
        out.print(f"  would fire or close {planned['timers']} timer(s), escalate "
                  f"{planned['escalations']} overdue task(s) and render "
                  f"{planned.get('letters', 0)} queued letter(s)")
        if planned.get("stale"):
            out.print(f"  would cancel {planned['stale']} task(s) for an appointment that has "
                      "passed")
    else:
        for kind, count in data["stale_cancelled"].items():
            out.print(f"  cancelled          {kind:<18} {count} (appointment passed)")
        for trigger, count in data["timer_transitions"].items():
            out.print(f"  timer transitions {trigger:<18} {count}")
        for kind, count in data["escalations"].items():
            out.print(f"  escalated          {kind:<18} {count}")
        if data["timers_done"]:
            out.print(f"  timers done        {data['timers_done']}")
        if data["done"] == 0 and not data["stale_cancelled"]:
            out.print("  nothing was due")
        if data.get("letters"):
            from casework.cli.letters import print_render_summary
            from casework.mailroom import RenderSummary

            letters = data["letters"]
            print_render_summary(RenderSummary(
                run_date=summary.run_date, rendered=letters["rendered"],
                held=letters["held"], failed=letters["failed"], batches=letters["batches"],
                output_dir=letters["output_dir"], renewed=letters.get("renewed", []),
                removed_files=letters.get("removed_files", []),
                too_late=letters.get("too_late", []), flagged=letters.get("flagged", [])))
        if data["to_pull"]:
            from casework.cli.letters import print_pulls

            print_pulls(data["to_pull"])
        if data["skipped"]:
            out.print(f"  already done by another run: {data['skipped']}")
    if data["due_work"]:
        from rich.table import Table

        table = Table("for", "work", "due", "of which overdue", title="Work due for people")
        for row in data["due_work"]:
            table.add_row(plain(row["worker"]), plain(row["kind"]), str(row["due"]),
                          str(row["overdue"]) if row["overdue"] else "")
        out.print(table)
        out.print("  the call lists: casework task list --due "
                  f"{data['run_date']} [--mine] [--kind reminder_call]")
    for failure in data["failures"]:
        out.print(Text.assemble("  ", ("FAILED", "red"), safe(
            f" task {failure['task']} ({failure['kind']}, case {failure['case_id']}), "
            f"attempt {failure['attempts']}: {failure['error']}")))
    if data["failures"]:
        out.print(f"  {len(data['failures'])} item(s) failed; they are retried by the next run. "
                  "Fix the cause (see the reasons) or the case, then run again.")
    if data.get("anchor_problem"):
        out.print(Text.assemble("  ", ("FAILED", "red"),
                                safe(f" audit anchor: {data['anchor_problem']}")))
    if data["status"] == "stopped":
        out.print("  stopped before the end; the next run continues where this one stopped")


@click.command("daily")
@click.option("--date", "date_text", metavar="DATE",
              help="Do what is due up to this date (default: today); not before the last "
                   "completed run.")
@click.option("--dry-run", is_flag=True, help="Show what is due, change nothing.")
@click.option("--status", "show_status", is_flag=True, help="Show the last runs.")
@json_option
@click.pass_obj
def daily(state: CliState, date_text: str | None, dry_run: bool, show_status: bool,
          as_json: bool) -> None:
    """The daily back-office run: timer transitions, escalations, the day's work lists.

    Everything due up to the date is done exactly once, also after a crash or when two runs
    start together. Exit code 1 when an item failed (it is retried by the next run).
    """
    from casework.daily import count_due, recent_runs, run_daily

    engine = state.engine()
    who = state.who(None, "daily")
    if show_status:
        runs = recent_runs(engine, who)
        if as_json:
            print_json(runs)
            return
        from rich.table import Table

        table = Table("run", "date", "status", "started", "finished", "done", "failed", "host")
        for r in runs:
            table.add_row(str(r["id"]), r["run_date"], r["status"],
                          local(r["started_at"], state.settings()),
                          local(r["finished_at"], state.settings()), str(r["done"]),
                          str(r["failed"]), plain(r["host"]))
        console().print(table)
        if not runs:
            console().print("no runs yet")
        return
    run_date = parse_day(date_text, "--date") or engine.now().astimezone(engine.tz).date()
    with progress(f"daily run {run_date}", hidden=as_json or dry_run) as bar:
        if bar is not None:
            due = count_due(engine, run_date)
            bar(0, (due["timers"] + due["escalations"]) or None)
        summary = run_daily(engine, who, run_date, dry_run=dry_run, progress=bar)
    if as_json:
        print_json(summary.as_dict())
    else:
        print_summary(summary)
    if summary.failed or summary.anchor_problem:
        raise SystemExit(1)


@click.group()
def scheduler() -> None:
    """The scheduler that starts the daily run every day."""


@scheduler.command("run")
@click.option("--no-catch-up", is_flag=True, help="Do not run missed days at start.")
@click.pass_obj
def run_command(state: CliState, no_catch_up: bool) -> None:
    """Start the scheduler: run missed days now, then daily at scheduler.time (SIGTERM stops)."""
    from casework.scheduler import DailyScheduler

    settings = state.settings()

    def report(results: list[Any]) -> None:
        for summary in results:
            print_summary(summary)

    who = state.who(None, "daily")
    runner = DailyScheduler(state.engine(), who, on_run=report)
    click.echo(f"casework scheduler: daily run at {settings['scheduler.time']} "
               f"({settings['timezone']}); stop with Ctrl-C or SIGTERM")
    runner.serve(catch_up=not no_catch_up)
    click.echo("casework scheduler stopped")
