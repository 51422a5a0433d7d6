"""casework audit: the processing log (who read or changed which cases) and its checks."""

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
)
from casework.cli.params import ID, parse_day


@click.group(invoke_without_command=True)
@click.option("--case", "case_id", type=ID, help="Entries about this case.")
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
    from casework.audit import read_log

    state: CliState = ctx.obj
    rows = read_log(state.engine(), state.who(actor, "audit"), case_id, staff,
                    parse_day(since_text, "--since"), bsn)
    if as_json:
        print_json(rows)
        return
    from rich.table import Table

    table = Table("#", "when", "who", "action", "cases", "purpose", title="Processing log")
    for r in rows:
        cases = ", ".join(str(c) for c in r["case_ids"][:12])
        if len(r["case_ids"]) > 12:
            cases += f" (+{len(r['case_ids']) - 12})"
        table.add_row(str(r["id"]), local(r["at"], state.settings(), "%Y-%m-%d %H:%M:%S"),
                      plain(r["actor"]),
                      plain(r["action"]), cases, plain(r["purpose"]))
    console().print(table)
    click.echo(f"{len(rows)} entries")


@audit.command("verify")
@json_option
@click.pass_obj
def verify_command(state: CliState, as_json: bool) -> None:
    """Check the hash chains of the processing log and the sealed case history against each
    other and against the anchor file; exit 1 at the first entry that was changed or removed
    (a security incident: report it). An intact result is appended to the anchor file."""
    from casework.audit import verify

    result = verify(state.engine(), state.who(None, "audit"))
    if as_json:
        print_json(result)
    else:
        log, events, anchor = result["access_log"], result["events"], result["anchor"]
        click.echo(f"processing log: {log['entries']} entries, "
                   + ("intact" if log["problem"] is None else f"BROKEN: {log['problem']['what']}"))
        click.echo(f"case history: {events['sealed']} events sealed ({events['redacted']} "
                   f"redacted by a purge), {events['unsealed']} not yet sealed, "
                   + ("intact" if events["problem"] is None
                      else f"BROKEN: {events['problem']['what']}"))
        if anchor["problem"] is not None:
            click.echo(f"anchor file: BROKEN: {anchor['problem']}")
        else:
            click.echo(f"anchor file {anchor['file']}: {anchor['records']} earlier records "
                       + ("match" if result["ok"] else "checked")
                       + ("; this result was appended" if anchor["written"] else "")
                       + (" (chains keyed with [audit] key_file)" if result["keyed"] else ""))
        if anchor["warning"]:
            click.echo(f"warning: {anchor['warning']}")
    if not result["ok"]:
        raise SystemExit(1)


@audit.command("seal")
@click.option("--new-anchor", is_flag=True,
              help="Start a new anchor file when the old one is lost (report the loss).")
@json_option
@click.pass_obj
def seal_command(state: CliState, new_anchor: bool, as_json: bool) -> None:
    """Seal the case history recorded since the last seal and append the chain heads to the
    anchor file (the daily run does this too)."""
    from casework.audit import seal

    result = seal(state.engine(), state.who(None, "audit"), new_anchor)
    if as_json:
        print_json(result)
    else:
        click.echo(f"{result['sealed']} events sealed")
        written = result["anchor"]
        click.echo(("started anchor file " if written["started"] else "appended to anchor file ")
                   + f"{written['file']}: processing log {written['access_log']['entries']} "
                   f"entries, {written['events']['sealed']} events sealed")


@audit.command("rekey")
@click.option("--old-key-file", type=click.Path(dir_okay=False, path_type=Path),
              help="The key the chains were made with until now (default: none).")
@json_option
@click.pass_obj
def rekey_command(state: CliState, old_key_file: Path | None, as_json: bool) -> None:
    """Re-make both hash chains with the key now in [audit] key_file (after setting, changing
    or removing it), once they check out with the old key; the anchor file records it."""
    from casework.audit import rekey

    result = rekey(state.engine(), state.who(None, "audit"), old_key_file)
    if as_json:
        print_json(result)
    else:
        click.echo(f"re-made {result['entries']} processing log entries and {result['events']} "
                   "sealed events " + ("with the key in [audit] key_file" if result["keyed"]
                                       else "without a key")
                   + f"; recorded in anchor file {result['anchor']['file']}")
