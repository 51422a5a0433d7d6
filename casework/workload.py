"""Werkverdeling: how the cases a coordinator may assign are spread over the workers (open
cases, work for people due today and overdue, per worker) and the waves with open cases.

Counts only, like the reports: no person is shown, so nothing is written to the processing
log; the lists behind a count are ``case list --assigned W --open`` and ``task list
--assigned W --due TODAY``, which log what they show."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select

from casework.engine import Engine
from casework.models import Case, Task
from casework.permissions import Actor
from casework.reports.scope import count_if
from casework.vocabulary import UNASSIGNED


def workload(engine: Engine, actor: Actor, today: date | None = None) -> dict[str, Any]:
    """Return per worker ('-': no one) the open cases and the open work for people due
    today and overdue, of the cases the actor may assign; workers by name, no one last."""
    actor.require("case.assign")
    today = today or engine.now().astimezone(engine.tz).date()
    scope = actor.case_filter("case.assign")
    in_scope = [scope] if scope is not None else []
    cases = (select(Case.assigned_to, func.count())
             .where(Case.closed_at.is_(None), *in_scope).group_by(Case.assigned_to))
    tasks = (select(Task.assigned_to, count_if(Task.due == today), count_if(Task.due < today))
             .join(Case, Case.id == Task.case_id)
             .where(Task.status == "open", Task.performer == "staff", Task.due <= today,
                    *in_scope)
             .group_by(Task.assigned_to))
    rows: dict[str, dict[str, Any]] = {}

    def row(worker: str | None) -> dict[str, Any]:
        name = worker or UNASSIGNED
        return rows.setdefault(name, {"worker": name, "open_cases": 0, "due_today": 0,
                                      "overdue": 0})

    with engine.db.connect() as conn:
        for worker, count in conn.execute(cases):
            row(worker)["open_cases"] = int(count)
        for worker, due_today, overdue in conn.execute(tasks):
            entry = row(worker)
            entry["due_today"], entry["overdue"] = int(due_today), int(overdue)
    ordered = sorted(rows.values(), key=lambda r: (r["worker"] == UNASSIGNED, r["worker"]))
    return {"date": today.isoformat(), "workers": ordered,
            **{key: sum(r[key] for r in ordered) for key in ("open_cases", "due_today",
                                                              "overdue")}}


def open_waves(engine: Engine, actor: Actor) -> list[dict[str, Any]]:
    """Return the waves with open cases the actor may assign (route, wijk, wave), with their
    open cases and how many of them no one has yet; newest wave first per wijk."""
    actor.require("case.assign")
    scope = actor.case_filter("case.assign")
    query = (select(Case.workflow_id, Case.wijk, Case.wave, func.count(),
                    count_if(Case.assigned_to.is_(None)))
             .where(Case.wave.is_not(None), Case.closed_at.is_(None),
                    *([scope] if scope is not None else []))
             .group_by(Case.workflow_id, Case.wijk, Case.wave)
             .order_by(Case.workflow_id, Case.wijk, Case.wave.desc()))
    with engine.db.connect() as conn:
        return [{"workflow": workflow, "wijk": wijk, "wave": wave, "open_cases": int(count),
                 "unassigned": int(unassigned)}
                for workflow, wijk, wave, count, unassigned in conn.execute(query)]
