"""Reports for the team: open cases per worker and state, and the work list, as of a date."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import String, and_, cast, func, literal, or_, select

from casework.engine import Engine
from casework.models import Case, Event, Participant, Task
from casework.reports.scope import (
    Scope,
    case_conditions,
    check,
    count_if,
    end_of,
    final_states,
    persons_if,
)

UNASSIGNED = "-"
YOUNG_AGE = 27


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def caseload(engine: Engine, scope: Scope) -> dict[str, Any]:
    """Open cases as of the date per worker and state (state and worker rebuilt from the
    events), the people in them by age group (under 27) and the flags tracked on them."""
    check(engine, scope)
    end = end_of(engine, scope.as_of)
    scoped = [Event.at < end, *case_conditions(scope)]
    last = (select(Event.case_id, func.max(Event.seq).label("seq"))
            .join(Case, Case.id == Event.case_id).where(*scoped)
            .group_by(Event.case_id).subquery())
    last_assign = (select(Event.case_id, func.max(Event.seq).label("seq"))
                   .join(Case, Case.id == Event.case_id)
                   .where(*scoped, Event.trigger == "assign")
                   .group_by(Event.case_id).subquery())
    state_event = Event.__table__.alias()
    assign_event = Event.__table__.alias()
    open_cases = (
        select(
            Case.id.label("case_id"), Case.participant_id.label("person"),
            state_event.c.to_state.label("state"),
            func.coalesce(assign_event.c.data["assigned_to"].as_string(),
                          cast(literal(UNASSIGNED), String)).label("worker"),
            Participant.birth_date.label("birth_date"), Participant.flag.label("flag"),
            Participant.wij_team_contact.label("wij_team_contact"),
            Case.excluded.label("excluded"),
        )
        .join(last, last.c.case_id == Case.id)
        .join(state_event, and_(state_event.c.case_id == Case.id,
                                state_event.c.seq == last.c.seq))
        .outerjoin(last_assign, last_assign.c.case_id == Case.id)
        .outerjoin(assign_event, and_(assign_event.c.case_id == Case.id,
                                      assign_event.c.seq == last_assign.c.seq))
        .join(Participant, Participant.id == Case.participant_id)
        .where(state_event.c.to_state.not_in(final_states(engine, scope)))
        .subquery()
    )
    o = open_cases.c
    cutoff = _years_before(scope.as_of, YOUNG_AGE)
    per_worker_state = (select(o.worker, o.state, func.count().label("cases"))
                        .group_by(o.worker, o.state).order_by(o.worker, o.state))
    people = select(
        persons_if(literal(True), o.person).label("persons"),
        persons_if(o.birth_date > cutoff, o.person).label("under_27"),
        persons_if(o.birth_date <= cutoff, o.person).label("aged_27_and_over"),
        persons_if(o.birth_date.is_(None), o.person).label("age_unknown"),
        persons_if(o.flag == "moved", o.person).label("moved"),
        persons_if(o.flag == "deceased", o.person).label("deceased"),
        persons_if(o.wij_team_contact.is_(True), o.person).label("wij_team_contact"),
        persons_if(o.excluded.is_not(None), o.person).label("excluded"),
    )
    with engine.db.connect() as conn:
        workers: dict[str, dict[str, Any]] = {}
        for r in conn.execute(per_worker_state):
            row = workers.setdefault(r.worker, {"worker": r.worker, "open": 0, "per_state": {}})
            row["per_state"][r.state] = int(r.cases)
            row["open"] += int(r.cases)
        counts = conn.execute(people).one()
    return {
        "report": "caseload", **scope.as_dict(),
        "open": sum(w["open"] for w in workers.values()),
        "persons": int(counts.persons),
        "per_worker": list(workers.values()),
        "age_groups": {"under_27": int(counts.under_27),
                       "27_and_over": int(counts.aged_27_and_over),
                       "unknown": int(counts.age_unknown)},
        "flags": {key: int(getattr(counts, key))
                  for key in ("moved", "deceased", "wij_team_contact", "excluded")},
    }


def worklist(engine: Engine, scope: Scope) -> dict[str, Any]:
    """Open and overdue tasks for people as of the date, per worker (or role) and kind."""
    check(engine, scope)
    end = end_of(engine, scope.as_of)
    open_then = and_(Task.created_at < end,
                     or_(Task.status == "open", Task.done_at >= end))
    worker = func.coalesce(Task.assigned_to, Task.role, cast(literal(UNASSIGNED), String))
    query = (
        select(worker.label("worker"), Task.kind.label("kind"),
               func.count().label("open"), count_if(Task.due < scope.as_of).label("overdue"),
               func.min(Task.due).label("oldest_due"))
        .join(Case, Case.id == Task.case_id)
        .where(open_then, Task.performer == "staff", *case_conditions(scope))
        .group_by(worker, Task.kind).order_by(worker, Task.kind)
    )
    with engine.db.connect() as conn:
        rows = [{"worker": r.worker, "kind": r.kind, "open": int(r.open),
                 "overdue": int(r.overdue),
                 "oldest_due": r.oldest_due.isoformat() if r.oldest_due else None}
                for r in conn.execute(query)]
    return {"report": "worklist", **scope.as_dict(), "per_worker": rows,
            "open": sum(r["open"] for r in rows), "overdue": sum(r["overdue"] for r in rows)}


__all__ = ["caseload", "worklist"]
