"""The council report page: one self-contained HTML file with the tables and the charts."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from casework.display import dutch_date, euro, month_label, number, percent
from casework.engine import Engine
from casework.outfiles import write_output
from casework.permissions import Actor
from casework.reports.charts import outcomes_chart, outflow_chart, response_chart
from casework.reports.outflow import outflow
from casework.reports.route import follow_up, outcomes, referrals, response
from casework.reports.scope import Scope, partner_labels
from casework.reports.tables import (
    FOLLOW_UP_LABELS,
    OUTCOME_LABELS,
    REFERRAL_COLUMNS,
    RESPONSE_COLUMNS,
    VARIANT_LABELS,
)


def _png(draw: Any, report: dict[str, Any]) -> str:
    buffer = io.BytesIO()
    draw(report, buffer)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def council_report(engine: Engine, scope: Scope) -> dict[str, Any]:
    """Return the reports the council page shows (outflow for the as-of year)."""
    return {
        "outcomes": outcomes(engine, scope),
        "response": response(engine, scope),
        "referrals": referrals(engine, scope),
        "follow_up": follow_up(engine, scope),
        "outflow": outflow(engine, scope),
    }


def council_html(engine: Engine, scope: Scope) -> str:
    """Return the council page as HTML with the charts embedded (nothing is fetched)."""
    data = council_report(engine, scope)
    env = Environment(loader=PackageLoader("casework.reports", "."),
                      autoescape=select_autoescape(["html", "j2"], default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["euro"] = euro
    env.filters["month"] = month_label
    env.filters["number"] = number
    env.filters["percent"] = percent
    label = (scope.workflow if scope.workflow == "all"
             else engine.registry.get(scope.workflow).label)
    return env.get_template("council.html.j2").render(
        **data, scope=scope, route_label=label,
        organisation=engine.settings["organisation.name"],
        as_of=dutch_date(scope.as_of),
        made=dutch_date(engine.now().astimezone(engine.tz).date()),
        outcome_labels=OUTCOME_LABELS, response_columns=RESPONSE_COLUMNS,
        referral_columns=REFERRAL_COLUMNS, follow_up_labels=FOLLOW_UP_LABELS,
        variant_labels=VARIANT_LABELS, partner_labels=partner_labels(engine, scope),
        charts={"outcomes": _png(outcomes_chart, data["outcomes"]),
                "response": _png(response_chart, data["response"]),
                "outflow": _png(outflow_chart, data["outflow"])},
    )


def council_page(engine: Engine, actor: Actor, scope: Scope) -> str:
    """Return the council page for someone who may report on the scope's route."""
    actor.require_route("report", scope.workflow)
    return council_html(engine, scope)


def write_council(engine: Engine, actor: Actor, scope: Scope, out: Path) -> Path:
    """Write the council page; return the path."""
    write_output(out, council_page(engine, actor, scope))
    return out
