"""Employers candidates meet at Meedoenpleinen and are matched with."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select

from casework.access import log_access
from casework.db import unit_of_work
from casework.engine import Engine
from casework.errors import InvalidData, NotFound
from casework.models import Employer, Match, Meeting, MeetingAttendance
from casework.permissions import Actor
from casework.text import unclean


def _text(value: str | None, name: str, limit: int) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value.strip()) > limit:
        raise InvalidData(f"{name} is longer than {limit} characters; keep it shorter")
    problem = unclean(value)
    if problem:
        raise InvalidData(f"{name} contains {problem}; remove it")
    return value.strip()


def add_employer(engine: Engine, actor: Actor, name: str, sector: str | None,
                 contact: str | None) -> dict[str, Any]:
    """Add an employer; a second one with the same name (any case) is refused."""
    actor.require("employers")
    clean = _text(name, "the name", 200)
    if clean is None:
        raise InvalidData("give the employer's name")
    row = {"name": clean, "sector": _text(sector, "--sector", 100),
           "contact": _text(contact, "--contact", 200)}
    with unit_of_work(engine) as conn:
        if find_employer(conn, clean, required=False) is not None:
            raise InvalidData(f"employer '{clean}' is already known; see "
                              f"'casework employer show \"{clean}\"'")
        new_id = conn.execute(insert(Employer).values(**row, active=True,
                                                      created_at=engine.now())
                              .returning(Employer.id)).scalar_one()
    return {"id": new_id, **row}


def find_employer(conn: Any, name: str, required: bool = True) -> Any:
    """Return the employer row of that name (any case), None or NotFound when unknown."""
    row = conn.execute(select(Employer).where(
        func.lower(Employer.name) == name.strip().lower())).first()
    if row is None and required:
        raise NotFound(f"no employer '{name.strip()}'; add it with "
                       f"'casework employer add \"{name.strip()}\" --sector ...'")
    return row


def list_employers(engine: Engine, actor: Actor) -> list[dict[str, Any]]:
    """Every employer with its number of matches and meetings attended."""
    actor.require("employers")
    matches = (select(Match.employer_id, func.count().label("n"))
               .group_by(Match.employer_id).subquery())
    meetings = (select(MeetingAttendance.employer_id, func.count().label("n"))
                .where(MeetingAttendance.employer_id.is_not(None))
                .group_by(MeetingAttendance.employer_id).subquery())
    query = (select(Employer.id, Employer.name, Employer.sector, Employer.contact,
                    func.coalesce(matches.c.n, 0).label("matches"),
                    func.coalesce(meetings.c.n, 0).label("meetings"))
             .outerjoin(matches, matches.c.employer_id == Employer.id)
             .outerjoin(meetings, meetings.c.employer_id == Employer.id)
             .order_by(Employer.name))
    with engine.db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def employer_detail(engine: Engine, actor: Actor, name: str) -> dict[str, Any]:
    """An employer with its contact details, its matches and the meetings it attended."""
    actor.require("employers")
    with unit_of_work(engine) as conn:
        row = find_employer(conn, name)
        matches = [
            {"case_id": m.case_id, "job": m.job, "hours_per_week": m.hours_per_week,
             "fte": m.fte, "matched_at": m.matched_at.isoformat()}
            for m in conn.execute(select(Match).where(Match.employer_id == row.id)
                                  .order_by(Match.matched_at))
        ]
        meetings = [
            {"id": m.id, "date": m.day.isoformat(), "kind": m.kind, "title": m.title,
             "place": m.place}
            for m in conn.execute(
                select(Meeting).join(MeetingAttendance,
                                     MeetingAttendance.meeting_id == Meeting.id)
                .where(MeetingAttendance.employer_id == row.id).order_by(Meeting.day))
        ]
        if matches:
            log_access(conn, actor, "employer show", [m["case_id"] for m in matches],
                       f"employer {row.name}", engine.now())
    return {"id": row.id, "name": row.name, "sector": row.sector, "contact": row.contact,
            "matches": matches, "meetings": meetings}
