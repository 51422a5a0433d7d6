"""The processing log: who read or changed which cases, when and for what purpose."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, insert

from casework.models import AccessLog


def log_access(conn: Connection, actor: str, action: str, case_ids: Sequence[int],
               purpose: str | None, at: datetime) -> None:
    """Record one row for a read or change of one or more cases (a listing is one row)."""
    conn.execute(insert(AccessLog).values(
        at=at, actor=actor, action=action, case_ids=list(case_ids), purpose=purpose,
    ))
