"""Reports for the council and the team, counted from case data as of a date."""

from __future__ import annotations

from typing import Any

from casework.engine import Engine
from casework.errors import InvalidData
from casework.permissions import Actor
from casework.reports.charts import CHARTS, outcomes_chart, outflow_chart, response_chart
from casework.reports.outflow import outflow
from casework.reports.route import follow_up, outcomes, referrals, response
from casework.reports.scope import ALL_ROUTES, Scope
from casework.reports.tables import table_rows
from casework.reports.team import caseload, worklist

REPORTS = ("outcomes", "response", "referrals", "follow-up", "caseload", "outflow", "worklist")


def run_report(engine: Engine, actor: Actor, name: str, scope: Scope,
               year: int | None = None) -> dict[str, Any]:
    """Return the named report for the scope (``year`` is for outflow): counts, no case."""
    actor.require_route("report", scope.workflow)
    if name == "outflow":
        return outflow(engine, scope, year)
    reports = {"outcomes": outcomes, "response": response, "referrals": referrals,
               "follow-up": follow_up, "caseload": caseload, "worklist": worklist}
    if name not in reports:
        raise InvalidData(f"no report {name!r}; reports: {', '.join(REPORTS)}")
    return reports[name](engine, scope)


__all__ = [
    "ALL_ROUTES",
    "CHARTS",
    "REPORTS",
    "Scope",
    "caseload",
    "follow_up",
    "outcomes",
    "outcomes_chart",
    "outflow",
    "outflow_chart",
    "referrals",
    "response",
    "response_chart",
    "run_report",
    "table_rows",
    "worklist",
]
