"""events hashed field by field, so a purge keeps the rest checkable

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30

Adds ``events.redacted_digests`` (the digests a purge keeps of the fields it blanks) and
re-seals the sealed events in the new format, in which each field has its own digest.

The old chain is checked first, the old way (events redacted by a purge skipped, as the old
``audit verify`` did). The events up to the first one the old check finds changed are
re-sealed; from that event on the old hashes stay, so the new ``audit verify`` reports the
same first problem the old one would have: evidence is never laundered by an upgrade. Events
an old purge redacted are sealed as they are now (their blanked text was not checkable before
either).

When ``[audit] key_file`` is set (``casework init`` and ``casework db upgrade`` pass the key
along), both chains are re-made with the key: the processing log up to its first problem
too. The hashing is copied here (not imported) so this migration keeps doing what it did.
"""

import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
KEY_OPTION = "casework_chain_key"
CHUNK = 5000

events = sa.table(
    "events", sa.column("id", sa.Integer), sa.column("case_id", sa.Integer),
    sa.column("seq", sa.Integer), sa.column("at", sa.DateTime),
    sa.column("actor", sa.String), sa.column("trigger", sa.String),
    sa.column("from_state", sa.String), sa.column("to_state", sa.String),
    sa.column("data", JSON), sa.column("note", sa.Text), sa.column("reason", sa.String),
    sa.column("hash", sa.String), sa.column("redacted_at", sa.DateTime),
)
access_log = sa.table(
    "access_log", sa.column("id", sa.Integer), sa.column("at", sa.DateTime),
    sa.column("actor", sa.String), sa.column("action", sa.String),
    sa.column("case_ids", JSON), sa.column("purpose", sa.String),
    sa.column("prev_hash", sa.String), sa.column("hash", sa.String),
)
seals = sa.table("seals", sa.column("name", sa.String), sa.column("last_id", sa.Integer),
                 sa.column("last_hash", sa.String))


def _stamp(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")


def _digest(content: Any, key: bytes | None) -> str:
    body = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=str).encode("utf-8")
    if key:
        return hmac.new(key, body, hashlib.sha256).hexdigest()
    return hashlib.sha256(body).hexdigest()


def _old_event(row: Any) -> dict[str, Any]:
    return {"id": row.id, "case_id": row.case_id, "seq": row.seq, "at": _stamp(row.at),
            "actor": row.actor, "trigger": row.trigger, "from": row.from_state,
            "to": row.to_state, "data": row.data or {}, "note": row.note,
            "reason": row.reason}


def _new_event(row: Any, key: bytes | None) -> dict[str, Any]:
    def field(name: str, value: Any) -> str:
        return _digest({"event": row.id, "field": name, "value": value}, key)

    return {"v": 2, "id": row.id, "case_id": row.case_id, "seq": row.seq,
            "at": _stamp(row.at), "actor": row.actor, "trigger": row.trigger,
            "from": row.from_state, "to": row.to_state, "reason": row.reason,
            "note": field("note", row.note),
            "data": {k: field("data." + k, v) for k, v in (row.data or {}).items()}}


def _entry(row: Any) -> dict[str, Any]:
    return {"id": row.id, "at": _stamp(row.at), "actor": row.actor, "action": row.action,
            "case_ids": [int(c) for c in row.case_ids or []], "purpose": row.purpose}


def _reseal_events(conn: Any, key: bytes | None) -> None:
    seal = conn.execute(sa.select(seals.c.last_id, seals.c.last_hash)
                        .where(seals.c.name == "events")).first()
    if seal is None or not seal.last_id:
        return
    old_prev: str | None = None
    new_prev: str | None = None
    intact = True
    after = 0
    while True:
        rows = conn.execute(sa.select(events).where(events.c.id > after,
                                                    events.c.id <= seal.last_id)
                            .order_by(events.c.id).limit(CHUNK)).all()
        if not rows:
            break
        updates = []
        for row in rows:
            body = {"prev": old_prev, **_old_event(row)}
            if row.redacted_at is None and row.hash != _digest(body, None):
                intact = False  # from here on the old hashes stay: verify finds it again
                break
            old_prev = row.hash
            new_prev = _digest({"prev": new_prev, **_new_event(row, key)}, key)
            updates.append({"b_id": row.id, "b_hash": new_prev})
        if updates:
            conn.execute(sa.update(events).where(events.c.id == sa.bindparam("b_id"))
                         .values(hash=sa.bindparam("b_hash")), updates)
        if not intact:
            return
        after = rows[-1].id
    if old_prev == seal.last_hash:
        conn.execute(sa.update(seals).where(seals.c.name == "events")
                     .values(last_hash=new_prev))


def _rechain_log(conn: Any, key: bytes) -> None:
    prev: str | None = None
    new_prev: str | None = None
    after = 0
    while True:
        rows = conn.execute(sa.select(access_log).where(access_log.c.id > after)
                            .order_by(access_log.c.id).limit(CHUNK)).all()
        if not rows:
            return
        updates = []
        broken = False
        for row in rows:
            if row.prev_hash != prev or row.hash != _digest({"prev": prev, **_entry(row)}, None):
                broken = True
                break
            prev = row.hash
            link = new_prev
            new_prev = _digest({"prev": new_prev, **_entry(row)}, key)
            updates.append({"b_id": row.id, "b_prev": link, "b_hash": new_prev})
        if updates:
            conn.execute(sa.update(access_log).where(access_log.c.id == sa.bindparam("b_id"))
                         .values(prev_hash=sa.bindparam("b_prev"),
                                 hash=sa.bindparam("b_hash")), updates)
        if broken:
            return
        after = rows[-1].id


def upgrade() -> None:
    """Upgrade schema."""

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("redacted_digests", JSON, nullable=True))
    conn = op.get_bind()
    key = conn.get_execution_options().get(KEY_OPTION)
    _reseal_events(conn, key)
    if key:
        _rechain_log(conn, key)


def downgrade() -> None:
    """Downgrade schema (the events keep their new-format hashes: re-seal to check them
    the old way)."""

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("redacted_digests")
