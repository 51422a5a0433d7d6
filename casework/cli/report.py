"""casework report NAME."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from casework.cli.common import CliState, console, fail, json_option, plain, print_json, safe
from casework.cli.params import one_of, parse_day

if TYPE_CHECKING:
    from casework.permissions import Actor

NAMES = ("outcomes", "response", "referrals", "follow-up", "caseload", "outflow", "worklist",
         "council")


@click.command("report")
@click.argument("name", type=click.Choice(NAMES))
@click.option("--as-of", "as_of_text", metavar="DATE",
              help="Count what was recorded up to and including this date (default: today).")
@click.option("--wijk", help="Only this wijk.")
@click.option("--workflow", "workflow_id",
              help="The route to report on ('all' for every route; default: the only route "
                   "with cases, or the only route loaded).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@json_option
@click.option("--chart", "chart_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a chart as PNG (outcomes, response, outflow).")
@click.option("--year", type=click.IntRange(1990, 2200),
              help="outflow: the year of the savings (default: the as-of year).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              help="council: the HTML file to write.")
@click.pass_context
def report(ctx: click.Context, name: str, as_of_text: str | None, wijk: str | None,
           workflow_id: str | None, fmt: str, as_json: bool, chart_path: Path | None,
           year: int | None, out_path: Path | None) -> None:
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
    from casework import vocabulary
    from casework.reports import CHARTS, Scope, run_report, table_rows
    from casework.reports.scope import report_labels

    state: CliState = ctx.obj
    if as_json:
        given = ctx.get_parameter_source("fmt") is click.core.ParameterSource.COMMANDLINE
        if fmt != "json" and given:
            raise click.UsageError(f"--json and --format {fmt}: give one of them")
        fmt = "json"
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
    who = state.who(None, "report")
    as_of = parse_day(as_of_text, "--as-of") or engine.now().astimezone(engine.tz).date()
    workflow_id = _route(state, workflow_id, who)
    one_of(wijk, lambda: vocabulary.wijken(engine, workflow_id), "--wijk",
           "wijk" + ("" if workflow_id == vocabulary.ALL_ROUTES else f" of {workflow_id}"),
           known_if=lambda w: vocabulary.has_wijk(engine, w, workflow_id))
    scope = Scope(as_of, workflow_id, wijk)
    if name == "council":
        from casework.reports.council import write_council

        assert out_path is not None
        write_council(engine, who, scope, out_path)
        click.echo(safe(f"Council report ({scope.describe()}, up to {as_of.isoformat()}) "
                        f"written to {out_path}"))
        return
    data = run_report(engine, who, name, scope, year)
    if chart_path is not None:
        from casework.outfiles import open_output
        from casework.reports import charts

        with open_output(chart_path, binary=True) as fh:
            charts.write_chart(data, fh)
    if fmt == "json":
        print_json(data)
    elif fmt == "csv":
        from casework.outfiles import csv_writer

        csv_writer(sys.stdout, delimiter=";").writerows(
            table_rows(data, report_labels(engine, scope)))
    else:
        print_table(data, report_labels(engine, scope),
                    f"{name} tot en met {as_of.isoformat()} ({scope.describe()})")
    if chart_path is not None and fmt != "json":
        click.echo(f"Chart written to {chart_path}", err=True)


def _route(state: CliState, workflow_id: str | None, who: Actor) -> str:
    """Return the route to report on: the one given (a known route or 'all'), else the only
    route with cases (or, before any case, the only route loaded) among the actor's projects;
    with several and none given, ask which (exit 2)."""
    from casework import vocabulary

    routes = vocabulary.routes(state.engine())
    if workflow_id is None:
        in_use = [r for r in vocabulary.routes_in_use(state.engine()) if who.covers(r)]
        used = in_use or [r for r in routes if who.covers(r)]
        if len(used) == 1:
            return used[0]
        where = "have cases" if in_use else "are loaded"
        every = "" if who.projects else f", or {vocabulary.ALL_ROUTES} for every route"
        fail(f"{len(used)} routes {where}; say which to report on with --workflow "
             f"({', '.join(used)}{every})", 2)
    one_of(workflow_id, [*routes, vocabulary.ALL_ROUTES], "--workflow", "route")
    return workflow_id


def print_table(data: dict[str, Any], labels: Any, title: str) -> None:
    """Print a report as a table for people: Dutch labels and numbers, figures aligned right."""
    from rich.table import Column, Table

    from casework.reports.tables import display_rows, is_figure

    rows = display_rows(data, labels)
    figures = [i > 0 and all(is_figure(row[i]) or not row[i] for row in rows[1:])
               for i in range(len(rows[0]))]
    table = Table(*[Column(header=plain(h), justify="right" if figure else "left")
                    for h, figure in zip(rows[0], figures, strict=True)], title=plain(title))
    for row in rows[1:]:
        table.add_row(*[plain(v) for v in row])
    console().print(table)
