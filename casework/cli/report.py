"""casework report NAME."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from casework.cli.common import CliState, console, plain, print_json, safe
from casework.cli.task import parse_day

NAMES = ("outcomes", "response", "referrals", "follow-up", "caseload", "outflow", "worklist",
         "council")


@click.command("report")
@click.argument("name", type=click.Choice(NAMES))
@click.option("--as-of", "as_of_text", metavar="DATE",
              help="Count what was recorded up to and including this date (default: today).")
@click.option("--wijk", help="Only this wijk.")
@click.option("--workflow", "workflow_id", default="kansen-in-kaart", show_default=True,
              help="The route to report on ('all' for every route).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@click.option("--chart", "chart_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a chart as PNG (outcomes, response, outflow).")
@click.option("--year", type=click.IntRange(1990, 2200),
              help="outflow: the year of the savings (default: the as-of year).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              help="council: the HTML file to write.")
@click.pass_obj
def report(state: CliState, name: str, as_of_text: str | None, wijk: str | None,
           workflow_id: str, fmt: str, chart_path: Path | None, year: int | None,
           out_path: Path | None) -> None:
    """Tables for the council and the team, counted from the case data as of a date.

    \b
    outcomes   approached, spoken, classification, potential, referrals, became active
    response   approached, spoken, declined, unreachable, response % per wijk and variant
    referrals  per partner: referred, started, no interest, unreachable, on to care, open
    follow-up  called, became active, to the social team, taking steps, not active, no contact
    caseload   open cases per worker and state, age groups, flags
    outflow    persons and fte leaving benefit per month, savings for --year
    worklist   open and overdue tasks per worker and kind
    council    all council tables and charts as one HTML page (--out FILE.html)
    """
    from casework.reports import CHARTS, Scope, run_report, table_rows
    from casework.reports.tables import display_rows

    if chart_path is not None and name not in CHARTS:
        raise click.UsageError(f"--chart is available for {', '.join(CHARTS)}")
    if year is not None and name != "outflow":
        raise click.UsageError("--year is for the outflow report")
    if name == "council" and out_path is None:
        raise click.UsageError("report council needs --out FILE.html")
    if out_path is not None and name != "council":
        raise click.UsageError("--out is for the council report; use --format csv > FILE")
    state.output(out_path, "--out")
    state.output(chart_path, "--chart")
    engine = state.engine()
    state.who(None, "report")
    as_of = parse_day(as_of_text, "--as-of") or engine.now().astimezone(engine.tz).date()
    scope = Scope(as_of, workflow_id, wijk)
    if name == "council":
        from casework.reports.council import write_council

        assert out_path is not None
        write_council(engine, scope, out_path)
        click.echo(safe(f"Council report ({scope.describe()}, up to {as_of.isoformat()}) "
                        f"written to {out_path}"))
        return
    data = run_report(engine, name, scope, year)
    if chart_path is not None:
        from casework.outfiles import open_output
        from casework.reports import charts

        with open_output(chart_path, binary=True) as fh:
            charts.write_chart(data, fh)
    if fmt == "json":
        print_json(data)
    elif fmt == "csv":
        from casework.outfiles import csv_writer

        csv_writer(sys.stdout, delimiter=";").writerows(table_rows(data))
    else:
        from rich.table import Column, Table

        rows = display_rows(data)
        table = Table(*[Column(header=plain(h)) for h in rows[0]],
                      title=plain(f"{name} tot en met {as_of.isoformat()} ({scope.describe()})"))
        for row in rows[1:]:
            table.add_row(*[plain(v) for v in row])
        console().print(table)
    if chart_path is not None and fmt != "json":
        click.echo(f"Chart written to {chart_path}", err=True)
