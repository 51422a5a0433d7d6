"""casework consent grant|withdraw|list and casework referral export."""

from __future__ import annotations

import sys
from contextlib import nullcontext
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
    safe,
)
from casework.cli.params import ID, at_option, one_of, parse_at

HOW = click.Choice(["conversation", "letter", "phone"])


@click.group()
def consent() -> None:
    """Consent per scope (record_report, share:PARTNER): what the person agreed to."""


@consent.command("grant")
@click.argument("case_id", type=ID)
@click.argument("scope")
@click.option("--how", required=True, type=HOW, help="How the person gave it.")
@at_option("When the person gave it")
@actor_option
@json_option
@click.pass_obj
def grant_command(state: CliState, case_id: int, scope: str, how: str, at_text: str | None,
                  actor: str | None, as_json: bool) -> None:
    """Record that the person of a case gave consent for SCOPE."""
    from casework.consents import grant_consent

    engine = state.engine()
    result = grant_consent(engine, state.who(actor, "case.write"), case_id, scope, how,
                           parse_at(at_text, engine.tz))
    if as_json:
        print_json(result)
        return
    click.echo(safe(f"Case {case_id}: consent {scope} granted ({how})."))


@consent.command("withdraw")
@click.argument("case_id", type=ID)
@click.argument("scope")
@click.option("--how", required=True, type=HOW, help="How the person withdrew it.")
@at_option("When the person withdrew it")
@actor_option
@json_option
@click.pass_obj
def withdraw_command(state: CliState, case_id: int, scope: str, how: str,
                     at_text: str | None, actor: str | None, as_json: bool) -> None:
    """Record that the person withdrew consent for SCOPE; what is pending under it stops."""
    from casework.consents import withdraw_consent

    engine = state.engine()
    result = withdraw_consent(engine, state.who(actor, "case.write"), case_id, scope, how,
                              parse_at(at_text, engine.tz))
    if as_json:
        print_json(result)
        return
    c = result["cancelled"]
    click.echo(safe(f"Case {case_id}: consent {scope} withdrawn ({how})."))
    if any(c.values()):
        click.echo(f"  cancelled: {c['referrals']} referral(s), {c['tasks']} task(s), "
                   f"{c['letters']} letter(s)")
    if result["to_pull"]:
        from casework.cli.letters import print_pulls

        print_pulls(result["to_pull"])


@consent.command("list")
@click.argument("case_id", type=ID)
@actor_option
@json_option
@click.pass_obj
def list_command(state: CliState, case_id: int, actor: str | None, as_json: bool) -> None:
    """Show what the person of a case consented to now, and the history."""
    from casework.consents import list_consents

    result = list_consents(state.engine(), state.who(actor, "case.read"), case_id)
    if as_json:
        print_json(result)
        return
    out = console()
    if not result["history"]:
        out.print(f"Case {case_id}: no consent recorded")
        return
    for scope, granted in result["current"].items():
        out.print(safe(f"  {scope:<28} {'granted' if granted else 'withdrawn'}"))
    from rich.table import Table

    table = Table("when", "scope", "granted", "how", "by", title="History")
    for h in result["history"]:
        table.add_row(local(h["at"], state.settings()), plain(h["scope"]),
                      "yes" if h["granted"] else "withdrawn", plain(h["how"]),
                      plain(h["recorded_by"]))
    out.print(table)


@click.group()
def referral() -> None:
    """Referrals to partners."""


@referral.command("export")
@click.option("--partner", required=True, help="The partner the list is for.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write CSV to this file (default: print CSV).")
@actor_option
@json_option
@click.pass_obj
def export_command(state: CliState, partner: str, out_path: Path | None, actor: str | None,
                   as_json: bool) -> None:
    """The open referrals for a partner: only people whose consent to share holds (no BSN)."""
    from casework import vocabulary
    from casework.outfiles import csv_writer, open_output
    from casework.referrals import partner_referrals

    state.output(out_path, "--out")
    engine = state.engine()
    who = state.who(actor, "referral.export")
    one_of(partner, vocabulary.partners(engine), "--partner", "partner")
    result = partner_referrals(engine, who, partner)
    if as_json:
        print_json(result)
        return
    columns = ["referral_id", "case_id", "referred_at", "name", "address", "postcode", "city",
               "phone", "email", "status"]
    with (open_output(out_path, newline="", encoding="utf-8-sig") if out_path
          else nullcontext(sys.stdout)) as handle:
        writer = csv_writer(handle, delimiter=";")
        writer.writerow(columns)
        # People read this file: the moment in local time, like every human output.
        writer.writerows([local(row[c], state.settings()) if c == "referred_at" else row.get(c)
                          for c in columns] for row in result["referrals"])
    label = vocabulary.partner_labels(engine).get(partner, partner)
    message = (f"{len(result['referrals'])} referral(s) for {safe(label)}"
               + (f" written to {out_path}" if out_path else ""))
    if result["left_out_without_consent"]:
        message += f"; {result['left_out_without_consent']} left out (no consent to share)"
    click.echo(message, err=out_path is None)
