"""casework audit: the processing log (who read or changed which cases) and its checks."""

from __future__ import annotations

import click

from casework.cli.common import CliState, actor_option, console, json_option, plain, print_json
from casework.cli.task import parse_day


@click.group(invoke_without_command=True)
@click.option("--case", "case_id", type=int, help="Entries about this case.")
@click.option("--staff", help="Entries by this staff member.")
@click.option("--since", "since_text", metavar="DATE", help="With --staff: from this day on.")
@click.option("--bsn", help="Entries about this person (what they may ask to see).")
@actor_option
@json_option
@click.pass_context
def audit(ctx: click.Context, case_id: int | None, staff: str | None, since_text: str | None,
          bsn: str | None, actor: str | None, as_json: bool) -> None:
    """The processing log: --case ID, --staff NAME [--since DATE] or --bsn BSN; `audit
    verify` checks that no entry was changed or removed."""
    if ctx.invoked_subcommand is not None:
        return
    if case_id is None and staff is None and bsn is None:
        raise click.UsageError("give --case ID, --staff NAME or --bsn BSN (or: audit verify)")
    if since_text and staff is None:
        raise click.UsageError("--since goes with --staff")
    from casework.access import log_access
    from casework.audit import entries

    state: CliState = ctx.obj
    engine = state.engine()
    who = state.who(actor, "audit")
    rows = entries(engine, case_id, staff, parse_day(since_text, "--since"), bsn)
    about = sorted({c for r in rows for c in r["case_ids"]} | ({case_id} if case_id else set()))
    if about:
        with engine.db.begin() as conn:
            log_access(conn, who, "audit", about, "processing log", engine.now())
    if as_json:
        print_json(rows)
        return
    from rich.table import Table

    table = Table("#", "when", "who", "action", "cases", "purpose", title="Processing log")
    for r in rows:
        cases = ", ".join(str(c) for c in r["case_ids"][:12])
        if len(r["case_ids"]) > 12:
            cases += f" (+{len(r['case_ids']) - 12})"
        table.add_row(str(r["id"]), r["at"][:19].replace("T", " "), plain(r["actor"]),
                      plain(r["action"]), cases, plain(r["purpose"]))
    console().print(table)
    click.echo(f"{len(rows)} entries")


@audit.command("verify")
@json_option
@click.pass_obj
def verify_command(state: CliState, as_json: bool) -> None:
    """Check the hash chains of the processing log and the sealed case history; exit 1 at
    the first entry that was changed or removed (a security incident: report it)."""
    from casework.audit import verify

    state.who(None, "audit")
    result = verify(state.engine())
    if as_json:
        print_json(result)
    else:
        log, events = result["access_log"], result["events"]
        click.echo(f"processing log: {log['entries']} entries, "
                   + ("intact" if log["problem"] is None else f"BROKEN: {log['problem']['what']}"))
        if log["head"]:
            click.echo(f"  last entry's hash {log['head']} (keep it elsewhere to detect removal "
                       "of the newest entries)")
        click.echo(f"case history: {events['sealed']} events sealed ({events['redacted']} "
                   f"redacted by a purge), {events['unsealed']} not yet sealed, "
                   + ("intact" if events["problem"] is None
                      else f"BROKEN: {events['problem']['what']}"))
    if not result["ok"]:
        raise SystemExit(1)


@audit.command("seal")
@json_option
@click.pass_obj
def seal_command(state: CliState, as_json: bool) -> None:
    """Seal the case history recorded since the last seal (the daily run does this too)."""
    from casework.audit import seal_events

    state.who(None, "audit")
    sealed = seal_events(state.engine())
    if as_json:
        print_json({"sealed": sealed})
    else:
        click.echo(f"{sealed} events sealed")
