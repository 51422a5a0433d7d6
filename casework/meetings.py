"""Meedoenpleinen and other meetings: who attended, candidates and employers.

A candidate on a route with a meeting step (``[workflow] meeting_step``) who attends a
Meedoenplein moves along with that step; one who cannot take it is recorded as present and the
reason is reported."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import func, insert, select

from casework.access import log_access
from casework.db import unit_of_work
from casework.employers import find_employer
from casework.engine import Engine
from casework.errors import CaseworkError, InvalidData, NotFound
from casework.models import MEETING_KINDS, Case, Employer, Meeting, MeetingAttendance
from casework.permissions import Actor
from casework.text import unclean

KINDS = MEETING_KINDS


def add_meeting(engine: Engine, actor: Actor, day: date, place: str,
                kind: str = "meedoenplein", title: str | None = None) -> dict[str, Any]:
    """Add a meeting on a day at a place."""
    actor.require("employers")
    if kind not in KINDS:
        raise InvalidData(f"--kind must be one of {', '.join(KINDS)}")
    if not place.strip():
        raise InvalidData("give the place of the meeting (--place)")
    if len(place.strip()) > 200 or (title and len(title.strip()) > 200):
        raise InvalidData("--place and --title take at most 200 characters")
    for option, text in (("--place", place), ("--title", title)):
        problem = unclean(text or "")
        if problem:
            raise InvalidData(f"{option} contains {problem}; remove it")
    row = {"kind": kind, "title": (title or "").strip() or None, "day": day,
           "place": place.strip()}
    with unit_of_work(engine) as conn:
        new_id = conn.execute(insert(Meeting).values(**row, created_at=engine.now())
                              .returning(Meeting.id)).scalar_one()
    return {"id": new_id, **row, "date": day.isoformat()}


def list_meetings(engine: Engine, actor: Actor,
                  since: date | None = None) -> list[dict[str, Any]]:
    """Meetings (from a date on) with how many candidates and employers attended."""
    actor.require("employers")
    candidates = func.count(MeetingAttendance.case_id)
    employers = func.count(MeetingAttendance.employer_id)
    query = (select(Meeting.id, Meeting.kind, Meeting.title, Meeting.day, Meeting.place,
                    candidates.label("candidates"), employers.label("employers"))
             .outerjoin(MeetingAttendance, MeetingAttendance.meeting_id == Meeting.id)
             .group_by(Meeting.id, Meeting.kind, Meeting.title, Meeting.day, Meeting.place)
             .order_by(Meeting.day, Meeting.id))
    if since is not None:
        query = query.where(Meeting.day >= since)
    with engine.db.connect() as conn:
        return [{"id": r.id, "kind": r.kind, "title": r.title, "date": r.day.isoformat(),
                 "place": r.place, "candidates": int(r.candidates),
                 "employers": int(r.employers)} for r in conn.execute(query)]


def attend(engine: Engine, actor: Actor, meeting_id: int, case_ids: list[int],
           employer_names: list[str], at: datetime | None = None) -> dict[str, Any]:
    """Record who attended (at a past moment, or now); candidates at a Meedoenplein take the
    attend step when they can."""
    actor.require("case.write")
    if not case_ids and not employer_names:
        raise InvalidData("say who attended: --case ID and/or --employer NAME")
    now = engine.moment(at)
    report: dict[str, Any] = {"meeting": meeting_id, "candidates": [], "employers": []}
    with unit_of_work(engine) as conn:
        meeting = conn.execute(select(Meeting).where(Meeting.id == meeting_id)).first()
        if meeting is None:
            raise NotFound(f"no meeting {meeting_id}; see 'casework event list'")
        employer_ids = [find_employer(conn, name).id for name in employer_names]
        for case_id in case_ids:
            if conn.execute(select(Case.id).where(Case.id == case_id)).scalar() is None:
                raise NotFound(f"no case {case_id}; find cases with 'casework case list'")
        from casework.permissions import check_cases

        check_cases(conn, actor, case_ids, "case.write")
        if at is not None:  # a past moment fits every candidate's timeline, or nothing is kept
            for case_id in case_ids:
                engine.moment(at, engine.load_case(conn, case_id))
        not_held_yet(meeting_id, meeting.day, now.astimezone(engine.tz).date())
        present = set(conn.execute(select(MeetingAttendance.case_id).where(
            MeetingAttendance.meeting_id == meeting_id,
            MeetingAttendance.case_id.in_(case_ids))).scalars())
        for case_id in case_ids:
            entry: dict[str, Any] = {"case": case_id, "advanced": False, "why_not": None}
            if case_id in present:
                entry["why_not"] = "already recorded as present"
                report["candidates"].append(entry)
                continue
            conn.execute(insert(MeetingAttendance).values(
                meeting_id=meeting_id, case_id=case_id, recorded_by=actor.name, at=now))
            if meeting.kind == KINDS[0]:
                entry.update(_advance(engine, conn, case_id, meeting_id, actor, at))
            report["candidates"].append(entry)
        known = set(conn.execute(select(MeetingAttendance.employer_id).where(
            MeetingAttendance.meeting_id == meeting_id,
            MeetingAttendance.employer_id.in_(employer_ids))).scalars())
        for employer_id, name in zip(employer_ids, employer_names, strict=True):
            if employer_id not in known:
                conn.execute(insert(MeetingAttendance).values(
                    meeting_id=meeting_id, employer_id=employer_id, recorded_by=actor.name,
                    at=now))
                known.add(employer_id)
            report["employers"].append(conn.execute(
                select(Employer.name).where(Employer.id == employer_id)).scalar_one()
                or name)
        if case_ids:
            log_access(conn, actor, "event attend", case_ids, f"meeting {meeting_id}",
                       engine.now())
    return report


def _advance(engine: Engine, conn: Any, case_id: int, meeting_id: int,
             actor: Actor, at: datetime | None = None) -> dict[str, Any]:
    case = engine.load_case(conn, case_id)
    route = engine.route_of(case)
    # An older version of the route that names no meeting step takes the newest one's.
    trigger = route.meeting_step or engine.registry.get(case.workflow_id).meeting_step
    if trigger is None:
        return {"why_not": f"route '{case.workflow_id}' has no meeting step"}
    if route.transition(trigger, case.state) is None:
        return {"why_not": f"'{trigger}' is not a step from state '{case.state}' "
                           f"on route '{case.workflow_id}'"}
    try:  # a step is checked in full before anything of it is written
        step = engine.advance_in(conn, case_id, trigger, actor, {"meeting": meeting_id}, at)
    except CaseworkError as exc:
        return {"why_not": str(exc)}
    return {"advanced": True, "from": step.source, "to": step.dest}


def not_held_yet(meeting_id: int, held: date, day: date) -> None:
    """Refuse to record anyone at a meeting on ``day`` when the meeting is on a later day:
    nobody attended it yet (a wrong number, or the date of the meeting is wrong)."""
    if held > day:
        from casework.display import dutch_date

        raise InvalidData(
            f"meeting {meeting_id} is on {held.isoformat()}, after {day.isoformat()}: record "
            "who came on the day itself or later (or correct the number)",
            says=f"Bijeenkomst {meeting_id} is pas op {dutch_date(held)}; leg vast wie er kwam "
                 "op of na die dag.")


def meetings_of_case(conn: Any, case_id: int) -> list[dict[str, Any]]:
    """The meetings a case attended, for its timeline."""
    return [{"id": m.id, "date": m.day.isoformat(), "kind": m.kind, "title": m.title,
             "place": m.place}
            for m in conn.execute(
                select(Meeting).join(MeetingAttendance,
                                     MeetingAttendance.meeting_id == Meeting.id)
                .where(MeetingAttendance.case_id == case_id).order_by(Meeting.day))]
