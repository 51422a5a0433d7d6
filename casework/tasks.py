"""Work lists and finishing work: calls, deadlines and escalations planned by the routes.

A task is done once: finishing it is a guarded update in the same transaction as whatever it
does to the case (the next round, the outcome's transition, the expiry), so two people marking
the same call cannot both count.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update

from casework.access import log_access
from casework.calendar import shift
from casework.db import total_of, unit_of_work
from casework.durations import parse_duration
from casework.engine import Engine
from casework.errors import CaseworkError, InvalidData, NotFound, OptionRefused
from casework.models import PLANNED, Appointment, Case, Letter, Participant, Task
from casework.people import display_name
from casework.permissions import Actor
from casework.text import shown, unclean
from casework.workflow import task_outcomes

OUTCOMES = ("reached", "not_reached", "wrong_number", "done")
# What came of a task, in words for people (the web front's forms and messages).
OUTCOME_LABELS = {"reached": "bereikt", "not_reached": "niet bereikt",
                  "wrong_number": "verkeerd nummer", "done": "gedaan"}
STATUSES = ("open", "done", "cancelled", "all")
_TASKS = Task.__table__
# The appointment a case has planned (the one a reminder call is about), for the call list.
_PLANNED = (
    select(Appointment.starts_at)
    .where(Appointment.case_id == Task.case_id, Appointment.status == PLANNED)
    .order_by(Appointment.id.desc()).limit(1).correlate(Task).scalar_subquery()
)
# The event a finished task writes to the case's timeline when it moves nothing.
TASK_DONE = "task_done"


@dataclass(frozen=True)
class TaskFilter:
    due: date | None = None
    overdue: bool = False
    kind: str | None = None
    status: str = "open"
    mine: bool = False
    assigned_to: str | None = None  # a worker's name, or '-' for work assigned to no one


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def list_tasks(engine: Engine, actor: Actor, filters: TaskFilter, today: date | None = None,
               limit: int | None = 500) -> dict[str, Any]:
    """Return tasks for people (never the system's own timers), soonest first; logs the read."""
    actor.require("case.read")
    today = today or engine.now().astimezone(engine.tz).date()
    if filters.status not in STATUSES:
        raise InvalidData(f"status {shown(filters.status)} is not one of {', '.join(STATUSES)}")
    conditions = [Task.performer == "staff"]
    if filters.status != "all":
        conditions.append(Task.status == filters.status)
    if filters.due is not None:
        conditions.append(Task.due <= filters.due)
    if filters.overdue:
        conditions.append(Task.due < today)
    if filters.kind:
        conditions.append(Task.kind == filters.kind)
    if filters.assigned_to == "-":
        conditions.append(Task.assigned_to.is_(None))
    elif filters.assigned_to:
        conditions.append(Task.assigned_to == filters.assigned_to)

    scope = actor.case_filter()
    if scope is not None:
        conditions.append(Task.case_id.in_(select(Case.id).where(scope)))
    with unit_of_work(engine) as conn:
        if filters.mine:
            # Mine: assigned to me, or waiting for anyone with one of my roles.
            conditions.append(or_(Task.assigned_to == actor.name,
                                  Task.role.in_(actor.roles) & Task.assigned_to.is_(None)))
        query = (
            select(Task.id, Task.kind, Task.label, Task.due, Task.round, Task.status,
                   Task.attempts, Task.assigned_to, Task.role, Task.case_id, Task.result,
                   Task.spec, Task.done_at, Task.done_by, Task.escalated_at, Case.wijk,
                   Case.state, Participant.initials, Participant.prefix, Participant.surname,
                   Participant.phone, _PLANNED.label("appointment"))
            .join(Case, Case.id == Task.case_id)
            .join(Participant, Participant.id == Case.participant_id)
            .where(*conditions)
            .order_by(Task.due, Task.id)
        )
        if limit is not None:
            query = query.limit(limit)
        rows = conn.execute(query).all()
        total = total_of(len(rows), limit, 0, lambda: conn.execute(
            select(func.count()).select_from(Task).where(*conditions)).scalar_one())
        tasks = [{
            "id": r.id, "kind": r.kind, "label": r.label, "due": r.due.isoformat(),
            "overdue": r.status == "open" and r.due < today, "round": r.round,
            "rounds": (r.spec or {}).get("rounds", 1), "status": r.status,
            "attempts": r.attempts, "assigned_to": r.assigned_to, "role": r.role,
            "case_id": r.case_id, "case_state": r.state, "wijk": r.wijk,
            "name": display_name(r.initials, r.prefix, r.surname), "phone": r.phone,
            "result": r.result, "outcome": (r.result or {}).get("outcome"),
            "note": (r.result or {}).get("note"), "appointment": _iso(r.appointment),
            "done_at": _iso(r.done_at), "done_by": r.done_by,
            "escalated_at": _iso(r.escalated_at),
        } for r in rows]
        if tasks:
            log_access(conn, actor, "task list", sorted({t["case_id"] for t in tasks}),
                       "work list", engine.now())
    return {"total": total, "shown": len(tasks), "tasks": tasks}


def complete_task(engine: Engine, actor: Actor, task_id: int, outcome: str,
                  data: dict[str, Any] | None = None, at: datetime | None = None,
                  letters: bool = True, note: str | None = None) -> dict[str, Any]:
    """Finish a task with its outcome (at a past moment, or now); return what happened (next
    round, case transition). With letters False (history) no letter is queued. What happened
    goes into the case's timeline: the step a reached call's result fires, or else a
    ``task_done`` event with the outcome; ``note`` is kept with both and with the task."""
    actor.require("case.write")
    with unit_of_work(engine) as conn:
        task = conn.execute(select(_TASKS).where(_TASKS.c.id == task_id)).first()
        if task is None:
            raise NotFound(f"no task {task_id}; see 'casework task list'")
        if task.performer != "staff":
            raise InvalidData(f"task {task_id} is a timer the daily run handles, not work for "
                              "a person")
        from casework.permissions import check_cases

        check_cases(conn, actor, [task.case_id], "case.write")
        return finish_task(engine, conn, task, actor, outcome, data, at, letters, note)


def open_task_of(conn: Connection, case_id: int, kind: str) -> Any:
    """Return the case's open task of that kind for people (the one due first), or None."""
    return conn.execute(
        select(_TASKS).where(_TASKS.c.case_id == case_id, _TASKS.c.kind == kind,
                             _TASKS.c.status == "open", _TASKS.c.performer == "staff")
        .order_by(_TASKS.c.due, _TASKS.c.id).limit(1)
    ).first()


def finish_task(engine: Engine, conn: Connection, task: Any, actor: Actor, outcome: str,
                data: dict[str, Any] | None = None, at: datetime | None = None,
                letters: bool = True, note: str | None = None) -> dict[str, Any]:
    """Finish a task row in the caller's transaction (the caller has authorized the actor for
    its case): everything is checked before anything is written, so a refusal leaves the
    transaction as it was."""
    task_id = task.id
    if outcome not in OUTCOMES:
        raise InvalidData(f"outcome {shown(outcome)} is not one of {', '.join(OUTCOMES)}")
    problem = unclean(note or "", multiline=True)
    if problem:
        raise InvalidData(f"--note contains {problem}; remove it",
                          says="De toelichting bevat een teken dat niet in tekst hoort (een "
                               "stuurteken); haal het weg.")
    note = (note or "").strip() or None
    data = dict(data or {})
    if task.status != "open":
        raise InvalidData(f"task {task_id} is already {task.status}; nothing to do",
                          says="Deze taak is al afgerond; er hoeft niets meer.")
    spec: dict[str, Any] = task.spec or {}
    check_outcome(task_id, task.kind, spec, outcome)
    result: dict[str, Any] = {"outcome": outcome}
    report: dict[str, Any] = {"task": task_id, "kind": task.kind, "case_id": task.case_id,
                              "outcome": outcome, "round": task.round,
                              "next_round": None, "transition": None, "letter": None,
                              "to_pull": [], "letter_not_sent": None}
    case = engine.load_case(conn, task.case_id)
    # The moment it was done: checked like a step's --at (not before the case's last event).
    now = engine.now() if at is None else engine.moment(at, case)
    outcomes: dict[str, Any] = spec.get("outcomes") or {}
    trigger: str | None = None
    trigger_data: dict[str, Any] = {}
    if outcome == "reached" and outcomes:
        chosen, trigger, trigger_data = _reached_result(engine, case, task, data)
        result["result"] = chosen
    elif data:
        raise InvalidData(
            f"--set is only for a reached call with outcomes; {task.kind} with outcome "
            f"{outcome} takes no data"
        )
    next_due: date | None = None
    if outcome in ("not_reached", "wrong_number") and not data:
        rounds = int(spec.get("rounds", 1))
        if task.round < rounds:
            next_due = next_round_due(engine, spec, now, task.due)
        elif spec.get("expire"):
            trigger = spec["expire"]
            trigger_data = dict(spec.get("expire_data") or {})
            result["expired"] = True
    if spec.get("repeat") and next_due is None:
        next_due = _next_in_series(engine, spec, now, task.due)
        if next_due is None:
            report["series_ended"] = True
    if note:
        result["note"] = note
    step = None
    why = f"{task.kind} round {task.round}: {outcome}"
    if result.get("result"):
        why += f" ({result['result']})"
    if trigger:
        try:
            step = engine.plan_step(engine.route_of(case), case, trigger, trigger_data, at,
                                    f"{why}; {note}" if note else why,
                                    engine.context(conn), letters)
        except CaseworkError as exc:
            raise InvalidData(f"task {task_id}: {exc}", says=exc.says) from None
    # Claim first: of two people finishing the same task, one gets the rowcount.
    finished = conn.execute(
        update(_TASKS).where(_TASKS.c.id == task_id, _TASKS.c.status == "open")
        .values(status="done", result=result, done_at=now, done_by=actor.name)
    )
    if finished.rowcount != 1:
        raise InvalidData(f"task {task_id} was finished by someone else just now",
                          says="Iemand anders heeft deze taak zojuist afgerond.")
    if next_due is not None:
        conn.execute(insert(_TASKS).values(_next_round_row(task, next_due, now)))
        report["next_round"] = {"round": task.round + 1, "due": next_due.isoformat()}
    if spec.get("letter") and spec.get("on_done") == "cancel" and outcome == "done":
        # No new appointment was proposed by a step: the held letter never goes out.
        conn.execute(update(Letter.__table__).where(
            Letter.__table__.c.id == spec["letter"],
            Letter.__table__.c.status == "held").values(
                status="cancelled", reason=f"{spec.get('reason', 'held')}; "
                                           f"task {task_id} done without a new appointment"))
        report["letter"] = "cancelled"
    elif task.kind == "address_check" and spec.get("letter") and outcome == "done":
        # The address is fixed: the held letter goes back into the queue.
        conn.execute(update(Letter.__table__).where(
            Letter.__table__.c.id == spec["letter"],
            Letter.__table__.c.status == "held").values(status="queued", reason=None))
        report["letter"] = "requeued"
    template = (spec.get("letters") or {}).get(outcome) if letters else None
    if template:
        from casework.mailroom import appointment_too_late

        row = engine.letter_row(engine.route_of(case), case, None, template,
                                {"task_kind": task.kind, "round": task.round})
        # A reminder that would arrive after the appointment is not sent at all.
        late = appointment_too_late(engine, template, row["payload"],
                                    engine.now().astimezone(engine.tz).date())
        if late:
            report["letter_not_sent"] = {"template": template, "reason": late}
        else:
            conn.execute(insert(Letter.__table__).values({**row, "created_at": engine.now()}))
            report["letter"] = template
    if step is not None:
        writer = engine.step_writer(conn)
        writer.add(step, actor.name, case)
        writer.flush()
        report["transition"] = {"trigger": step.trigger, "from": step.source, "to": step.dest,
                                "closed": step.closed, "close_reason": step.close_reason}
        report["to_pull"] = step.to_pull
    else:
        engine.record_event(conn, case, actor, TASK_DONE, _done_event(task, result, report),
                            note, at=at)
    log_access(conn, actor, "task done", [task.case_id], f"task {task.kind}", engine.now())
    report["note"] = note
    return report


def _done_event(task: Any, result: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """Return the data of the timeline event of a finished task that moved nothing."""
    data: dict[str, Any] = {"task": task.id, "kind": task.kind, "round": task.round,
                            "outcome": result["outcome"]}
    if task.label:
        data["label"] = task.label
    if report["letter"]:
        data["letter"] = report["letter"]
    if report.get("letter_not_sent"):
        data["letter_not_sent"] = report["letter_not_sent"]["template"]
    if report["next_round"]:
        data["next_round_due"] = report["next_round"]["due"]
    return data


def _reached_result(engine: Engine, case: Any, task: Any, data: dict[str, Any]
                    ) -> tuple[str, str, dict[str, Any]]:
    """Return the result of a reached call (--set result=...), the trigger it fires and that
    trigger's data; InvalidData naming the allowed results, or the data the step needs."""
    outcomes: dict[str, Any] = (task.spec or {}).get("outcomes") or {}
    route = engine.route_of(case)
    allowed = ", ".join(_in_route_order(route, task.kind, list(outcomes)))
    chosen = data.pop("result", None)
    if chosen is None:
        raise InvalidData(f"a reached {task.kind} needs --set result=... : one of {allowed}",
                          says="Kies bij 'bereikt' het resultaat van het gesprek.")
    if not isinstance(chosen, str) or chosen.strip() not in outcomes:
        close = difflib.get_close_matches(str(chosen).strip(), list(outcomes), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise InvalidData(f"result {shown(chosen)} is not a result of {task.kind}; {hint}"
                          f"use one of {allowed}",
                          says=f"{shown(chosen)} is geen resultaat van deze taak.")
    chosen = chosen.strip()
    trigger: str = outcomes[chosen]["trigger"]
    trigger_data = {**outcomes[chosen].get("data", {}), **data}
    transition = route.transition(trigger, case.state)
    if transition is not None:
        missing = [name for name in transition.needs if name not in trigger_data]
        if missing:
            wanted = "; ".join(f"--set {name}=... ({route.fields[name].describe()})"
                               if name in route.fields else f"--set {name}=..."
                               for name in missing)
            labels = ", ".join(f"'{route.fields[name].shown_label()}'" if name in route.fields
                               else f"'{name}'" for name in missing)
            raise InvalidData(f"result {chosen} needs {wanted}",
                              says=f"Dit resultaat vraagt ook {labels}; leg de stap vast met "
                                   "het formulier van die stap.")
    return chosen, trigger, trigger_data


def _in_route_order(route: Any, kind: str, names: list[str]) -> list[str]:
    """Return a task's result names in the order its route lists them (a JSON column on
    PostgreSQL keeps its keys in an order of its own)."""
    for state in route.states.values():
        for spec in state.tasks:
            if spec.kind == kind and set(spec.outcomes) == set(names):
                return list(spec.outcomes)
    return sorted(names)


def _next_in_series(engine: Engine, spec: dict[str, Any], now: datetime,
                    due: date) -> date | None:
    """Return when recurring work is next due, or None when the series has run its time."""
    following = shift(max(now.astimezone(engine.tz).date(), due),
                      parse_duration(spec["repeat"]), True, spec.get("calendar") == "workdays")
    if not spec.get("until") or following <= date.fromisoformat(spec["until"]):
        return following
    return None


def check_outcome(task_id: int, kind: str, spec: dict[str, Any], outcome: str) -> None:
    """Refuse an outcome the task does not have (a report is done, a call reached or not),
    naming the ones it has; ``task done`` and the lines of an apply file both come here."""
    allowed = task_outcomes(kind, spec)
    if outcome not in allowed:
        raise OptionRefused(f"task {task_id} ({kind}) cannot be finished as {shown(outcome)}; "
                            f"its outcomes: {', '.join(allowed)}",
                            says=f"Deze taak kent de uitkomst "
                                 f"{OUTCOME_LABELS.get(outcome, shown(outcome))} niet; wel: "
                                 + ", ".join(OUTCOME_LABELS.get(o, o) for o in allowed) + ".")


def next_round_due(engine: Engine, spec: dict[str, Any], now: datetime, due: date) -> date:
    """Return when the next round of a call is due: 'every' after this round's due date, or
    after today when this round was done late."""
    base = max(now.astimezone(engine.tz).date(), due)
    every = parse_duration(spec.get("every") or "P1D")
    return shift(base, every, True, spec.get("calendar") == "workdays")


def _next_round_row(task: Any, due: date, now: datetime) -> dict[str, Any]:
    return {
        "key": f"{task.case_id}:{task.origin_seq}:{task.kind}:{task.round + 1}",
        "case_id": task.case_id, "kind": task.kind, "due": due, "round": task.round + 1,
        "status": "open", "attempts": 0, "assigned_to": task.assigned_to, "result": None,
        "created_at": now, "done_at": None, "performer": task.performer, "scope": task.scope,
        "role": task.role, "label": task.label, "spec": task.spec,
        "origin_seq": task.origin_seq, "last_error": None, "escalate_to": task.escalate_to,
        "escalated_at": None, "done_by": None,
    }


def escalation_scope(scope: str) -> str:
    """Return the scope of the chase of late work of this scope: late work owed to the person
    stays late after the case closes, and so does its chase; other chases end on closing."""
    return "person" if scope == "person" else "case"


def escalation_row(task: Any, run_date: date, now: datetime) -> dict[str, Any]:
    """Return the coordinator's task for an overdue task (one per task, by its key)."""
    what = task.label or task.kind
    return {
        "key": f"escalation:{task.id}", "case_id": task.case_id, "kind": "escalation",
        "due": run_date, "round": 1, "status": "open", "attempts": 0, "assigned_to": None,
        "result": None, "created_at": now, "done_at": None, "performer": "staff",
        "scope": escalation_scope(task.scope), "role": task.escalate_to,
        "label": f"Over tijd: {what} (taak {task.id}, zaak {task.case_id})",
        "spec": {"about_task": task.id, "about_kind": task.kind, "rounds": 1},
        "origin_seq": task.origin_seq, "last_error": None, "escalate_to": None,
        "escalated_at": None, "done_by": None,
    }
