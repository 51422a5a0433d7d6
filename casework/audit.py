"""Reading and checking the processing log and the sealed case history.

- ``seal``: links every event not yet sealed into the events' hash chain (the daily run does
  this; the cost grows with the new events only) and appends the chain heads to the anchor
  file (casework/anchor.py).
- ``verify``: recomputes both chains, compares them with the anchor file and reports the
  first entry changed or removed.
- ``entries``: the log for a case, a staff member (since a date) or a person (by BSN).

An event's hash covers each field by its own digest, so a purge can blank the personal
fields (``personal_digests`` keeps their digests) and verify still checks the rest.
"""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, select, update

from casework import anchor
from casework.access import (
    chain_hash,
    chain_key,
    digest,
    entry_content,
    lock_log,
    read_key_file,
    stamp,
)
from casework.db import unit_of_work
from casework.engine import Engine
from casework.errors import AnchorError, InvalidData
from casework.models import AccessLog, Case, Event, Participant, Seal
from casework.permissions import Actor

EVENTS = anchor.EVENTS
CHUNK = 5000
FORMAT = 2  # events hashed field by field (migration 0012 re-sealed the older chains)


def _field(event_id: int, name: str, value: Any, key: bytes | None) -> str:
    # The event id keeps two equal texts from having equal digests.
    return digest({"event": event_id, "field": name, "value": value}, key)


def personal_digests(event_id: int, note: str | None, data: dict[str, Any],
                     removed: set[str], key: bytes | None) -> dict[str, Any]:
    """Return the digests a purge keeps of the personal fields it blanks (the note and the
    data keys in removed), so the event's hash can still be checked."""
    kept: dict[str, Any] = {}
    if note is not None:
        kept["note"] = _field(event_id, "note", note, key)
    gone = {k: _field(event_id, "data." + k, v, key) for k, v in data.items() if k in removed}
    if gone:
        kept["data"] = gone
    return kept


def event_content(row: Any, key: bytes | None = None) -> dict[str, Any]:
    """Return what an event's hash covers: its plain fields, and a digest of the note and of
    each data value (taken from the purge's digests where it blanked them)."""
    redacted = row.redacted_digests or {}
    data = {k: _field(row.id, "data." + k, v, key) for k, v in (row.data or {}).items()}
    for name, value in (redacted.get("data") or {}).items():
        data.setdefault(name, value)
    if row.note is None and "note" in redacted:
        note = redacted["note"]
    else:
        note = _field(row.id, "note", row.note, key)
    return {"v": FORMAT, "id": row.id, "case_id": row.case_id, "seq": row.seq,
            "at": stamp(row.at), "actor": row.actor, "trigger": row.trigger,
            "from": row.from_state, "to": row.to_state, "reason": row.reason,
            "note": note, "data": data}


_EVENT_COLUMNS = (Event.id, Event.case_id, Event.seq, Event.at, Event.actor, Event.trigger,
                  Event.from_state, Event.to_state, Event.data, Event.note, Event.reason,
                  Event.hash, Event.redacted_at, Event.redacted_digests)
_SET_HASH = (update(Event.__table__).where(Event.__table__.c.id == bindparam("b_id"))
             .values(hash=bindparam("b_hash")))


class _Raced(Exception):
    """Another process sealed the same events first."""


def seal_events(engine: Engine) -> int:
    """Link the events recorded since the last seal into the chain; return how many. Two
    processes sealing at once do not both seal: the one that loses starts again after the
    other's seal."""
    anchor.ensure_seal_row(engine, EVENTS)
    sealed = 0
    while True:
        try:
            with unit_of_work(engine) as conn:
                key = chain_key(conn)
                seal = conn.execute(select(Seal).where(Seal.name == EVENTS)
                                    .with_for_update()).one()
                last_id, last_hash = seal.last_id, seal.last_hash
                rows = conn.execute(select(*_EVENT_COLUMNS).where(Event.id > last_id)
                                    .order_by(Event.id).limit(CHUNK)).all()
                if not rows:
                    return sealed
                params = []
                for row in rows:
                    last_hash = chain_hash(last_hash, event_content(row, key), key)
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


def seal(engine: Engine, actor: Actor, new_anchor: bool = False) -> dict[str, Any]:
    """Seal the events recorded since the last seal and append the chain heads to the anchor
    file; return {"sealed": n, "anchor": what was written}."""
    actor.require("audit")
    sealed = seal_events(engine)
    return {"sealed": sealed, "anchor": anchor.write_record(engine, "seal", new_anchor)}


def _check_log(conn: Any, key: bytes | None, anchored: set[int],
               seen: dict[int, tuple[str | None, int]]) -> dict[str, Any]:
    log: dict[str, Any] = {"entries": 0, "problem": None, "head": None, "last_id": 0}
    prev: str | None = None
    previous_id = 0
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
                                                  row.case_ids or [], row.purpose), key)
        if row.hash != expected:
            log["problem"] = {"id": row.id, "what": f"entry {row.id} was changed"
                              + (" (or hashed without the key in [audit] key_file)"
                                 if key and previous_id == 0 else "")}
            break
        prev, previous_id = row.hash, row.id
        log["head"], log["last_id"] = row.hash, row.id
        if row.id in anchored:
            seen[row.id] = (row.hash, log["entries"])
    return log


def _check_events(conn: Any, key: bytes | None, anchored: set[int],
                  seen: dict[int, tuple[str | None, int]]) -> tuple[dict[str, Any], Any]:
    seal_row = conn.execute(select(Seal).where(Seal.name == EVENTS)).first()
    events: dict[str, Any] = {"sealed": 0, "unsealed": 0, "redacted": 0, "problem": None,
                              "head": None, "last_id": 0}
    last_id = seal_row.last_id if seal_row else 0
    events["unsealed"] = int(conn.execute(select(func.count()).select_from(Event)
                                          .where(Event.id > last_id)).scalar_one())
    prev = None
    for row in conn.execution_options(yield_per=CHUNK).execute(
            select(*_EVENT_COLUMNS).where(Event.id <= last_id).order_by(Event.id)):
        events["sealed"] += 1
        if row.redacted_at is not None or row.redacted_digests:
            events["redacted"] += 1  # personal fields blanked by a purge; their digests kept
        if row.hash != chain_hash(prev, event_content(row, key), key):
            events["problem"] = {
                "id": row.id, "case_id": row.case_id, "seq": row.seq,
                "what": f"event {row.id} (case {row.case_id}, step {row.seq}) was "
                        "changed, or an event before it was removed"}
            return events, seal_row
        prev = row.hash
        events["head"], events["last_id"] = row.hash, row.id
        if row.id in anchored:
            seen[row.id] = (row.hash, events["sealed"])
    if seal_row is not None and prev != seal_row.last_hash:
        events["problem"] = {"id": last_id, "what": "the last sealed events were removed"}
    return events, seal_row


def _beyond_seal(conn: Any, last_id: int) -> dict[str, Any] | None:
    """Return the problem of an event beyond the seal that carries a seal hash."""
    stray = conn.execute(select(func.min(Event.id)).where(Event.id > last_id,
                                                          Event.hash.is_not(None))).scalar()
    if stray is None:
        return None
    return {"id": stray, "what": f"event {stray} carries a seal hash but lies beyond the seal "
                                 f"(at event {last_id}): the seal record was removed or moved "
                                 "back"}


def verify(engine: Engine, actor: Actor) -> dict[str, Any]:
    """Recompute the processing log's chain and the sealed events' chain and compare them
    with the anchor file; return the first problem in each (None when intact). An intact
    result is appended to the anchor file."""
    actor.require("audit")
    with engine.db.connect() as conn:
        key = chain_key(conn)
    result = _examine(engine, key)
    if result["ok"]:
        anchor.write_record(engine, "verify")
        result["anchor"]["written"] = True
    return result


def _examine(engine: Engine, key: bytes | None) -> dict[str, Any]:
    """Return verify's findings for the chains hashed with key; nothing is written."""
    path = engine.settings.anchor_file
    section: dict[str, Any] = {"file": str(path), "records": 0, "problem": None,
                               "warning": None, "written": False}
    records: list[anchor.Record] = []
    try:
        if path.exists():
            records = anchor.read_records(path)
    except AnchorError as exc:
        section["problem"] = str(exc)
    section["records"] = len(records)
    log_seen: dict[int, tuple[str | None, int]] = {}
    event_seen: dict[int, tuple[str | None, int]] = {}
    with engine.db.connect() as conn:
        log = _check_log(conn, key, {r.log.last_id for r in records}, log_seen)
        events, seal_row = _check_events(conn, key, {r.events.last_id for r in records},
                                         event_seen)
        written = anchor.anchor_row(conn)
        beyond = _beyond_seal(conn, seal_row.last_id if seal_row else 0)
    if log["problem"] is None:
        problem = anchor.check_log(records, log["entries"], log_seen, engine)
        if problem:
            log["problem"] = {"id": None, "what": problem}
    if events["problem"] is None:
        problem = anchor.check_events(records, events["sealed"],
                                      seal_row.last_id if seal_row else 0, seal_row is not None,
                                      event_seen, engine)
        if problem:
            events["problem"] = {"id": None, "what": problem}
    if events["problem"] is None:
        events["problem"] = beyond
    if section["problem"] is None:
        section["problem"], section["warning"] = _check_file(engine, records, written, key,
                                                             log, events)
    result: dict[str, Any] = {"access_log": log, "events": events, "anchor": section,
                              "keyed": key is not None}
    result["ok"] = (log["problem"] is None and events["problem"] is None
                    and section["problem"] is None)
    return result


def rekey(engine: Engine, actor: Actor, old_key_file: Path | None = None) -> dict[str, Any]:
    """Re-make both chains with the key now in [audit] key_file (or without a key when none
    is set), after checking them, and the anchor file, with the old key (old_key_file; none:
    plain SHA-256). Return how many entries and events were re-hashed. Nothing is changed
    when the old chains do not check out."""
    actor.require("audit")
    old = read_key_file(old_key_file, "--old-key-file") if old_key_file else None
    with engine.db.connect() as conn:
        new = chain_key(conn)
    found = _examine(engine, old)
    if not found["ok"]:
        problem = (found["access_log"]["problem"] or found["events"]["problem"]
                   or {"what": found["anchor"]["problem"]})
        raise AnchorError("the chains do not check out with the old key, nothing was "
                          f"changed: {problem['what']}")
    with unit_of_work(engine) as conn:
        lock_log(conn)
        seal_row = conn.execute(select(Seal).where(Seal.name == EVENTS).with_for_update()).first()
        entries = _rehash_log(conn, new)
        events = 0
        if seal_row is not None and seal_row.last_id:
            events, head = _rehash_events(conn, new, seal_row.last_id)
            conn.execute(update(Seal).where(Seal.name == EVENTS).values(last_hash=head))
    written = anchor.write_record(engine, "rekey")
    return {"entries": entries, "events": events, "keyed": new is not None,
            "anchor": written}


def _rehash_log(conn: Any, key: bytes | None) -> int:
    prev: str | None = None
    after, count = 0, 0
    while rows := conn.execute(select(AccessLog).where(AccessLog.id > after)
                               .order_by(AccessLog.id).limit(CHUNK)).all():
        params = []
        for row in rows:
            entry_hash = chain_hash(prev, entry_content(row.id, row.at, row.actor, row.action,
                                                        row.case_ids or [], row.purpose), key)
            params.append({"b_id": row.id, "b_prev": prev, "b_hash": entry_hash})
            prev = entry_hash
        conn.execute(update(AccessLog.__table__)
                     .where(AccessLog.__table__.c.id == bindparam("b_id"))
                     .values(prev_hash=bindparam("b_prev"), hash=bindparam("b_hash")), params)
        after, count = rows[-1].id, count + len(rows)
    return count


def _rehash_events(conn: Any, key: bytes | None, last_id: int) -> tuple[int, str | None]:
    prev: str | None = None
    after, count = 0, 0
    while rows := conn.execute(select(*_EVENT_COLUMNS).where(Event.id > after,
                                                             Event.id <= last_id)
                               .order_by(Event.id).limit(CHUNK)).all():
        params = []
        for row in rows:
            prev = chain_hash(prev, event_content(row, key), key)
            params.append({"b_id": row.id, "b_hash": prev})
        conn.execute(_SET_HASH, params)
        after, count = rows[-1].id, count + len(rows)
    return count, prev


def _check_file(engine: Engine, records: list[anchor.Record], written: Any,
                key: bytes | None, log: dict[str, Any],
                events: dict[str, Any]) -> tuple[str | None, str | None]:
    """Return (problem, warning) about the anchor file itself."""
    path = engine.settings.anchor_file
    count = written.last_id if written is not None else 0
    if not records:
        if count and path.exists():
            return (f"anchor file {path} is empty, but {count} records were written to it "
                    f"since {anchor.when(written.sealed_at, engine)}"), None
        if count:
            return anchor.missing_message(path, count, written.sealed_at, engine), None
        if log["entries"] or events["sealed"]:
            return None, (f"no anchor file yet at {path}: the chains cannot be checked for "
                          "removed newest entries before today; this verify starts it")
        return None, None
    if len(records) < count:
        return (f"anchor file {path} has {len(records)} records but {count} were written "
                "to it: it was truncated or replaced"), None
    if written is None:
        return (f"the database has no record of the anchor file {path}, which holds "
                f"{len(records)} records: the seal records were removed"), None
    if records[-1].keyed and key is None:
        return (f"the anchor file recorded keyed chains on "
                f"{anchor.when(records[-1].at, engine)} but [audit] key_file is not set"), None
    return None, None


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


def read_log(engine: Engine, actor: Actor, case_id: int | None = None,
             staff: str | None = None, since: date | None = None,
             bsn: str | None = None) -> list[dict[str, Any]]:
    """The processing log for a case, a staff member or a person (admins); reading it about
    cases is itself logged."""
    from casework.access import log_access

    actor.require("audit")
    rows = entries(engine, case_id, staff, since, bsn)
    about = sorted({c for r in rows for c in r["case_ids"]} | ({case_id} if case_id else set()))
    if about:
        with unit_of_work(engine) as conn:
            log_access(conn, actor, "audit", about, "processing log", engine.now())
    return rows


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
            from casework.privacy import NOT_A_BSN

            raise InvalidData(f"--bsn: {exc.detail}", says=NOT_A_BSN) from None
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
