"""Staff members: who can be assigned cases."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from casework.engine import Engine
from casework.errors import InvalidData

ROLES = ("back_office", "case_worker", "coordinator", "admin")


def add_staff(engine: Engine, name: str, role: str, full_name: str | None = None) -> dict[str, Any]:
    """Add a staff member; InvalidData when the name exists or the role is unknown."""
    name = name.strip()
    if not name or not name.replace(".", "").replace("-", "").replace("_", "").isalnum():
        raise InvalidData(
            f"staff name {name!r} must be a short login name (letters, digits, . - _)"
        )
    if role not in ROLES:
        raise InvalidData(f"role {role!r} is not one of {', '.join(ROLES)}")
    try:
        with engine.db.begin() as conn:
            conn.execute(insert(_table()).values(
                name=name, full_name=full_name, role=role, active=True, created_at=engine.now(),
            ))
    except IntegrityError:
        raise InvalidData(f"staff member '{name}' already exists") from None
    return {"name": name, "full_name": full_name, "role": role, "active": True}


def list_staff(engine: Engine) -> list[dict[str, Any]]:
    """Return all staff members by name."""
    table = _table()
    with engine.db.connect() as conn:
        rows = conn.execute(select(table).order_by(table.c.name)).all()
    return [{"name": r.name, "full_name": r.full_name, "role": r.role, "active": r.active}
            for r in rows]


def _table() -> Any:
    from casework.models import Staff

    return Staff.__table__
