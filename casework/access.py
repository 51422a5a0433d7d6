"""The processing log: who read or changed which cases, when and for what purpose.

Append-only and tamper-evident: each entry carries the hash of the one before it and a hash
over its own content and that link, so `casework audit verify` finds the first entry that
was changed or removed (casework/audit.py)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Integer, String, bindparam, func, insert, select, text
from sqlalchemy import Engine as SAEngine

from casework.config import Settings
from casework.direct import first
from casework.errors import ConfigError
from casework.models import AccessLog, JSONType, UTCDateTime
from casework.permissions import Actor

# One lock for everyone who appends to the log on PostgreSQL (SQLite has one writer anyway).
_LOG_LOCK = 0x63617365
# The execution option that carries the chain key from the Engine to every connection.
KEY_OPTION = "casework_chain_key"


def stamp(moment: datetime) -> str:
    """Return a moment as the UTC text the hashes use (%Y-%m-%dT%H:%M:%S.%f)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    if moment.year < 1000:  # isoformat pads the year, strftime's %Y does not
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")
    # Without its offset (+00:00): datetime.replace(tzinfo=None) costs more than the slice.
    return moment.isoformat("T", "microseconds")[:26]


# What json.dumps(sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
# makes on each call, made once.
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                              default=str)


def digest(content: Any, key: bytes | None = None) -> str:
    """Return the hex digest of content (as canonical JSON): HMAC-SHA256 with the chain key
    ([audit] key_file) when there is one, else SHA-256."""
    body = _CANONICAL.encode(content).encode("utf-8")
    if key:
        return hmac.new(key, body, hashlib.sha256).hexdigest()
    return hashlib.sha256(body).hexdigest()


def chain_hash(prev: str | None, content: dict[str, Any], key: bytes | None = None) -> str:
    """Return the hash of an entry: its content and the hash before it."""
    return digest({"prev": prev, **content}, key)


def entry_hash(prev: str | None, row_id: int, at: datetime, actor: str, action: str,
               case_ids: list[int], purpose: str | None, key: bytes | None = None) -> str:
    """Return ``chain_hash(prev, entry_content(...), key)`` for a processing-log entry: the
    same canonical JSON, its keys in sorted order, written out directly (a third of what the
    encoder costs; one advance appends one entry)."""
    if not (type(actor) is str and type(action) is str and type(row_id) is int
            and (purpose is None or type(purpose) is str)
            and (prev is None or type(prev) is str)
            and all(type(c) is int for c in case_ids)):
        return chain_hash(prev, entry_content(row_id, at, actor, action, case_ids, purpose),
                          key)
    text = encode_basestring
    body = (f'{{"action":{text(action)},"actor":{text(actor)},"at":{text(stamp(at))},'
            f'"case_ids":[{",".join(map(str, case_ids))}],"id":{row_id},'
            f'"prev":{"null" if prev is None else text(prev)},'
            f'"purpose":{"null" if purpose is None else text(purpose)}}}').encode()
    if key:
        return hmac.new(key, body, hashlib.sha256).hexdigest()
    return hashlib.sha256(body).hexdigest()


def read_chain_key(settings: Settings) -> bytes | None:
    """Return the key in [audit] key_file (None when not set); its content is never shown."""
    path = settings.key_file
    return None if path is None else read_key_file(path, "[audit] key_file")


def read_key_file(path: Path, what: str) -> bytes:
    """Return the key held in a file (surrounding white space left out)."""
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"{what} {path} cannot be read ({exc.strerror}); fix the "
                          "path or its permissions") from None
    if len(key) < 16:
        raise ConfigError(f"{what} {path} holds fewer than 16 bytes; put a long "
                          "random key in it (e.g. the output of 'openssl rand -hex 32')")
    return key


def lock_log(conn: Connection) -> None:
    """Hold the processing log's append lock until commit (PostgreSQL; SQLite has one
    writer anyway)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOG_LOCK})


def with_chain_key(db: SAEngine, settings: Settings) -> SAEngine:
    """Return the database engine carrying the chain key ([audit] key_file) to every
    connection (see chain_key), so each writer of a chain uses it without being handed it."""
    key = read_chain_key(settings)
    return db.execution_options(**{KEY_OPTION: key}) if key else db


def chain_key(conn: Connection) -> bytes | None:
    """Return the chain key the connection's engine was given (Engine: [audit] key_file)."""
    key: bytes | None = conn.get_execution_options().get(KEY_OPTION)
    return key


def entry_content(row_id: int, at: datetime, actor: str, action: str,
                  case_ids: Sequence[int], purpose: str | None) -> dict[str, Any]:
    return {"id": row_id, "at": stamp(at), "actor": actor, "action": action,
            "case_ids": [int(c) for c in case_ids], "purpose": purpose}


_LOG = AccessLog.__table__
_PREV = _LOG.alias("prev")
# The newest entry: the one the next is linked to.
_HEAD = select(_LOG.c.id, _LOG.c.hash).order_by(_LOG.c.id.desc()).limit(1)
# Built once (compiled and cached a single time): append an entry linked to the one believed
# to be the newest (b_prev_id, its hash b_prev_hash; 0 and '' for an empty log). The statement
# itself checks, under the write lock, that it still is the newest and still has that hash;
# when not (another process appended meanwhile, a transaction that appended was rolled back),
# it inserts nothing and the caller reads the head again. One statement per entry when the
# head is known, and never two entries after the same one.
_APPEND_AFTER = insert(_LOG).from_select(
    ["id", "at", "actor", "action", "case_ids", "purpose", "prev_hash", "hash"],
    select(bindparam("b_id", type_=Integer()), bindparam("b_at", type_=UTCDateTime()),
           bindparam("b_actor", type_=String()), bindparam("b_action", type_=String()),
           bindparam("b_case_ids", type_=JSONType), bindparam("b_purpose", type_=String()),
           bindparam("b_prev", type_=String()), bindparam("b_hash", type_=String()))
    .where(func.coalesce(select(func.max(_PREV.c.id)).scalar_subquery(), 0)
           == bindparam("b_prev_id", type_=Integer()),
           func.coalesce(select(_PREV.c.hash).where(_PREV.c.id == bindparam("b_prev_id"))
                         .scalar_subquery(), "")
           == bindparam("b_prev_hash", type_=String()))
).returning(_LOG.c.id)  # (rowcount is not told for INSERT ... SELECT on every driver)
# The head of the chain as this process last appended to it, per connection pool (database):
# (id, hash). Only a guess: _APPEND_AFTER checks it.
_HEADS: WeakKeyDictionary[Any, tuple[int, str | None]] = WeakKeyDictionary()


def log_access(conn: Connection, actor: Actor, action: str, case_ids: Sequence[int],
               purpose: str | None, at: datetime) -> None:
    """Record one row for a read or change of one or more cases (a listing is one row),
    linked to the entry before it.

    The head this process last wrote is remembered (per database), so an entry usually costs
    one statement; two processes appending at once still make one unbroken chain (see
    _APPEND_AFTER)."""
    lock_log(conn)
    case_ids = [int(c) for c in case_ids]
    pool = conn.engine.pool
    head = _HEADS.get(pool)
    key = chain_key(conn)
    for _attempt in range(3):
        if head is None:
            # After a failed append the write lock (SQLite) or the advisory lock (PostgreSQL)
            # is ours until commit: the head read now stays the head.
            row = first(conn, _HEAD, {})
            head = (row[0], row[1]) if row is not None else (0, None)
        prev_id, prev = head
        row_id = prev_id + 1
        hashed = entry_hash(prev, row_id, at, actor.name, action, case_ids, purpose, key)
        appended = first(conn, _APPEND_AFTER, {
            "b_id": row_id, "b_at": at, "b_actor": actor.name, "b_action": action,
            "b_case_ids": case_ids, "b_purpose": purpose, "b_prev": prev, "b_hash": hashed,
            "b_prev_id": prev_id, "b_prev_hash": prev or ""})
        if appended is not None:
            _HEADS[pool] = (row_id, hashed)
            return
        head = None
    raise RuntimeError("the processing log's newest entry kept changing; entry not written")
