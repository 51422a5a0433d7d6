"""Waves: pick the selected people of a wijk, propose appointment slots, and invite them.

Slots fall on workdays only (weekends and Dutch public holidays skipped), between the configured
hours, a configured number per specialist per day. The invitations go through the route's
``invite`` trigger like any other advance, in bulk, so they are checked and recorded the same way.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, insert, literal, select
from sqlalchemy.exc import IntegrityError

from casework.access import log_access
from casework.bulk import Line, apply_lines
from casework.calendar import next_workday
from casework.config import clock_time
from casework.db import unit_of_work
from casework.engine import Engine
from casework.errors import ConflictError, InvalidData, OptionRefused
from casework.models import PLANNED, Appointment, Case, Participant, Wave
from casework.people import display_name
from casework.permissions import Actor
from casework.text import shown
from casework.workflow import Route, TransitionSpec

# An appointment proposed for today must leave time to get the letter out and to travel.
MIN_LEAD = timedelta(hours=1)
# Planners of one wijk at one moment each try the next free wave number this often.
CLAIM_TRIES = 20
_WAVES = Wave.__table__


@dataclass(frozen=True)
class Slot:
    starts_at: datetime
    specialist: int | str  # a staff member's name, or a number (--specialists N)


def propose_slots(engine: Engine, start: date, specialists: int | Sequence[str], count: int,
                  booked: Collection[tuple[str, datetime]] = ()) -> list[Slot]:
    """Return count appointment slots from start on: workdays, configured hours and capacity;
    a named specialist's slots already booked (``booked``: name, moment) are skipped."""
    names: Sequence[int | str] = (range(1, specialists + 1) if isinstance(specialists, int)
                                  else specialists)
    settings = engine.settings
    first = time(*clock_time(settings["planning.day_start"]))
    last = time(*clock_time(settings["planning.day_end"]))
    length = timedelta(minutes=settings["planning.slot_minutes"])
    per_day: int = settings["planning.per_specialist_per_day"]
    not_before = engine.now() + MIN_LEAD
    slots: list[Slot] = []
    day = next_workday(start)
    while len(slots) < count:
        moment = datetime.combine(day, first, tzinfo=engine.tz)
        end = datetime.combine(day, last, tzinfo=engine.tz)
        taken = 0
        while taken < per_day and moment + length <= end and len(slots) < count:
            if moment >= not_before:
                for specialist in names:
                    if len(slots) < count and (specialist, moment) not in booked:
                        slots.append(Slot(moment, specialist))
            taken += 1
            moment += length
        day = next_workday(day + timedelta(days=1))
    return slots


_PERSON = (Participant.wij_team_contact, Participant.last_guidance, Participant.flag,
           Participant.birth_date, Participant.wijk)


def _candidates(engine: Engine, conn: Connection, route: Route, wijk: str,
                size: int) -> tuple[list[Any], dict[int, str]]:
    """Return up to size cases waiting for an invitation, asking the rules again about each
    (a flag may have been set since the import); also the ones the rules now exclude."""
    today = engine.now().astimezone(engine.tz).date()
    chosen: list[Any] = []
    excluded: dict[int, str] = {}
    last = 0
    # With no rule that excludes people on (switched off), earlier marks keep nobody out.
    marked = [Case.excluded.is_(None)] if engine.rules.excludes(route) else []
    while len(chosen) < size:
        rows = conn.execute(
            select(Case.id, Participant.initials, Participant.prefix, Participant.surname,
                   *_PERSON)
            .join(Participant, Participant.id == Case.participant_id)
            .where(Case.workflow_id == route.id, Case.wijk == wijk,
                   Case.state == route.initial, Case.closed_at.is_(None),
                   *marked, Case.id > last)
            .order_by(Case.id).limit(size)
        ).all()
        if not rows:
            break
        for row in rows:
            reason = engine.rules.exclusion(row._mapping, route, today, engine.settings)
            if reason:
                excluded[row.id] = reason
            elif len(chosen) < size:
                chosen.append(row)
        last = rows[-1].id
    return chosen, excluded


def list_excluded(engine: Engine, actor: Actor, workflow_id: str, wijk: str | None = None,
                  reason: str | None = None) -> dict[str, Any]:
    """Return the cases a rule keeps out of waves, with the reason (only those the actor
    may plan); logs the read."""
    actor.require("cohort.plan")
    route = engine.registry.get(workflow_id)
    conditions = [Case.workflow_id == route.id, Case.excluded.is_not(None)]
    scope = actor.case_filter("cohort.plan")
    if scope is not None:
        conditions.append(scope)
    if wijk:
        conditions.append(Case.wijk == wijk)
    if reason:
        conditions.append(Case.excluded == reason)
    with unit_of_work(engine) as conn:
        rows = conn.execute(
            select(Case.id, Case.wijk, Case.state, Case.excluded, Participant.initials,
                   Participant.prefix, Participant.surname)
            .join(Participant, Participant.id == Case.participant_id)
            .where(*conditions).order_by(Case.id)
        ).all()
        if rows:
            log_access(conn, actor, "excluded list", [r.id for r in rows],
                       f"project {route.id}", engine.now())
    by_reason: dict[str, int] = {}
    for r in rows:
        by_reason[r.excluded] = by_reason.get(r.excluded, 0) + 1
    return {
        "workflow": route.id,
        "cases": [{"case_id": r.id, "name": display_name(r.initials, r.prefix, r.surname),
                   "wijk": r.wijk, "state": r.state, "reason": r.excluded} for r in rows],
        "by_reason": by_reason,
    }


def booked_slots(conn: Connection, names: Sequence[str], start: date,
                 engine: Engine) -> set[tuple[str, datetime]]:
    """Return the (specialist, moment) pairs of planned appointments from start on."""
    since = datetime.combine(start, time(), tzinfo=engine.tz)
    rows = conn.execute(select(Appointment.specialist, Appointment.starts_at).where(
        Appointment.specialist.in_(list(names)), Appointment.status == PLANNED,
        Appointment.starts_at >= since))
    return {(name, moment.astimezone(engine.tz)) for name, moment in rows}


def check_specialists(conn: Connection, names: Sequence[str]) -> None:
    """Refuse a specialist who is not an active staff member holding conversations."""
    from casework.vocabulary import workers_in

    able = workers_in(conn)
    for name in names:
        if name not in able:
            raise OptionRefused(
                f"--specialist {shown(name)} is not an active staff member who holds "
                f"conversations (case_worker or coordinator); known: {', '.join(able) or 'none'}")
    if len(set(names)) != len(names):
        raise OptionRefused("--specialist names someone twice; give each person once")


def wave_transition(route: Route) -> TransitionSpec | None:
    """Return the step a wave takes for each person ([workflow] wave_step from the initial
    state, with an appointment), or None when the route is not planned in waves."""
    invite = route.transition(route.wave_step, route.initial) if route.wave_step else None
    return invite if invite is not None and "appointment" in invite.fields else None


def plannable_routes(engine: Engine, actor: Actor) -> list[Route]:
    """Return the routes (newest versions) the actor may plan waves of: those with a wave
    step, of their projects."""
    from casework.permissions import NotAllowed
    from casework.vocabulary import routes

    actor.require("cohort.plan")
    found = []
    for route_id in routes(engine):
        route = engine.registry.get(route_id)
        try:
            actor.require_route("cohort.plan", route_id)
        except NotAllowed:
            continue
        if wave_transition(route) is not None:
            found.append(route)
    return found


def _of_wijk(workflow_id: str, wijk: str) -> list[Any]:
    return [_WAVES.c.workflow_id == workflow_id, _WAVES.c.wijk == wijk]


def next_wave(conn: Connection, workflow_id: str, wijk: str) -> int:
    """Return the number the next wave of a route in a wijk would get (nothing is claimed)."""
    return int(conn.execute(select(func.coalesce(func.max(_WAVES.c.number), 0) + 1)
                            .where(*_of_wijk(workflow_id, wijk))).scalar_one())


def claim_wave(engine: Engine, actor: Actor, workflow_id: str, wijk: str) -> tuple[int, int]:
    """Claim the next wave number of a route in a wijk; return (number, claim id).

    One statement takes the highest number plus one; the unique key on (route, wijk, number)
    lets only one of two planners at the same moment store a number (the daily run's items are
    kept once the same way), and the other takes the next one."""
    for _ in range(CLAIM_TRIES):
        try:
            with unit_of_work(engine) as conn:
                claimed = conn.execute(
                    insert(_WAVES).from_select(
                        ["workflow_id", "wijk", "number", "planned_at", "planned_by"],
                        select(literal(workflow_id), literal(wijk),
                               func.coalesce(func.max(_WAVES.c.number), 0) + 1,
                               literal(engine.now(), _WAVES.c.planned_at.type),
                               literal(actor.name))
                        .where(*_of_wijk(workflow_id, wijk)))
                    .returning(_WAVES.c.number, _WAVES.c.id)).one()
            return int(claimed.number), int(claimed.id)
        except IntegrityError:
            continue  # another planner stored that number just now: take the next one
    raise ConflictError(f"no wave number could be claimed in wijk '{wijk}': other plans of "
                        "this wijk kept taking it; try again")


def _release_wave(engine: Engine, claim: int) -> None:
    """Give a claimed number back when its wave invited nobody (the next plan takes it)."""
    with unit_of_work(engine) as conn:
        conn.execute(delete(_WAVES).where(_WAVES.c.id == claim))


def plan_wave(engine: Engine, actor: Actor, workflow_id: str, wijk: str, size: int,
              start: date, specialists: int | Sequence[str],
              dry_run: bool = False) -> dict[str, Any]:
    """Invite up to size selected cases of a wijk with proposed appointments; return the plan.

    ``specialists``: the staff members who hold the conversations (each slot is booked for
    one of them, never a slot they already have), or a number of unnamed specialists."""
    actor.require("cohort.plan")
    route = engine.registry.get(workflow_id)
    actor.require_route("cohort.plan", route.id)
    limit: int = engine.settings["planning.wave_size"]
    if size < 1 or size > limit:
        raise InvalidData(f"--size must be between 1 and {limit} (planning.wave_size: the most "
                          "invitations partners in one wijk can take in one wave)")
    if isinstance(specialists, int) and specialists < 1:
        raise InvalidData("--specialists must be at least 1")
    if not isinstance(specialists, int) and not specialists:
        raise InvalidData("name at least one --specialist")
    today = engine.now().astimezone(engine.tz).date()
    if start < today:
        raise InvalidData(f"--from {start} lies in the past; plan from today or later")
    invite = wave_transition(route)
    if invite is None:
        raise InvalidData(f"route {route.id} has no wave step ([workflow] wave_step) with an "
                          f"appointment from '{route.initial}'; it cannot be planned in waves")
    with engine.db.connect() as conn:
        known = conn.execute(
            select(Case.wijk, func.count()).where(Case.workflow_id == route.id)
            .group_by(Case.wijk)
        ).all()
        if wijk not in {row[0] for row in known}:
            names = ", ".join(sorted(row[0] for row in known)) or "none"
            raise InvalidData(f"no cases of {route.id} in wijk '{wijk}' (wijken: {names})")
        named = not isinstance(specialists, int)
        if named:
            check_specialists(conn, list(specialists))
        rows, newly_excluded = _candidates(engine, conn, route, wijk, size)
        wave = next_wave(conn, route.id, wijk)
    claim = None
    if rows and not dry_run:  # a number of its own, whoever else plans this wijk now
        wave, claim = claim_wave(engine, actor, route.id, wijk)
    # No slot before the invitation can be on the mat (it would be held, not sent); the
    # letters are made by the next daily run at the latest.
    from casework.delivery import first_appointment_day

    earliest = first_appointment_day(engine.settings, today + timedelta(days=1))
    first = max(start, earliest)
    booked: set[tuple[str, datetime]] = set()
    if named:
        with engine.db.connect() as conn:
            booked = booked_slots(conn, list(specialists), first, engine)
    slots = propose_slots(engine, first, specialists, len(rows), booked)
    location: str = engine.settings["planning.location"]
    invitations = [{
        "case_id": row.id, "name": display_name(row.initials, row.prefix, row.surname),
        "appointment": slot.starts_at.isoformat(), "specialist": slot.specialist,
    } for row, slot in zip(rows, slots, strict=True)]
    lines = [(n, Line(number=n, case_id=inv["case_id"], bsn=None, workflow=None,
                      trigger=invite.trigger, at=None,
                      data={"appointment": slot.starts_at.strftime("%Y-%m-%d %H:%M"),
                            "location": location},
                      note=f"wave {wave}, specialist {slot.specialist}", wave=wave,
                      specialist=slot.specialist if named else None))
             for n, (inv, slot) in enumerate(zip(invitations, slots, strict=True), 1)]
    if newly_excluded and not dry_run:
        from casework.cohort import EXCLUDE

        with unit_of_work(engine) as conn:
            for cid, reason in newly_excluded.items():
                engine.record_event(conn, engine.load_case(conn, cid), actor, EXCLUDE,
                                    {"reason": reason}, excluded=reason)
    try:
        summary = apply_lines(engine, lines, actor, dry_run, name=f"wave {wave}",
                              capability="cohort.plan")
    except BaseException:
        if claim is not None:
            _release_wave(engine, claim)
        raise
    if claim is not None and not summary.applied:
        _release_wave(engine, claim)
    failed = {number for number, _ in summary.failures}
    if dry_run and invitations:
        # A preview names the people it would invite: a listing, logged as one (the dry
        # run's own writes, its log entry included, were rolled back).
        with unit_of_work(engine) as conn:
            log_access(conn, actor, "plan preview", [inv["case_id"] for inv in invitations],
                       f"project {route.id}", engine.now())
    return {
        "workflow": route.id, "wijk": wijk, "wave": wave, "size": size, "dry_run": dry_run,
        "selected": len(rows), "invited": summary.applied,
        "first_appointment": invitations[0]["appointment"] if invitations else None,
        "last_appointment": invitations[-1]["appointment"] if invitations else None,
        "invitations": [inv for n, inv in enumerate(invitations, 1) if n not in failed],
        "excluded_now": [{"case_id": cid, "reason": reason}
                         for cid, reason in newly_excluded.items()],
        "failures": [{"case_id": invitations[n - 1]["case_id"], "reason": reason}
                     for n, reason in summary.failures],
    }
