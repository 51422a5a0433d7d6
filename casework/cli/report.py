"""casework report NAME."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import click

from casework.cli.common import CliState, console, print_json
from casework.cli.task import parse_day


@click.command("report")
@click.argument("name", type=click.Choice(["outcomes", "response"]))
@click.option("--as-of", "as_of_text", metavar="DATE",
              help="Count what was recorded up to and including this date (default: today).")
@click.option("--wijk", help="Only this wijk.")
@click.option("--workflow", "workflow_id", default="kansen-in-kaart", show_default=True,
              help="The route to report on.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@click.option("--chart", "chart_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a chart as PNG (response).")
@click.pass_obj
def report(state: CliState, name: str, as_of_text: str | None, wijk: str | None,
           workflow_id: str, fmt: str, chart_path: Path | None) -> None:
    """Tables for the council, counted from the case events as of a date."""
    from casework.reports import Scope, response_chart, run_report, table_rows

    engine = state.engine()
    as_of = parse_day(as_of_text, "--as-of") or engine.now().astimezone(engine.tz).date()
    data = run_report(engine, name, Scope(as_of, workflow_id, wijk))
    if chart_path is not None:
        if name != "response":
            raise click.UsageError("--chart is available for the response report")
        response_chart(data, chart_path)
    if fmt == "json":
        print_json(data)
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, delimiter=";")
        writer.writerows(table_rows(data))
    else:
        from rich.table import Table

        rows = table_rows(data)
        scope = f"{workflow_id}" + (f", wijk {wijk}" if wijk else "")
        table = Table(*[str(h) for h in rows[0]],
                      title=f"{name} tot en met {as_of.isoformat()} ({scope})")
        for row in rows[1:]:
            table.add_row(*["" if v is None else str(v) for v in row])
        console().print(table)
    if chart_path is not None and fmt != "json":
        click.echo(f"Chart written to {chart_path}", err=True)
