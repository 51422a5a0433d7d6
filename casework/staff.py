"""Staff members: who may act, in which roles, on which wijken and projects."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from casework.engine import Engine
from casework.errors import InvalidData, NotFound
from casework.permissions import RESERVED_NAMES, ROLES


def has_staff(engine: Engine) -> bool:
    with engine.db.connect() as conn:
        return conn.execute(select(_table().c.id).limit(1)).first() is not None


def add_staff(engine: Engine, name: str, role: str | list[str] | tuple[str, ...],
              full_name: str | None = None, wijken: list[str] | tuple[str, ...] = (),
              projects: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Add a staff member with one or more roles; InvalidData when the name exists or a role
    is unknown. The very first staff member must be an admin (who then adds the others)."""
    name = name.strip()
    if not name or not name.replace(".", "").replace("-", "").replace("_", "").isalnum():
        raise InvalidData(
            f"staff name {name!r} must be a short login name (letters, digits, . - _)"
        )
    if name in RESERVED_NAMES:
        raise InvalidData(f"'{name}' is the name the daily run records its own steps under; "
                          "choose another name (e.g. 'scheduler' for the account that starts it)")
    roles = [role] if isinstance(role, str) else list(dict.fromkeys(role))
    if not roles:
        raise InvalidData(f"give a role: {', '.join(ROLES)}")
    for item in roles:
        if item not in ROLES:
            raise InvalidData(f"role {item!r} is not one of {', '.join(ROLES)}")
    if not has_staff(engine) and "admin" not in roles:
        raise InvalidData("the first staff member must be an admin (--role admin), who then "
                          "adds the others")
    for route in projects:
        engine.registry.get(route)  # a clear error for an unknown project
    try:
        with engine.db.begin() as conn:
            conn.execute(insert(_table()).values(
                name=name, full_name=full_name, role=roles[0], roles=roles,
                wijken=list(wijken), projects=list(projects), active=True,
                created_at=engine.now(),
            ))
    except IntegrityError:
        raise InvalidData(f"staff member '{name}' already exists") from None
    return {"name": name, "full_name": full_name, "role": roles[0], "roles": roles,
            "wijken": list(wijken), "projects": list(projects), "active": True}


def disable_staff(engine: Engine, name: str) -> dict[str, Any]:
    """Disable a staff member: they can no longer act or be assigned; history keeps them."""
    table = _table()
    with engine.db.begin() as conn:
        done = conn.execute(update(table).where(table.c.name == name).values(active=False))
        if done.rowcount != 1:
            raise NotFound(f"no staff member '{name}'; see 'casework staff list'")
    return {"name": name, "active": False}


def list_staff(engine: Engine) -> list[dict[str, Any]]:
    """Return all staff members by name."""
    table = _table()
    with engine.db.connect() as conn:
        rows = conn.execute(select(table).order_by(table.c.name)).all()
    return [{"name": r.name, "full_name": r.full_name, "role": r.role,
             "roles": list(r.roles or [r.role]), "wijken": list(r.wijken or []),
             "projects": list(r.projects or []), "active": r.active} for r in rows]


def _table() -> Any:
    from casework.models import Staff

    return Staff.__table__
