"""The anchor file: the heads of both hash chains, kept outside the database.

A hash chain shows that an entry was changed, but not that the newest entries (or the whole
log, or the seal record) were removed: whoever can edit the database can also leave a shorter
chain that checks out. So every seal and every intact verify appends one line to a file
outside the database ([audit] anchor_file): how many entries the processing log had, its
last entry and hash, and the same for the sealed case history. `audit verify` then checks
the database against every line written. The file is created readable by its owner only and
is only ever appended to (one JSON object per line); the database counts the lines written
(the ``anchor`` row of ``seals``), so a truncated or removed file is noticed too.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from casework.access import chain_key
from casework.db import unit_of_work
from casework.engine import Engine
from casework.errors import AnchorError
from casework.models import AccessLog, Event, Seal

ANCHOR = "anchor"  # the row in seals that counts the records written to the anchor file
EVENTS = "events"
LOG = "access_log"


@dataclass(frozen=True)
class Head:
    """One chain's head as written to the anchor file: entries up to last_id, and its hash."""

    count: int
    last_id: int
    hash: str | None


@dataclass(frozen=True)
class Record:
    """One line of the anchor file."""

    line: int
    at: datetime
    by: str
    keyed: bool
    log: Head
    events: Head



def ensure_seal_row(engine: Engine, name: str) -> None:
    """Make the seal row of that name when there is none yet (two processes may race)."""
    try:
        with unit_of_work(engine) as conn:
            if conn.execute(select(Seal.name).where(Seal.name == name)).first() is None:
                conn.execute(insert(Seal).values(name=name, last_id=0, last_hash=None,
                                                 sealed_at=engine.now()))
    except IntegrityError:
        pass  # made by another process just now

def heads(conn: Connection) -> dict[str, Head]:
    """Return the current heads: the processing log's newest entry and the events' seal."""
    last = conn.execute(select(AccessLog.id, AccessLog.hash)
                        .order_by(AccessLog.id.desc()).limit(1)).first()
    log = Head(0, 0, None)
    if last is not None:
        log = Head(int(conn.execute(select(func.count()).select_from(AccessLog)
                                    .where(AccessLog.id <= last.id)).scalar_one()),
                   last.id, last.hash)
    seal = conn.execute(select(Seal.last_id, Seal.last_hash).where(Seal.name == EVENTS)).first()
    events = Head(0, 0, None)
    if seal is not None and seal.last_id:
        events = Head(int(conn.execute(select(func.count()).select_from(Event)
                                       .where(Event.id <= seal.last_id)).scalar_one()),
                      seal.last_id, seal.last_hash)
    return {LOG: log, EVENTS: events}


def _line(moment: datetime, by: str, keyed: bool, current: dict[str, Head]) -> str:
    log, events = current[LOG], current[EVENTS]
    return json.dumps({
        "at": moment.isoformat(), "by": by, "keyed": keyed,
        LOG: {"entries": log.count, "last_id": log.last_id, "hash": log.hash},
        EVENTS: {"sealed": events.count, "last_id": events.last_id, "hash": events.hash},
    }, sort_keys=True, separators=(",", ":")) + "\n"


def _append(path: Path, text: str) -> None:
    """Append one line; the file is made (and kept) readable by its owner only."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as exc:
        raise AnchorError(f"anchor file {path} cannot be written ({exc.strerror}); fix "
                          "[audit] anchor_file or the folder's permissions") from None
    try:
        os.fchmod(descriptor, 0o600)
        os.write(descriptor, text.encode("utf-8"))  # one write: lines never interleave
    except OSError as exc:
        raise AnchorError(f"anchor file {path} cannot be written ({exc.strerror})") from None
    finally:
        os.close(descriptor)


def write_record(engine: Engine, by: str, new_file: bool = False) -> dict[str, Any]:
    """Append the current chain heads to the anchor file; return what was written. A file
    that is missing although records were written to it is not silently made again (that is
    what removing it to hide a change would look like): new_file starts a new one on
    purpose (`audit seal --new-anchor`)."""
    path = engine.settings.anchor_file
    ensure_seal_row(engine, ANCHOR)
    with unit_of_work(engine) as conn:
        row = conn.execute(select(Seal).where(Seal.name == ANCHOR).with_for_update()).one()
        started = not path.exists()
        if started and row.last_id > 0 and not new_file:
            raise AnchorError(missing_message(path, row.last_id, row.sealed_at, engine)
                              + "; restore it from a backup, or start a new one with "
                              "'casework audit seal --new-anchor' (and report the loss)")
        current = heads(conn)
        now = engine.now()
        _append(path, _line(now, by, chain_key(conn) is not None, current))
        if started:
            conn.execute(update(Seal).where(Seal.name == ANCHOR)
                         .values(last_id=1, sealed_at=now))
        else:
            conn.execute(update(Seal).where(Seal.name == ANCHOR)
                         .values(last_id=Seal.last_id + 1))
    return {"file": str(path), "started": started,
            "access_log": {"entries": current[LOG].count, "last_id": current[LOG].last_id},
            "events": {"sealed": current[EVENTS].count, "last_id": current[EVENTS].last_id}}


def missing_message(path: Path, written: int, since: datetime, engine: Engine) -> str:
    return (f"anchor file {path} is missing, but {written} records were written to it since "
            f"{when(since, engine)}")


def when(moment: datetime, engine: Engine) -> str:
    """Return a moment as local time for a message: 2026-11-30 10:02."""
    from casework.display import moment as shown_moment

    return shown_moment(moment, engine.tz)


def _head(value: Any, count_key: str) -> Head:
    if not isinstance(value, dict):
        raise ValueError
    count, last_id, digest = value[count_key], value["last_id"], value["hash"]
    if (not isinstance(count, int) or not isinstance(last_id, int)
            or not (digest is None or isinstance(digest, str))):
        raise ValueError
    return Head(count, last_id, digest)


def read_records(path: Path) -> list[Record]:
    """Return the records of the anchor file, oldest first; a line casework did not write
    is an AnchorError naming its line number."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise AnchorError(f"anchor file {path} cannot be read ({reason})") from None
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            data = json.loads(line)
            at = datetime.fromisoformat(data["at"])
            if at.tzinfo is None:
                raise ValueError
            records.append(Record(number, at, str(data["by"]), bool(data["keyed"]),
                                  _head(data[LOG], "entries"), _head(data[EVENTS], "sealed")))
        except (ValueError, KeyError, TypeError):
            raise AnchorError(f"anchor file {path}, line {number}: not a record casework "
                              "wrote; the file was edited") from None
    return records


def anchor_row(conn: Connection) -> Any:
    """Return the database's count of records written to the anchor file (None: none)."""
    return conn.execute(select(Seal.last_id, Seal.sealed_at).where(Seal.name == ANCHOR)).first()


def last_rekey(records: list[Record]) -> int:
    """Return the line of the last rekey record (0: none): the hashes anchored before it
    were made with the old key, so only their counts still compare."""
    return max((r.line for r in records if r.by == "rekey"), default=0)


def check_log(records: list[Record], entries: int, seen: dict[int, tuple[str | None, int]],
              engine: Engine) -> str | None:
    """Return what differs between the processing log and the anchor file (None: nothing).
    seen maps each anchored entry id still present to (its hash, entries up to it)."""
    if not records:
        return None
    most = max(records, key=lambda r: (r.log.count, r.line))
    if entries < most.log.count:
        return (f"the processing log has {entries} entries but the anchor file recorded "
                f"{most.log.count} on {when(most.at, engine)}: entries were removed")
    return _check_heads(records, "log", seen, engine)


def check_events(records: list[Record], sealed: int, seal_last_id: int, has_seal: bool,
                 seen: dict[int, tuple[str | None, int]], engine: Engine) -> str | None:
    """Return what differs between the sealed case history and the anchor file."""
    if not records:
        return None
    furthest = max(records, key=lambda r: (r.events.last_id, r.line))
    if seal_last_id < furthest.events.last_id:
        moment = when(furthest.at, engine)
        if not has_seal:
            return (f"the seal record is missing but the anchor file recorded "
                    f"{furthest.events.count} sealed events (up to event "
                    f"{furthest.events.last_id}) on {moment}: the seal was removed")
        return (f"the seal stops at event {seal_last_id} but the anchor file recorded it at "
                f"event {furthest.events.last_id} on {moment}: the seal was moved back")
    most = max(records, key=lambda r: (r.events.count, r.line))
    if sealed < most.events.count:
        return (f"the case history has {sealed} sealed events but the anchor file recorded "
                f"{most.events.count} on {when(most.at, engine)}: sealed events were removed")
    return _check_heads(records, "events", seen, engine)


# How each chain's findings are worded: (what an id names, how it is recorded, its total,
# the plural, what re-hashing it is called).
_WORDS = {
    "log": ("entry", "recorded", "the processing log", "entries", "the log was changed and "
          "re-chained"),
    "events": ("event", "sealed and recorded", "the case history", "events", "the case "
             "history was changed and re-sealed"),
}


def _check_heads(records: list[Record], part: str, seen: dict[int, tuple[str | None, int]],
                 engine: Engine) -> str | None:
    """Return the first anchored head of the chain (``part``: the Record's ``log`` or
    ``events``; newest first) that the chain no longer holds as it
    was: missing, with another hash (unless a rekey came after it), or another count."""
    item, recorded, chain, plural, rehashed = _WORDS[part]
    rekeyed = last_rekey(records)
    for record in reversed(records):
        head, moment = getattr(record, part), when(record.at, engine)
        if head.last_id == 0:
            continue
        if head.last_id not in seen:
            return (f"{item} {head.last_id}, {recorded} in the anchor file on {moment}, is "
                    f"missing: {plural} were removed")
        digest, count = seen[head.last_id]
        if digest != head.hash and record.line >= rekeyed:
            return (f"{item} {head.last_id} is not the one the anchor file recorded on "
                    f"{moment} (other hash): {rehashed}")
        if count != head.count:
            return (f"{chain} has {count} {plural} up to {item} {head.last_id} but the "
                    f"anchor file recorded {head.count} on {moment}: {plural} were "
                    + ("removed" if count < head.count else "added"))
    return None
