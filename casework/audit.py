"""Reading and checking the processing log and the sealed case history.

- ``seal_events``: links every event not yet sealed into the events' hash chain (the daily
  run does this; the cost grows with the new events only).
- ``verify``: recomputes both chains and reports the first entry changed or removed.
- ``entries``: the log for a case, a staff member (since a date) or a person (by BSN).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from casework.access import chain_hash, entry_content, stamp
from casework.engine import Engine
from casework.errors import InvalidData
from casework.models import AccessLog, Case, Event, Participant, Seal

EVENTS = "events"
CHUNK = 5000


def event_content(row: Any) -> dict[str, Any]:
    return {"id": row.id, "case_id": row.case_id, "seq": row.seq, "at": stamp(row.at),
            "actor": row.actor, "trigger": row.trigger, "from": row.from_state,
            "to": row.to_state, "data": row.data or {}, "note": row.note,
            "reason": row.reason}


_EVENT_COLUMNS = (Event.id, Event.case_id, Event.seq, Event.at, Event.actor, Event.trigger,
                  Event.from_state, Event.to_state, Event.data, Event.note, Event.reason,
                  Event.hash, Event.redacted_at)
_SET_HASH = (update(Event.__table__).where(Event.__table__.c.id == bindparam("b_id"))
             .values(hash=bindparam("b_hash")))


class _Raced(Exception):
    """Another process sealed the same events first."""


def seal_events(engine: Engine) -> int:
    """Link the events recorded since the last seal into the chain; return how many. Two
    processes sealing at once do not both seal: the one that loses starts again after the
    other's seal."""
    try:
        with engine.db.begin() as conn:
            if conn.execute(select(Seal.name).where(Seal.name == EVENTS)).first() is None:
                conn.execute(insert(Seal).values(name=EVENTS, last_id=0, last_hash=None,
                                                 sealed_at=engine.now()))
    except IntegrityError:
        pass  # made by another process just now
    sealed = 0
    while True:
        try:
            with engine.db.begin() as conn:
                seal = conn.execute(select(Seal).where(Seal.name == EVENTS)
                                    .with_for_update()).one()
                last_id, last_hash = seal.last_id, seal.last_hash
                rows = conn.execute(select(*_EVENT_COLUMNS).where(Event.id > last_id)
                                    .order_by(Event.id).limit(CHUNK)).all()
                if not rows:
                    return sealed
                params = []
                for row in rows:
                    last_hash = chain_hash(last_hash, event_content(row))
                    params.append({"b_id": row.id, "b_hash": last_hash})
                conn.execute(_SET_HASH, params)
                moved = conn.execute(update(Seal).where(Seal.name == EVENTS,
                                                        Seal.last_id == last_id)
                                     .values(last_id=rows[-1].id, last_hash=last_hash,
                                             sealed_at=engine.now()))
                if moved.rowcount != 1:
                    raise _Raced
                sealed += len(rows)
        except _Raced:
            continue


def verify(engine: Engine) -> dict[str, Any]:
    """Recompute the processing log's chain and the sealed events' chain; return the first
    problem in each (None when intact)."""
    result: dict[str, Any] = {"access_log": {"entries": 0, "problem": None, "head": None},
                              "events": {"sealed": 0, "unsealed": 0, "redacted": 0,
                                         "problem": None}}
    with engine.db.connect() as conn:
        prev: str | None = None
        previous_id = 0
        log = result["access_log"]
        for row in conn.execution_options(yield_per=CHUNK).execute(
                select(AccessLog).order_by(AccessLog.id)):
            log["entries"] += 1
            if row.prev_hash != prev:
                log["problem"] = {
                    "id": row.id,
                    "what": f"entry {row.id} does not follow entry {previous_id}: an entry "
                            "between them was removed or changed"}
                break
            expected = chain_hash(prev, entry_content(row.id, row.at, row.actor, row.action,
                                                      row.case_ids or [], row.purpose))
            if row.hash != expected:
                log["problem"] = {"id": row.id, "what": f"entry {row.id} was changed"}
                break
            prev, previous_id = row.hash, row.id
            log["head"] = row.hash
        seal = conn.execute(select(Seal).where(Seal.name == EVENTS)).first()
        events = result["events"]
        last_id = seal.last_id if seal else 0
        events["unsealed"] = int(conn.execute(select(func.count()).select_from(Event)
                                              .where(Event.id > last_id)).scalar_one())
        prev = None
        for row in conn.execution_options(yield_per=CHUNK).execute(
                select(*_EVENT_COLUMNS).where(Event.id <= last_id).order_by(Event.id)):
            events["sealed"] += 1
            if row.redacted_at is not None:
                events["redacted"] += 1  # free text removed by a purge; its hash is kept
            elif row.hash != chain_hash(prev, event_content(row)):
                events["problem"] = {
                    "id": row.id, "case_id": row.case_id, "seq": row.seq,
                    "what": f"event {row.id} (case {row.case_id}, step {row.seq}) was "
                            "changed, or an event before it was removed"}
                break
            prev = row.hash
        if events["problem"] is None and seal is not None and prev != seal.last_hash:
            events["problem"] = {"id": last_id, "what": "the last sealed events were removed"}
    result["ok"] = log["problem"] is None and events["problem"] is None
    return result


def _mentions(conn: Any, case_ids: list[int]) -> Any:
    """Return the SQL condition: the entry's case list holds one of these case ids."""
    from sqlalchemy import exists, literal, literal_column, or_
    from sqlalchemy.dialects.postgresql import JSONB

    if conn.dialect.name == "postgresql":
        return or_(*[AccessLog.case_ids.op("@>")(literal([int(c)], JSONB))
                     for c in case_ids])
    each = func.json_each(AccessLog.case_ids).table_valued("value")
    return exists(select(literal_column("1")).select_from(each)
                  .where(each.c.value.in_(case_ids)))


def entries(engine: Engine, case_id: int | None = None, staff: str | None = None,
            since: date | None = None, bsn: str | None = None) -> list[dict[str, Any]]:
    """The processing log for a case, for a staff member (since a date), or about a person."""
    query = select(AccessLog).order_by(AccessLog.id)
    case_ids: set[int] | None = None
    if bsn is not None:
        from casework.cohort import RowError, normalise_bsn

        try:
            number = normalise_bsn(bsn)
        except RowError as exc:
            raise InvalidData(f"--bsn: {exc.detail}") from None
        with engine.db.connect() as conn:
            case_ids = set(conn.execute(
                select(Case.id).join(Participant, Participant.id == Case.participant_id)
                .where(Participant.bsn == number)).scalars())
        if not case_ids:
            return []
    if case_id is not None:
        case_ids = {case_id} if case_ids is None else case_ids & {case_id}
    if staff is not None:
        query = query.where(AccessLog.actor == staff)
    if since is not None:
        query = query.where(AccessLog.at >= datetime.combine(since, time(), tzinfo=engine.tz))
    out = []
    with engine.db.connect() as conn:
        if case_ids is not None:
            query = query.where(_mentions(conn, sorted(case_ids)))
        for row in conn.execution_options(yield_per=CHUNK).execute(query):
            ids = [int(c) for c in row.case_ids or []]
            if case_ids is not None:
                ids = [c for c in ids if c in case_ids]
                if not ids:
                    continue
            out.append({"id": row.id, "at": row.at.isoformat(), "actor": row.actor,
                        "action": row.action, "case_ids": ids, "purpose": row.purpose})
    return out
