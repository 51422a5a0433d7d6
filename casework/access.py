"""The processing log: who read or changed which cases, when and for what purpose.

Append-only and tamper-evident: each entry carries the hash of the one before it and a hash
over its own content and that link, so `casework audit verify` finds the first entry that
was changed or removed (casework/audit.py)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, text, update

from casework.models import AccessLog

# One lock for everyone who appends to the log on PostgreSQL (SQLite has one writer anyway).
_LOG_LOCK = 0x63617365


def stamp(moment: datetime) -> str:
    """Return a moment as the UTC text the hashes use."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")


def chain_hash(prev: str | None, content: dict[str, Any]) -> str:
    """Return the hash of an entry: its content and the hash before it."""
    body = json.dumps({"prev": prev, **content}, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def entry_content(row_id: int, at: datetime, actor: str, action: str,
                  case_ids: Sequence[int], purpose: str | None) -> dict[str, Any]:
    return {"id": row_id, "at": stamp(at), "actor": actor, "action": action,
            "case_ids": [int(c) for c in case_ids], "purpose": purpose}


def log_access(conn: Connection, actor: str, action: str, case_ids: Sequence[int],
               purpose: str | None, at: datetime) -> None:
    """Record one row for a read or change of one or more cases (a listing is one row),
    linked to the entry before it."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOG_LOCK})
    row_id = conn.execute(insert(AccessLog).values(
        at=at, actor=actor, action=action, case_ids=list(case_ids), purpose=purpose,
    ).returning(AccessLog.id)).scalar_one()
    # Our insert holds the write lock (SQLite) or the advisory lock (PostgreSQL) until
    # commit, so the entry before ours is committed and no other can come between.
    prev = conn.execute(select(AccessLog.hash).where(AccessLog.id < row_id)
                        .order_by(AccessLog.id.desc()).limit(1)).scalar()
    digest = chain_hash(prev, entry_content(row_id, at, actor, action, case_ids, purpose))
    conn.execute(update(AccessLog).where(AccessLog.id == row_id)
                 .values(prev_hash=prev, hash=digest))
