"""Rapporten: the reports of 'casework report NAME' as tables with their charts, and the
council page ('report council') as a download, for the routes the actor may report on.

The choice of report, route, wijk and date travels in the URL (a GET: no person's data), so
a report can be bookmarked; the chart is an image of its own route (the CSP allows images
from this site only, no data URIs), drawn by the core's chart functions."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Blueprint, Response, abort, current_app, g, render_template, request

from casework.web import engine_of

blueprint = Blueprint("reports", __name__)

# The reports in the order of the menu, in Dutch.
REPORT_NAMES = {"outcomes": "Resultaten", "response": "Respons", "referrals": "Verwijzingen",
                "follow-up": "Nabellen", "caseload": "Lopende zaken", "outflow": "Uitstroom",
                "worklist": "Werklijst"}
# matplotlib's pyplot keeps global state: one chart at a time per process.
_DRAWING = threading.Lock()


@dataclass(frozen=True)
class Choice:
    """What the form asked for, checked: the report, the scope, and what went wrong."""

    name: str
    workflow: str
    wijk: str | None
    as_of: date
    problem: str | None = None


def routes_for(engine: Any, actor: Any) -> list[tuple[str, str]]:
    """The routes the actor may report on, as (id, label): their projects, and every route
    together ('all') for someone without projects."""
    from casework import vocabulary

    choices = [(route, engine.registry.get(route).label or route)
               for route in vocabulary.routes(engine) if actor.covers(route)]
    if not actor.projects:
        choices.append((vocabulary.ALL_ROUTES, "alle routes samen"))
    return choices


def _choice(engine: Any, routes: list[tuple[str, str]]) -> Choice:
    """Read and check the form (the query string); a bad value keeps the rest and says why."""
    from casework import vocabulary

    today = engine.now().astimezone(engine.tz).date()
    args = request.args
    in_use = [r for r in vocabulary.routes_in_use(engine) if r in dict(routes)]
    default = in_use[0] if in_use else routes[0][0]
    name = args.get("rapport", "outcomes")
    workflow = args.get("route", default)
    wijk = args.get("wijk", "").strip() or None
    as_of_text = args.get("peildatum", "").strip()
    problem = None
    try:
        as_of = date.fromisoformat(as_of_text) if as_of_text else today
    except ValueError:
        as_of, problem = today, "De peildatum is geen datum; geef hem als dag-maand-jaar."
    if name not in REPORT_NAMES:
        name, problem = "outcomes", "Kies een rapport uit de lijst."
    if workflow not in dict(routes):
        workflow, problem = default, "Kies een route uit de lijst; u ziet alleen uw projecten."
    elif wijk is not None and not vocabulary.has_wijk(engine, wijk, workflow):
        problem = f"Wijk {wijk} komt in deze route niet voor; kies een wijk uit de lijst."
    return Choice(name, workflow, wijk, as_of, problem)


def _allowed() -> Any:
    engine = engine_of(current_app)
    if not g.actor.has("report"):
        abort(404)
    routes = routes_for(engine, g.actor)
    if not routes:
        abort(404)
    return engine, routes


@blueprint.route("/rapporten")
def reports() -> Any:
    """A report as a table (the Dutch table of 'casework report NAME') with its chart."""
    from casework import vocabulary
    from casework.permissions import NotAllowed
    from casework.reports import CHARTS, Scope, run_report
    from casework.reports.scope import report_labels
    from casework.reports.tables import display_rows, is_figure

    engine, routes = _allowed()
    choice = _choice(engine, routes)
    rows: list[list[str]] = []
    if choice.problem is None:
        scope = Scope(choice.as_of, choice.workflow, choice.wijk)
        try:
            data = run_report(engine, g.actor, choice.name, scope)
        except NotAllowed:
            abort(404)
        rows = display_rows(data, report_labels(engine, scope))
    return render_template(
        "reports.html", title="Rapporten", choice=choice, routes=routes, rows=rows,
        figure=is_figure, names=REPORT_NAMES, has_chart=choice.name in CHARTS,
        wijken=vocabulary.wijken(engine, choice.workflow),
        query={"rapport": choice.name, "route": choice.workflow, "wijk": choice.wijk or "",
               "peildatum": choice.as_of.isoformat()},
    ), (400 if choice.problem else 200)


@blueprint.route("/rapporten/grafiek.png")
def chart() -> Any:
    """The chart of a report (outcomes, response, outflow) as a PNG."""
    from casework.permissions import NotAllowed
    from casework.reports import CHARTS, Scope, run_report
    from casework.reports.charts import write_chart

    engine, routes = _allowed()
    choice = _choice(engine, routes)
    if choice.problem or choice.name not in CHARTS:
        abort(404)
    try:
        data = run_report(engine, g.actor, choice.name,
                          Scope(choice.as_of, choice.workflow, choice.wijk))
    except NotAllowed:
        abort(404)
    png = io.BytesIO()
    with _DRAWING:
        write_chart(data, png)
    return Response(png.getvalue(), mimetype="image/png")


@blueprint.route("/rapporten/raad.html")
def council() -> Any:
    """The council page ('casework report council') as a file to save or mail: one HTML
    page with the tables and charts inside it."""
    from casework.permissions import NotAllowed
    from casework.reports import Scope
    from casework.reports.council import council_page

    engine, routes = _allowed()
    choice = _choice(engine, routes)
    if choice.problem:
        abort(404)
    try:
        with _DRAWING:
            html = council_page(engine, g.actor,
                                Scope(choice.as_of, choice.workflow, choice.wijk))
    except NotAllowed:
        abort(404)
    name = f"raadsrapportage-{choice.workflow}-{choice.as_of.isoformat()}.html"
    return Response(html, mimetype="text/html", headers={
        "Content-Disposition": f'attachment; filename="{name}"'})
