"""casework letters render|list|cancel|batch list|mark-sent|remake|returned|preview|check|
calibrate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
from casework.cli.params import ID, one_of, parse_day
from casework.display import DUTCH_DAY as DAY


@click.group()
def letters() -> None:
    """Letters: render the queue to PDF, batch for the mail house, follow up."""


def print_render_summary(result: Any) -> None:
    from rich.text import Text

    data = result.as_dict()
    out = console()
    out.print(f"Letters for {data['run_date']}: rendered {data['rendered']}, held "
              f"{len(data['held']) + len(data.get('flagged', []))}, failed "
              f"{len(data['failed'])}")
    for batch in data["batches"]:
        out.print(f"  batch {batch['batch']}: {batch['letters']} letters, {batch['sheets']} "
                  f"sheets -> {batch['pdf']} + {batch['manifest']}")
    for item in data["held"]:
        out.print(safe(f"  held letter {item['letter']} ({item['template']}, case "
                       f"{item['case_id']}): {item['reason']} - the case has a task to fix it"))
    for item in data.get("flagged", []):
        out.print(safe(f"  held letter {item['letter']} ({item['template']}, case "
                       f"{item['case_id']}): {item['reason']}"))
    for item in data.get("too_late", []):
        out.print(safe(f"  not sent: letter {item['letter']} ({item['template']}, case "
                       f"{item['case_id']}): {item['reason']}"))
    for item in data["failed"]:
        out.print(Text.assemble("  ", ("FAILED", "red"), safe(
            f" letter {item['letter']} ({item['template']}, case {item['case_id']}), "
            f"attempt {item['attempts']}: {item['reason']}")))
    for item in data.get("renewed", []):
        what = (f"cancelled: {item['reason']}" if item["status"] == "cancelled"
                else "rendered again with today's date")
        out.print(safe(f"  letter {item['letter']} ({item['template']}, case "
                       f"{item['case_id']}) was made on an earlier day and never batched: "
                       f"{what}"))
    if data.get("removed_files"):
        out.print(safe(f"  removed {len(data['removed_files'])} old batch file(s) that no "
                       f"longer match a batch: {', '.join(data['removed_files'])}"))
    if data["batches"]:
        out.print(safe(f"  in {data['output_dir']}; after handing a batch to the mail house: "
                       "casework letters batch mark-sent BATCH"))


def print_pulls(pulls: list[dict[str, Any]]) -> None:
    """Say which letters a cancellation left in a batch not yet sent, to be pulled from it."""
    for item in pulls:
        click.echo(safe(f"  letter {item['letter']} ({item['template']}, case "
                        f"{item['case_id']}) is in batch {item['batch']}, not yet sent: pull "
                        "it from the batch before posting (see 'casework letters batch list')"))


@letters.command("render")
@click.option("--date", "date_text", metavar="DATE",
              help="Day the folder and batches are named for (default: today); not before "
                   "the last completed daily run. Letters are dated the day they are rendered.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (default: letters.output_dir in config.toml).")
@actor_option
@json_option
@click.pass_obj
def render_command(state: CliState, date_text: str | None, out_dir: Path | None,
                   actor: str | None, as_json: bool) -> None:
    """Render the queued letters to PDF and merge them into mail-house batches.

    Each letter is rendered once (a rerun continues); a letter whose address or length cannot
    go out is held and its case gets a task. Exit code 1 when a letter failed.
    """
    from casework.mailroom import render_queue

    engine = state.engine()
    who = state.who(actor, "letters")
    run_date = parse_day(date_text, "--date") or engine.now().astimezone(engine.tz).date()
    with progress("rendering letters", hidden=as_json) as bar:
        result = render_queue(engine, run_date, out_dir, bar, actor=who)
    if as_json:
        print_json(result.as_dict())
    else:
        print_render_summary(result)
    if result.failed:
        raise SystemExit(1)


@letters.command("list")
@click.option("--case", "case_id", type=ID, help="Only this case.")
@click.option("--status", type=click.Choice(["queued", "held", "rendered", "in_batch", "sent",
                                             "returned", "cancelled", "to_pull", "pulled"]))
@click.option("--batch", help="Only this batch.")
@actor_option
@json_option
@click.pass_obj
def list_command(state: CliState, case_id: int | None, status: str | None, batch: str | None,
                 actor: str | None, as_json: bool) -> None:
    """List letters, newest first."""
    from casework.mailroom import list_letters

    result = list_letters(state.engine(), state.who(actor, "letters"), case_id, status, batch)
    if as_json:
        print_json(result)
        return
    from rich.table import Column, Table

    table = Table(Column("letter", no_wrap=True), Column("case", no_wrap=True),
                  Column("template", no_wrap=True), "variant", Column("status", no_wrap=True),
                  "batch", "pages", "reason")
    for r in result["letters"]:
        table.add_row(str(r["id"]), str(r["case_id"]), plain(r["template"]),
                      plain(r["variant"]), r["status"], plain(r["batch"]),
                      str(r["pages"] or ""), plain(r["reason"]))
    console().print(table)
    console().print(f"{len(result['letters'])} of {result['total']} letter(s)")


@letters.command("cancel")
@click.argument("letter_id", type=ID)
@actor_option
@json_option
@click.pass_obj
def cancel_command(state: CliState, letter_id: int, actor: str | None, as_json: bool) -> None:
    """Cancel a letter that has not gone to the mail house.

    A letter already in a batch stays in it (a batch never changes once made): it is marked
    to_pull, to be taken out of the printed batch before posting.
    """
    from casework.batches import cancel_letter

    result = cancel_letter(state.engine(), state.who(actor, "letters"), letter_id)
    if as_json:
        print_json(result)
        return
    click.echo(f"Letter {letter_id} cancelled.")
    print_pulls(result["to_pull"])


@letters.group("batch")
def batch() -> None:
    """Mail-house batches: sealed when made, handed over once."""


@batch.command("list")
@click.option("--status", type=click.Choice(["made", "sent", "remade"]),
              help="Only batches with this status.")
@actor_option
@json_option
@click.pass_obj
def batch_list_command(state: CliState, status: str | None, actor: str | None,
                       as_json: bool) -> None:
    """List the batches, newest first: letters, how many to pull, status and dates."""
    from casework.batches import list_batches

    result = list_batches(state.engine(), state.who(actor, "letters"), status)
    if as_json:
        print_json(result)
        return
    from rich.table import Column, Table

    settings = state.settings()
    table = Table(Column("batch", no_wrap=True), Column("status", no_wrap=True),
                  Column("made", no_wrap=True), Column("sent", no_wrap=True),
                  Column("letters", justify="right"), Column("to pull", justify="right"),
                  Column("to post", justify="right"))
    for r in result["batches"]:
        table.add_row(r["batch"], r["status"], local(r["made_at"], settings, DAY),
                      local(r["sent_at"], settings, DAY), str(r["letters"]),
                      str(r["to_pull"]) if r["to_pull"] else "", str(r["to_post"]))
    console().print(table)
    count = len(result["batches"])
    console().print(f"{count} batch(es)")
    if any(r["to_pull"] and r["status"] == "made" for r in result["batches"]):
        console().print("  which letters to pull: casework letters list --status to_pull "
                        "--batch BATCH")


@batch.command("mark-sent")
@click.argument("batch_name", metavar="BATCH")
@actor_option
@json_option
@click.pass_obj
def mark_sent_command(state: CliState, batch_name: str, actor: str | None,
                      as_json: bool) -> None:
    """Record that BATCH was handed to the mail house; from then on it never changes."""
    from casework.batches import mark_batch_sent

    result = mark_batch_sent(state.engine(), state.who(actor, "letters"), batch_name)
    if as_json:
        print_json(result)
        return
    click.echo(f"Batch {batch_name}: {result['sent']} letter(s) marked sent.")
    if result["pulled"]:
        click.echo(f"  pulled (cancelled after the batch was made, not posted): letter(s) "
                   f"{', '.join(str(i) for i in result['pulled'])}")


@batch.command("remake")
@click.argument("batch_name", metavar="BATCH")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (default: letters.output_dir in config.toml).")
@actor_option
@json_option
@click.pass_obj
def remake_command(state: CliState, batch_name: str, out_dir: Path | None, actor: str | None,
                   as_json: bool) -> None:
    """Re-make BATCH (not handed over): its files are removed, its letters made afresh.

    The letters still wanted are queued again and rendered with today's date into a new batch
    (with the rest of the queue, as 'letters render'); a letter whose appointment has passed,
    or that a newer letter replaced, is cancelled instead.
    """
    from casework.batches import remake_batch
    from casework.mailroom import render_queue

    engine = state.engine()
    who = state.who(actor, "letters")
    result = remake_batch(engine, who, batch_name)
    render = render_queue(engine, engine.now().astimezone(engine.tz).date(), out_dir,
                          actor=who)
    if as_json:
        print_json({**result, "render": render.as_dict()})
    else:
        click.echo(f"Batch {batch_name} re-made: its PDF and manifest are removed; "
                   f"{len(result['queued'])} letter(s) queued again to be rendered today, "
                   f"{len(result['not_queued'])} not.")
        for item in result["not_queued"]:
            click.echo(safe(f"  letter {item['letter']} ({item['template']}, case "
                            f"{item['case_id']}): {item['reason']}"))
        print_render_summary(render)
    if render.failed:
        raise SystemExit(1)


@letters.command("returned")
@click.argument("letter_id", type=ID)
@actor_option
@click.pass_obj
def returned_command(state: CliState, letter_id: int, actor: str | None) -> None:
    """Record that a sent letter came back; the case gets a task to check the address."""
    from casework.mailroom import mark_returned

    result = mark_returned(state.engine(), state.who(actor, "letters"), letter_id)
    click.echo(f"Letter {letter_id} returned; case {result['case_id']} has a task to check "
               "the address.")


@letters.command("preview")
@click.argument("template")
@click.option("--case", "case_id", type=ID, required=True, help="The case to write to.")
@click.option("--png", "as_png", is_flag=True, help="PNG of page 1 instead of PDF.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: preview-TEMPLATE-CASE.pdf/.png).")
@actor_option
@click.pass_obj
def preview_command(state: CliState, template: str, case_id: int, as_png: bool,
                    out_path: Path | None, actor: str | None) -> None:
    """Render one letter for a case without queueing it (what would be printed)."""
    from casework.mailroom import preview
    from casework.outfiles import write_output

    target = out_path or Path(f"preview-{template}-{case_id}.{'png' if as_png else 'pdf'}")
    state.output(target, "--out")
    r, ctx = preview(state.engine(), state.who(actor, "letters"), template, case_id)
    if as_png:
        write_output(target, r.png(template, ctx, ppi=110)[0])
    else:
        write_output(target, r.pdf(template, ctx))
    click.echo(safe(f"Wrote {target}"))


@letters.command("check")
@click.option("--workflow", "workflow_id", help="Route whose labels to use.")
@json_option
@click.pass_obj
def check_command(state: CliState, workflow_id: str | None, as_json: bool) -> None:
    """Render every template and variant with hostile sample values; fail on any error."""
    from casework import vocabulary
    from casework.mailroom import check_templates

    state.who(None, "letters")
    one_of(workflow_id, vocabulary.routes(state.engine()), "--workflow", "route")
    results = check_templates(state.engine(), workflow_id)
    if as_json:
        print_json(results)
    else:
        for r in results:
            mark = "ok" if r["ok"] else "FAILED"
            click.echo(safe(f"{mark:<7}{r['template']:<14}{r['variant']:<18}"
                            f"{r['pages']} page(s)" + (f"  {r['error']}" if r["error"] else "")))
    if not all(r["ok"] for r in results):
        raise SystemExit(1)


@letters.command("calibrate")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("calibrate-window.pdf"), show_default=True)
@click.pass_obj
def calibrate_command(state: CliState, out_path: Path) -> None:
    """Print a page with the configured envelope window to hold against a real envelope."""
    from casework.mailroom import calibration_pdf
    from casework.outfiles import write_output

    state.output(out_path, "--out")
    state.who(None, "letters")
    write_output(out_path, calibration_pdf(state.engine()))
    click.echo(f"Wrote {out_path}: print it at 100% and hold it against the envelope.")
