"""Reading and managing cases: list, show (with the timeline), triggers, assign, open."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update

from casework.access import log_access
from casework.db import total_of, unit_of_work
from casework.engine import CASE_COLUMNS, CaseSnapshot, Engine
from casework.errors import InvalidData, NotFound, no_case
from casework.models import (
    PERSON_FLAGS,
    Appointment,
    Case,
    Employer,
    Event,
    Letter,
    Match,
    Participant,
    Referral,
    Staff,
    Task,
)
from casework.people import display_name, person_dict
from casework.permissions import Actor, load_actor
from casework.text import shown, unclean
from casework.workflow import task_outcomes


@dataclass(frozen=True)
class CaseFilter:
    state: str | None = None
    wijk: str | None = None
    workflow: str | None = None
    assigned_to: str | None = None
    open_only: bool = False


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def list_cases(engine: Engine, actor: Actor, filters: CaseFilter, limit: int | None = 100,
               offset: int = 0) -> dict[str, Any]:
    """Return matching cases (newest first within id order) and the total; logs the listing.
    Back office lists the cases of its projects too (for planning and letters)."""
    actor.require("case.list")
    conditions = []
    if filters.state:
        conditions.append(Case.state == filters.state)
    if filters.wijk:
        conditions.append(Case.wijk == filters.wijk)
    if filters.workflow:
        conditions.append(Case.workflow_id == filters.workflow)
    if filters.assigned_to == "-":
        conditions.append(Case.assigned_to.is_(None))
    elif filters.assigned_to:
        conditions.append(Case.assigned_to == filters.assigned_to)
    if filters.open_only:
        conditions.append(Case.closed_at.is_(None))

    scope = actor.case_filter("case.list")
    if scope is not None:
        conditions.append(scope)
    query = (
        select(Case.id, Case.workflow_id, Case.workflow_version, Case.state, Case.wijk,
               Case.assigned_to, Case.state_entered_at, Case.closed_at, Case.close_reason,
               Participant.initials, Participant.prefix, Participant.surname)
        .join(Participant, Participant.id == Case.participant_id)
        .where(*conditions).order_by(Case.id).offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    with unit_of_work(engine) as conn:
        rows = conn.execute(query).all()
        total = total_of(len(rows), limit, offset, lambda: conn.execute(
            select(func.count()).select_from(Case).where(*conditions)).scalar_one())
        cases = [{
            "id": r.id, "workflow": r.workflow_id, "workflow_version": r.workflow_version,
            "state": r.state, "wijk": r.wijk, "assigned_to": r.assigned_to,
            "name": display_name(r.initials, r.prefix, r.surname),
            "state_entered_at": _iso(r.state_entered_at), "closed_at": _iso(r.closed_at),
            "close_reason": r.close_reason,
        } for r in rows]
        if cases:
            log_access(conn, actor, "list", [c["id"] for c in cases],
                       _purpose({c["workflow"] for c in cases}), engine.now())
    return {"total": total, "shown": len(cases), "offset": offset, "cases": cases}


def _purpose(workflows: set[str]) -> str:
    return "project " + ", ".join(sorted(workflows))


def show_case(engine: Engine, actor: Actor, case_id: int) -> dict[str, Any]:
    """Return a case with its person, data, appointments, referrals, letters and timeline;
    logs the read."""
    actor.require("case.read")
    with unit_of_work(engine) as conn:
        return _show_case(conn, engine, actor, case_id)[0]


def case_page(engine: Engine, actor: Actor, case_id: int,
              triggers: bool = False) -> dict[str, Any]:
    """What the web front's case page shows, read in one transaction: ``case`` (as
    ``show_case``), ``consents`` (as ``list_consents``) and, when asked, ``triggers`` (as
    ``case_triggers``, of an open case; else None), each logged as its own command logs
    it."""
    from casework.consents import consents_of

    actor.require("case.read")
    with unit_of_work(engine) as conn:
        case, row = _show_case(conn, engine, actor, case_id)
        snapshot = CaseSnapshot.from_row([getattr(row, column.name) for column in CASE_COLUMNS])
        return {"case": case, "consents": consents_of(conn, engine, actor, snapshot),
                "triggers": _case_triggers(conn, engine, actor, snapshot)
                if triggers and row.closed_at is None else None}


def _show_case(conn: Any, engine: Engine, actor: Actor,
               case_id: int) -> tuple[dict[str, Any], Any]:
    """The case file and the case's row, logged as 'show'."""
    case = conn.execute(select(Case.__table__).where(Case.id == case_id)).first()
    if case is None:
        raise NotFound(f"{no_case(case_id)}; find cases with 'casework case list'")
    from casework.permissions import check_cases

    check_cases(conn, actor, [case_id], "case.read", loaded=[case])
    person = conn.execute(select(Participant.__table__)
                          .where(Participant.id == case.participant_id)).one()
    events = conn.execute(
        select(Event.__table__).where(Event.case_id == case_id).order_by(Event.seq)
    ).all()
    appointments = conn.execute(
        select(Appointment.__table__).where(Appointment.case_id == case_id)
        .order_by(Appointment.id)
    ).all()
    referrals = conn.execute(
        select(Referral.__table__).where(Referral.case_id == case_id).order_by(Referral.id)
    ).all()
    tasks = conn.execute(
        select(Task.__table__).where(Task.case_id == case_id).order_by(Task.due, Task.id)
    ).all()
    from casework.meetings import meetings_of_case

    meetings = meetings_of_case(conn, case_id)
    matches = conn.execute(
        select(Match.__table__, Employer.name.label("employer"))
        .join(Employer, Employer.id == Match.employer_id)
        .where(Match.case_id == case_id).order_by(Match.id)
    ).all()
    letters = conn.execute(
        select(Letter.id, Letter.template, Letter.variant, Letter.status, Letter.partner,
               Letter.created_at, Letter.sent_at, Letter.returned_at, Letter.reason)
        .where(Letter.case_id == case_id).order_by(Letter.id)
    ).all()
    log_access(conn, actor, "show", [case_id], _purpose({case.workflow_id}),
               engine.now())
    return {
        "id": case.id,
        "workflow": case.workflow_id,
        "workflow_version": case.workflow_version,
        "state": case.state,
        "state_entered_at": _iso(case.state_entered_at),
        "wijk": case.wijk,
        "wave": case.wave,
        "assigned_to": case.assigned_to,
        "opened_at": _iso(case.opened_at),
        "closed_at": _iso(case.closed_at),
        "close_reason": case.close_reason,
        "excluded": case.excluded,
        "version": case.version,
        "data": case.data,
        "person": person_dict(person),
        "appointments": [
            {"starts_at": _iso(a.starts_at), "location": a.location, "status": a.status,
             "specialist": a.specialist}
            for a in appointments
        ],
        "referrals": [
            {"partner": r.partner, "status": r.status, "outcome": r.outcome,
             "referred_at": _iso(r.referred_at)}
            for r in referrals
        ],
        "tasks": [_task_dict(t) for t in tasks],
        "meetings": meetings,
        "matches": [
            {"employer": m.employer, "job": m.job, "hours_per_week": m.hours_per_week,
             "fte": m.fte, "matched_at": _iso(m.matched_at)}
            for m in matches
        ],
        "letters": [
            {"id": r.id, "template": r.template, "variant": r.variant, "status": r.status,
             "partner": r.partner, "created_at": _iso(r.created_at),
             "sent_at": _iso(r.sent_at), "returned_at": _iso(r.returned_at),
             "reason": r.reason}
            for r in letters
        ],
        "timeline": [
            {"seq": e.seq, "at": _iso(e.at), "recorded_at": _iso(e.recorded_at),
             "actor": e.actor, "trigger": e.trigger, "from": e.from_state, "to": e.to_state,
             "data": e.data, "note": e.note, "reason": e.reason}
            for e in events
        ],
    }, case


def _task_dict(task: Any) -> dict[str, Any]:
    """Return a task of the case file: the work, and for finished work what came of it."""
    result = task.result or {}
    return {
        "id": task.id, "kind": task.kind, "label": task.label, "due": task.due.isoformat(),
        "round": task.round, "rounds": (task.spec or {}).get("rounds", 1),
        "status": task.status, "by": task.performer, "assigned_to": task.assigned_to,
        "role": task.role, "outcome": result.get("outcome"), "result": result.get("result"),
        "note": result.get("note"), "done_at": _iso(task.done_at), "done_by": task.done_by,
        # How it can be finished (task done --outcome) and the results a reached call
        # records (--set result=...), as the route planned it.
        "outcomes": list(task_outcomes(task.kind, task.spec or {})),
        "results": list((task.spec or {}).get("outcomes") or {}),
    }


def case_triggers(engine: Engine, actor: Actor, case_id: int) -> dict[str, Any]:
    """Return every trigger of the case's route: whether it can happen now, or why not."""
    actor.require("case.read")
    with unit_of_work(engine) as conn:
        case = engine.load_case_for(conn, case_id, actor, "case.read")
        return _case_triggers(conn, engine, actor, case)


def _case_triggers(conn: Any, engine: Engine, actor: Actor, case: Any) -> dict[str, Any]:
    log_access(conn, actor, "triggers", [case.id], _purpose({case.workflow_id}), engine.now())
    route = engine.route_of(case)
    ctx = engine.context(conn)
    reasons = {trigger: engine.why_blocked(route, case, trigger, ctx)
               for trigger in route.triggers}
    result = []
    for trigger in route.triggers:
        why = reasons[trigger]
        transition = route.transition(trigger, case.state)
        entry: dict[str, Any] = {
            "trigger": trigger, "possible": why is None, "reason": why and why[0],
            "reason_nl": why and why[1],
            "dest": transition.dest if transition else None,
            "needs": list(transition.needs) if transition else [],
            "accepts": list(transition.accepts) if transition else [],
        }
        if transition:
            entry["fields"] = {
                name: route.fields[name].describe() for name in transition.fields
            }
        result.append(entry)
    return {"id": case.id, "workflow": case.workflow_id, "state": case.state,
            "triggers": result}


def assign_case(engine: Engine, actor: Actor, case_id: int, worker: str,
                at: datetime | None = None) -> dict[str, Any]:
    """Assign a case to an active staff member; the change is an event in the timeline
    (dated at, a past moment, or now)."""
    actor.require("case.assign")
    with unit_of_work(engine) as conn:
        holder = _assignee(conn, worker)
        case = engine.load_case_for(conn, case_id, actor, "case.assign")
        _check_holds(holder, case.workflow_id, f"case {case_id}")
        previous = conn.execute(select(Case.assigned_to).where(Case.id == case_id)).scalar_one()
        _assign(conn, engine, actor, case, worker, previous, at)
        log_access(conn, actor, "assign", [case_id], _purpose({case.workflow_id}), engine.now())
    return {"id": case_id, "assigned_to": worker, "previous": previous}


MAX_SELECTION = 500  # the most cases one assignment of a selection names


def assign_cases(engine: Engine, actor: Actor, case_ids: Sequence[int], worker: str,
                 at: datetime | None = None) -> dict[str, Any]:
    """Assign a selection of cases to an active staff member, all or none: each case the
    actor may assign and the worker may hold, or nothing changes (a case the actor may not
    see is refused as one that does not exist). A case the worker already has is left as it
    is; each other one gets an event in its timeline and its open work moves along."""
    actor.require("case.assign")
    ids = list(dict.fromkeys(case_ids))
    if not ids:
        raise InvalidData("name at least one case to assign", says="Kies minstens één zaak.")
    if len(ids) > MAX_SELECTION:
        raise InvalidData(f"{len(ids)} cases is more than one assignment takes "
                          f"({MAX_SELECTION}); assign them in parts, or a wave with --wave",
                          says=f"Kies hoogstens {MAX_SELECTION} zaken tegelijk.")
    with unit_of_work(engine) as conn:
        holder = _assignee(conn, worker)
        cases = [engine.load_case_for(conn, case_id, actor, "case.assign") for case_id in ids]
        for case in cases:
            _check_holds(holder, case.workflow_id, f"case {case.id}")
        holders = dict(conn.execute(select(Case.id, Case.assigned_to)
                                    .where(Case.id.in_(ids))).all())
        previous: dict[str, int] = {}
        assigned: list[int] = []
        for case in cases:
            was = holders[case.id]
            if was == worker:
                continue
            _assign(conn, engine, actor, case, worker, was, at)
            previous[was or "-"] = previous.get(was or "-", 0) + 1
            assigned.append(case.id)
        if assigned:
            log_access(conn, actor, "assign", assigned,
                       _purpose({c.workflow_id for c in cases}), engine.now())
    return {"assigned_to": worker, "cases": len(ids), "assigned": len(assigned),
            "already_assigned": len(ids) - len(assigned), "previous": previous,
            "case_ids": assigned}


def _assign(conn: Any, engine: Engine, actor: Actor, case: Any, worker: str,
            previous: str | None, at: datetime | None) -> None:
    """Give one loaded case to a worker: the event in its timeline, and its open work."""
    engine.record_event(conn, case, actor, "assign",
                        {"assigned_to": worker, "previous": previous}, at=at,
                        assigned_to=worker)
    # Open work for people on the case follows it to the new worker.
    _move_open_work(conn, case.id, worker)


def _assignee(conn: Any, worker: str) -> Actor:
    """Return the rights of the staff member cases are assigned to: known and active."""
    staff = conn.execute(select(Staff.active).where(Staff.name == worker)).first()
    if staff is None:
        raise NotFound(
            f"no staff member '{worker}'; add them with "
            f"'casework staff add {worker} --role case_worker'",
            says=f"Er is geen medewerker {shown(worker)}."
        )
    if not staff.active:
        raise InvalidData(f"staff member '{worker}' is disabled; assign someone else",
                          says=f"{worker} werkt niet meer met casework (uitgeschakeld); kies "
                               "iemand anders.")
    return load_actor(conn, worker)


def _check_holds(holder: Actor, workflow_id: str, what: str) -> None:
    """Refuse to assign cases of a route to someone who could not see them: only a case
    worker (being assigned lets them see the case) or a coordinator of the route."""
    if not holder.may_hold(workflow_id):
        raise InvalidData(
            f"{holder.name} ({holder.describe()}) cannot be assigned {what}: they could not "
            f"see it; assign a case worker or a coordinator of {workflow_id}, or ask an admin "
            f"to give them that role ('casework staff edit {holder.name} --role ...')",
            says=f"{holder.name} kan deze zaken niet zien en kan ze dus niet krijgen; kies "
                 "iemand die aan zaken werkt of een coördinator van deze route.")


def assign_wave(engine: Engine, actor: Actor, wave: int, wijk: str, worker: str,
                workflow_id: str | None = None, at: datetime | None = None) -> dict[str, Any]:
    """Assign every open case of a wave in a wijk (that the actor may see) to a worker, each
    an event in its timeline (dated at, a past moment, or now); return the counts."""
    actor.require("case.assign")
    if workflow_id is not None:
        workflow_id = engine.registry.get(workflow_id).id
    with unit_of_work(engine) as conn:
        holder = _assignee(conn, worker)
        conditions = [Case.wave == wave, Case.wijk == wijk, Case.closed_at.is_(None)]
        if workflow_id is not None:
            conditions.append(Case.workflow_id == workflow_id)
        scope = actor.case_filter("case.assign")
        if scope is not None:
            conditions.append(scope)
        rows = conn.execute(select(Case.id, Case.workflow_id, Case.assigned_to)
                            .where(*conditions).order_by(Case.id)).all()
        routes = sorted({r.workflow_id for r in rows})
        if not rows:
            raise InvalidData(_no_wave(conn, actor, wave, wijk, workflow_id),
                              says=f"Golf {wave} in {shown(wijk)} heeft geen open zaken (meer) "
                                   "die u mag toewijzen.")
        if len(routes) > 1:
            raise InvalidData(f"wave {wave} in {shown(wijk)} is a wave of more than one route "
                              f"({', '.join(routes)}); say which with --workflow")
        _check_holds(holder, routes[0], f"the cases of {routes[0]}")
        previous: dict[str, int] = {}
        assigned: list[int] = []
        for row in rows:
            if row.assigned_to == worker:
                continue
            case = engine.load_case_for(conn, row.id, actor, "case.assign")
            _assign(conn, engine, actor, case, worker, row.assigned_to, at)
            previous[row.assigned_to or "-"] = previous.get(row.assigned_to or "-", 0) + 1
            assigned.append(row.id)
        if assigned:
            log_access(conn, actor, "assign", assigned, _purpose({routes[0]}), engine.now())
    return {"workflow": routes[0], "wave": wave, "wijk": wijk, "assigned_to": worker,
            "open_cases": len(rows), "assigned": len(assigned),
            "already_assigned": len(rows) - len(assigned), "previous": previous,
            "case_ids": assigned}


def _no_wave(conn: Any, access: Actor, wave: int, wijk: str,
             workflow_id: str | None) -> str:
    """Say that a wave has no open cases the actor may see, and which waves the wijk has."""
    conditions = [Case.wijk == wijk, Case.wave.is_not(None), Case.closed_at.is_(None)]
    if workflow_id is not None:
        conditions.append(Case.workflow_id == workflow_id)
    scope = access.case_filter("case.assign")
    if scope is not None:
        conditions.append(scope)
    waves = sorted({w for (w,) in conn.execute(select(Case.wave).where(*conditions)
                                               .distinct()).all()})
    known = ", ".join(str(w) for w in waves) if waves else "none"
    return (f"no open cases of wave {wave} in wijk {shown(wijk)} that you may assign "
            f"(waves with open cases there: {known})")


def _move_open_work(conn: Any, case_id: int, worker: str) -> None:
    """Move the open work for people on a case to its new worker."""
    conn.execute(
        update(Task).where(Task.case_id == case_id, Task.status == "open",
                           Task.performer == "staff", Task.role.is_(None))
        .values(assigned_to=worker)
    )


FLAGS = PERSON_FLAGS


def flag_person(engine: Engine, actor: Actor, case_id: int, flag: str,
                at: datetime | None = None) -> dict[str, Any]:
    """Flag the person of a case as moved or deceased ('none' clears it): they are kept out of
    every wave from now on, and nothing more is sent to them: the work owed to them on any of
    their cases (task scope "person": a report still due after closing) is cancelled, and the
    unsent letters of their closed cases; a letter of any of their cases in a batch not yet
    sent is to be pulled, and the mail room holds every other letter to them
    (casework.effects.FLAGGED). Clearing the flag queues the letters held for it again.
    The change is an event in the timeline (dated at, or now)."""
    actor.require("case.write")
    if flag not in (*FLAGS, "none"):
        raise InvalidData(f"flag {shown(flag)} must be one of {', '.join(FLAGS)} or none")
    with unit_of_work(engine) as conn:
        case = engine.load_case_for(conn, case_id, actor, "case.write")
        # Checked before anything changes; without --at the event is dated now.
        moment = engine.now() if at is None else engine.moment(at, case)
        value = None if flag == "none" else flag
        conn.execute(update(Participant).where(Participant.id == case.participant_id)
                     .values(flag=value))
        person_cases = Case.participant_id == case.participant_id
        stopped: dict[str, Any] = {"tasks": 0, "letters": 0, "to_pull": []}
        requeued = 0
        if value:
            # The flag goes before a milder reason (contact with the social team): that one
            # may be overridden, and nothing more may be sent to someone who died or moved.
            changed = conn.execute(
                update(Case).where(person_cases, Case.closed_at.is_(None),
                                   Case.excluded.is_distinct_from(value))
                .values(excluded=value)
            ).rowcount
            stopped = _stop_owed_work(conn, select(Case.id).where(person_cases), moment)
        else:
            # The flag goes; whether another reason keeps the person out, the rules say again.
            values = dict(conn.execute(select(Participant.__table__).where(
                Participant.__table__.c.id == case.participant_id)).one()._mapping)
            changed = 0
            for other_id, workflow_id, version in conn.execute(
                select(Case.id, Case.workflow_id, Case.workflow_version)
                .where(person_cases, Case.excluded.in_(FLAGS))
            ).all():
                route = engine.registry.get(workflow_id, version)
                today = moment.astimezone(engine.tz).date()
                reason = engine.rules.exclusion(values, route, today, engine.settings)
                changed += conn.execute(update(Case).where(Case.id == other_id)
                                        .values(excluded=reason)).rowcount
            requeued = _release_flagged(conn, select(Case.id).where(person_cases))
        event = {"flag": value}
        if stopped["tasks"] or stopped["letters"]:
            event["cancelled"] = {"tasks": stopped["tasks"], "letters": stopped["letters"]}
        if requeued:
            event["requeued"] = requeued
        engine.record_event(conn, case, actor, "flag", event, at=at)
    return {"case_id": case_id, "flag": value, "cases_changed": changed,
            "cancelled": {"tasks": stopped["tasks"], "letters": stopped["letters"]},
            "to_pull": stopped["to_pull"], "requeued": requeued}


def _stop_owed_work(conn: Any, person_cases: Any, moment: datetime) -> dict[str, Any]:
    """Cancel what would still reach a person who died or moved away: the work owed to them
    (task scope "person") and the unsent letters of their closed cases (on an open case the
    closing step does it: no_letter_for); an open case's letter in a batch not yet sent is
    pulled too (a batch is sealed; the mail room holds the others)."""
    from casework.effects import cancel_pending_letters

    reason = "the person died or moved away"
    tasks = conn.execute(update(Task).where(
        Task.case_id.in_(person_cases), Task.status == "open", Task.scope == "person")
        .values(status="cancelled", done_at=moment,
                result={"cancelled": reason})).rowcount
    closed: list[int] = []
    still_open: list[int] = []
    for case_id, closed_at in conn.execute(select(Case.id, Case.closed_at).where(
            Case.id.in_(person_cases))).all():
        (still_open if closed_at is None else closed).append(case_id)
    count, to_pull = 0, []
    if closed:
        letters = cancel_pending_letters(conn, closed, reason=reason)
        count, to_pull = letters.count, letters.to_pull
    if still_open:
        batched = cancel_pending_letters(conn, still_open, reason=reason, batched_only=True)
        count, to_pull = count + batched.count, to_pull + batched.to_pull
    return {"tasks": int(tasks), "letters": count, "to_pull": to_pull}


def _release_flagged(conn: Any, person_cases: Any) -> int:
    """Queue again the letters the mail room held because the person was flagged; return
    how many (each is checked again when it is made, as any letter is: one about an
    appointment it can no longer reach is not made)."""
    from casework.effects import FLAGGED

    return int(conn.execute(update(Letter).where(
        Letter.case_id.in_(person_cases), Letter.status == "held",
        Letter.reason.like(FLAGGED + " %")).values(status="queued", reason=None)).rowcount)


CORRECTION = "correct_report"


def correct_report(engine: Engine, actor: Actor, case_id: int, corrections: dict[str, str],
                   note: str | None = None, resend: bool = False,
                   at: datetime | None = None) -> dict[str, Any]:
    """Record the person's corrections to their conversation report: an event holding the
    corrected themes (the original event is kept as it was), the case's report updated, and
    the report letter sent again when asked. An empty text removes a theme (the person may
    have something left out)."""
    actor.require("case.write")
    if not corrections:
        raise InvalidData("give the corrected text per theme, e.g. --set themes.health=...")
    for what, text in [*((f"themes.{k}", v) for k, v in corrections.items()), ("note", note)]:
        problem = unclean(text or "", multiline=True)
        if problem:
            raise InvalidData(f"{what} contains {problem}; remove it")
    with unit_of_work(engine) as conn:
        case = engine.load_case_for(conn, case_id, actor, "case.write")
        route = engine.route_of(case)
        field = route.fields.get("themes")
        if field is None or field.type != "notes":
            raise InvalidData(f"route '{case.workflow_id}' keeps no conversation report")
        unknown = sorted(set(corrections) - set(field.keys))
        if unknown:
            raise InvalidData(f"no theme {', '.join(unknown)} in the report; themes: "
                              f"{', '.join(field.keys)}")
        themes = dict(case.data.get("themes") or {})
        if not themes:
            raise InvalidData(f"case {case_id} has no conversation report to correct (none was "
                              "recorded, or the person did not consent to one)")
        for key, text in corrections.items():
            if text.strip():
                themes[key] = text.strip()
            else:
                themes.pop(key, None)
        data = {**case.data, "themes": themes}
        engine.record_event(conn, case, actor, CORRECTION,
                            {"themes": {k: v.strip() for k, v in corrections.items()},
                             "resend": resend}, note, at=at)
        conn.execute(update(Case).where(Case.id == case_id).values(data=data))
        case.data = data
        letter = None
        if resend:
            row = engine.letter_row(route, case, None, "verslag", {"corrected": True})
            conn.execute(insert(Letter.__table__).values({**row, "created_at": engine.now()}))
            letter = "verslag"
        log_access(conn, actor, "correct report", [case_id], _purpose({case.workflow_id}),
                   engine.now())
    return {"case": case_id, "corrected": sorted(corrections), "letter": letter}
