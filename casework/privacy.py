"""Personal data under the AVG: everything stored about a person (subject access), and
anonymising people whose cases all closed longer ago than their retention period.

A purge removes BSN, name, address, phone, e-mail, date of birth and free-text notes, and
deletes the letter files; cases, events and counts stay, so reports still add up. Each purged
case gets a ``purge`` event and the purge is in the processing log."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update

from casework import name_index
from casework.access import chain_key, log_access
from casework.audit import personal_digests
from casework.calendar import shift
from casework.cohort import RowError, normalise_bsn
from casework.db import truncate_wal, unit_of_work
from casework.durations import parse_duration
from casework.engine import Engine
from casework.errors import InvalidData, NotFound
from casework.models import (
    AppliedLine,
    Appointment,
    Batch,
    Case,
    Consent,
    Event,
    Letter,
    Match,
    Meeting,
    MeetingAttendance,
    Participant,
    Referral,
    Spending,
    Task,
)
from casework.outfiles import check_output, open_output, remove_outputs
from casework.permissions import Actor
from casework.person import CONTACT_FIELDS

REMOVED = "(verwijderd)"
FREE_TEXT_TYPES = ("text", "notes")


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _rows(conn: Any, query: Any) -> list[dict[str, Any]]:
    return [{k: _iso(v) for k, v in row._mapping.items()} for row in conn.execute(query)]


NOT_A_BSN = "Dat is geen geldig BSN (negen cijfers die de elfproef doorstaan)."


def _person(conn: Any, bsn: str) -> Any:
    try:
        number = normalise_bsn(bsn)
    except RowError as exc:
        raise InvalidData(f"--bsn: {exc.detail}", says=NOT_A_BSN) from None
    person = conn.execute(select(Participant).where(Participant.bsn == number)).first()
    if person is None:
        raise NotFound("no person with that BSN is stored",
                       says="Over iemand met dat BSN is niets opgeslagen.")
    return person


def export_person(engine: Engine, actor: Actor, bsn: str, out: Path) -> dict[str, Any]:
    """Write everything stored about a person to a JSON file readable by its owner only;
    the export itself is logged. Return a summary (counts per kind)."""
    actor.require("privacy")
    from casework.audit import entries

    check_output(out, "--out", engine.settings)
    with unit_of_work(engine) as conn:
        person = _person(conn, bsn)
        case_ids = list(conn.execute(select(Case.id).where(
            Case.participant_id == person.id).order_by(Case.id)).scalars())
        data: dict[str, Any] = {
            "exported_at": _iso(engine.now()),
            "person": {k: _iso(v) for k, v in person._mapping.items() if k != "id"},
            "cases": _rows(conn, select(Case).where(Case.id.in_(case_ids)).order_by(Case.id)),
            "events": _rows(conn, select(Event).where(Event.case_id.in_(case_ids))
                            .order_by(Event.case_id, Event.seq)),
            "appointments": _rows(conn, select(Appointment).where(
                Appointment.case_id.in_(case_ids)).order_by(Appointment.id)),
            "tasks": _rows(conn, select(Task).where(Task.case_id.in_(case_ids))
                           .order_by(Task.id)),
            "letters": _rows(conn, select(Letter).where(Letter.case_id.in_(case_ids))
                             .order_by(Letter.id)),
            "consents": _rows(conn, select(Consent).where(
                Consent.participant_id == person.id).order_by(Consent.id)),
            "referrals": _rows(conn, select(Referral).where(Referral.case_id.in_(case_ids))
                               .order_by(Referral.id)),
            "matches": _rows(conn, select(Match).where(Match.case_id.in_(case_ids))
                             .order_by(Match.id)),
            "meetings": _rows(conn, select(Meeting, MeetingAttendance.case_id).join(
                MeetingAttendance, MeetingAttendance.meeting_id == Meeting.id)
                .where(MeetingAttendance.case_id.in_(case_ids)).order_by(Meeting.day)),
            "spending": _rows(conn, select(Spending).where(Spending.case_id.in_(case_ids))
                              .order_by(Spending.id)),
        }
    data["processing_log"] = entries(engine, bsn=bsn)
    # The file holds the BSN: it is readable by its owner only, from before anything is in it.
    with open_output(out) as fh:
        json.dump(data, fh, ensure_ascii=False, indent=2, default=str)
    with unit_of_work(engine) as conn:
        log_access(conn, actor, "export", case_ids, "subject access request", engine.now())
    return {"file": str(out), "cases": len(case_ids),
            **{key: len(value) for key, value in data.items()
               if isinstance(value, list) and key != "cases"}}


def retention_of(engine: Engine, workflow_id: str, reason: str | None) -> Any:
    """Return the retention period (a Duration) of a route's closing reason, or None."""
    periods = engine.settings["retention"].get(workflow_id)
    if not periods:
        return None
    text = periods.get(reason or "") or periods.get("default")
    return parse_duration(str(text)) if text else None


def purge(engine: Engine, actor: Actor, dry_run: bool = False) -> dict[str, Any]:
    """Anonymise the people whose cases all closed longer ago than their retention period."""
    actor.require("privacy")
    now = engine.now()
    today = now.astimezone(engine.tz).date()
    open_people = select(Case.participant_id).where(Case.closed_at.is_(None))
    with engine.db.connect() as conn:
        closed = conn.execute(
            select(Case.id, Case.participant_id, Case.workflow_id, Case.close_reason,
                   Case.closed_at)
            .join(Participant, Participant.id == Case.participant_id)
            .where(Participant.purged_at.is_(None), Case.participant_id.not_in(open_people))
            .order_by(Case.participant_id, Case.id)).all()
    people: dict[int, list[Any]] = {}
    for row in closed:
        people.setdefault(row.participant_id, []).append(row)
    due: list[int] = []
    kept_no_period: dict[str, int] = {}
    for person_id, cases in people.items():
        ready = True
        for case in cases:
            period = retention_of(engine, case.workflow_id, case.close_reason)
            if period is None:
                kept_no_period[case.workflow_id] = kept_no_period.get(case.workflow_id, 0) + 1
                ready = False
                break
            closed_on = case.closed_at.astimezone(engine.tz).date()
            if shift(closed_on, period, True, False) > today:
                ready = False
                break
        if ready:
            due.append(person_id)
    summary: dict[str, Any] = {"dry_run": dry_run, "people": len(due),
                               "cases": sum(len(people[p]) for p in due),
                               "letters_deleted": 0, "batch_files_deleted": 0,
                               "no_retention_period": dict(sorted(kept_no_period.items())),
                               "wal_truncated": None}
    if dry_run:
        return summary
    routes = {r.id: r for r in engine.registry}
    for person_id in due:
        letters, batch_files = _purge_person(engine, actor, person_id, people[person_id],
                                             routes, now)
        summary["letters_deleted"] += letters
        summary["batch_files_deleted"] += batch_files
    if due:
        with unit_of_work(engine) as conn:
            # The names blanked leave the trigram index too, not only its answers.
            name_index.forget_removed(conn)
    # SQLite zeroes what a change frees (secure_delete, casework.db); the write-ahead log
    # still holds the pages as they were before the purge until it is emptied (also by a
    # purge run again after one that could not empty it).
    summary["wal_truncated"] = truncate_wal(engine.db)
    return summary


def _purge_person(engine: Engine, actor: Actor, person_id: int, cases: list[Any],
                  routes: dict[str, Any], now: datetime) -> tuple[int, int]:
    """Anonymise one person; return the letter files and the batch files deleted."""
    case_ids = [c.id for c in cases]
    deleted = 0
    with unit_of_work(engine) as conn:
        key = chain_key(conn)
        conn.execute(update(Participant).where(Participant.id == person_id).values(
            bsn=f"X{person_id:08d}"[-9:], initials=None, prefix=None, surname=REMOVED,
            street=REMOVED, house_number=0, house_number_suffix=None, postcode="0000 XX",
            city=REMOVED, phone=None, email=None, birth_date=None, purged_at=now))
        for case in cases:
            route = routes.get(case.workflow_id)
            free = {name for name, spec in (route.fields.items() if route else ())
                    if spec.type in FREE_TEXT_TYPES} | set(CONTACT_FIELDS)
            data = conn.execute(select(Case.data).where(Case.id == case.id)).scalar() or {}
            conn.execute(update(Case).where(Case.id == case.id).values(
                data={k: v for k, v in data.items() if k not in free}))
            for event in conn.execute(select(Event.id, Event.data, Event.note,
                                             Event.redacted_digests).where(
                    Event.case_id == case.id)).all():
                kept = {k: v for k, v in (event.data or {}).items() if k not in free}
                if event.note is not None or kept != (event.data or {}):
                    # The digests of what is blanked stay, so the sealed chain still checks
                    # everything else of the event (casework.audit.event_content).
                    digests = personal_digests(event.id, event.note, event.data or {}, free,
                                               key)
                    earlier = event.redacted_digests or {}
                    digests["data"] = {**earlier.get("data", {}), **digests.get("data", {})}
                    if "note" not in digests and "note" in earlier:
                        digests["note"] = earlier["note"]
                    conn.execute(update(Event).where(Event.id == event.id).values(
                        data=kept, note=None, redacted_at=now, redacted_digests=digests))
        for letter in conn.execute(select(Letter.id, Letter.file).where(
                Letter.case_id.in_(case_ids))).all():
            if letter.file and Path(letter.file).is_file():
                Path(letter.file).unlink()
                deleted += 1
        # A mail-house batch (its PDF and manifest) holds the person's letters among others':
        # handed over, it has done its work; its files go, its row and counts stay.
        batch_names = select(Letter.batch).where(Letter.case_id.in_(case_ids),
                                                 Letter.batch.is_not(None))
        batch_files = [Path(name) for row in conn.execute(
            select(Batch.pdf, Batch.manifest).where(Batch.name.in_(batch_names))).all()
            for name in row if name]
        removed = remove_outputs(batch_files, engine.settings)
        conn.execute(update(Letter).where(Letter.case_id.in_(case_ids)).values(
            file=None, payload=None, address=None, postcode=None))
        # The applied lines of apply files keep a hash of what a line said (notes included).
        conn.execute(delete(AppliedLine).where(AppliedLine.case_id.in_(case_ids)))
        conn.execute(update(Appointment).where(Appointment.case_id.in_(case_ids))
                     .values(location=None))
        for case_id in case_ids:
            snapshot = engine.load_case(conn, case_id)
            engine.record_event(conn, snapshot, actor, "purge",
                                {"retention": "passed", "letters_deleted": deleted,
                                 "batch_files_deleted": len(removed)})
        log_access(conn, actor, "purge", case_ids, "retention period passed", now)
    return deleted, len(removed)


