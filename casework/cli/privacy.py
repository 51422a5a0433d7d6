"""casework privacy: subject access (export) and retention (purge)."""

from __future__ import annotations

from pathlib import Path

import click

from casework.cli.common import CliState, actor_option, json_option, print_json


@click.group()
def privacy() -> None:
    """Personal data: export everything about a person, purge after the retention period."""


@privacy.command("export")
@click.option("--bsn", required=True, help="The person's BSN (never printed).")
@click.option("--out", "out_path", required=True,
              type=click.Path(dir_okay=False, path_type=Path), help="The JSON file to write.")
@actor_option
@json_option
@click.pass_obj
def export_command(state: CliState, bsn: str, out_path: Path, actor: str | None,
                   as_json: bool) -> None:
    """Write everything stored about a person to a JSON file (readable by you only)."""
    from casework.privacy import export_person

    result = export_person(state.engine(), state.who(actor, "privacy"), bsn, out_path)
    if as_json:
        print_json(result)
        return
    parts = ", ".join(f"{n} {kind}" for kind, n in result.items() if kind != "file")
    click.echo(f"Everything stored about this person ({parts}) written to {result['file']}.")


@privacy.command("purge")
@click.option("--dry-run", is_flag=True, help="Say who would be anonymised, change nothing.")
@actor_option
@json_option
@click.pass_obj
def purge_command(state: CliState, dry_run: bool, actor: str | None, as_json: bool) -> None:
    """Anonymise people whose cases all closed longer ago than their retention period."""
    from casework.privacy import purge

    result = purge(state.engine(), state.who(actor, "privacy"), dry_run)
    if as_json:
        print_json(result)
        return
    verb = "would be anonymised" if dry_run else "anonymised"
    click.echo(f"{result['people']} people ({result['cases']} cases) {verb}; "
               f"{result['letters_deleted']} letter files and {result['batch_files_deleted']} "
               "mail-house batch files deleted.")
    for route, count in result["no_retention_period"].items():
        click.echo(f"  {count} closed cases of {route} kept: no retention period set "
                   f"([retention.{route}] in config.toml)")
    if result["wal_truncated"] is False:
        click.echo("  the database's write-ahead log could not be emptied (another process was "
                   "reading): it keeps the pages as they were until its next checkpoint; run "
                   "the purge again when nothing else uses the database")
