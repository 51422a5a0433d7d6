"""Staff members: who may act, in which roles, on which wijken and projects."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from casework.db import unit_of_work
from casework.engine import Engine
from casework.errors import InvalidData, NotFound
from casework.permissions import RESERVED_NAMES, ROLES, Actor, NotAllowed, roles_of
from casework.text import shown


def has_staff(engine: Engine) -> bool:
    with engine.db.connect() as conn:
        return conn.execute(select(_table().c.id).limit(1)).first() is not None


def add_staff(engine: Engine, actor: Actor | None, name: str,
              role: str | list[str] | tuple[str, ...], full_name: str | None = None,
              wijken: list[str] | tuple[str, ...] = (),
              projects: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Add a staff member with one or more roles (admins); InvalidData when the name exists
    or a role is unknown. The very first staff member must be an admin, added by no one
    (actor None: there is nobody yet), who then adds the others."""
    first = not has_staff(engine)
    if not first:
        if actor is None:
            raise NotAllowed("staff exist already: an admin adds the others")
        actor.require("staff.manage")
    name = name.strip()
    if not name or not name.replace(".", "").replace("-", "").replace("_", "").isalnum():
        raise InvalidData(
            f"staff name {name!r} must be a short login name (letters, digits, . - _)",
            says=f"Een gebruikersnaam is een korte inlognaam van letters, cijfers en . - _; "
                 f"{shown(name)} is dat niet.")
    if name in RESERVED_NAMES:
        raise InvalidData(f"'{name}' is the name the daily run records its own steps under; "
                          "choose another name (e.g. 'scheduler' for the account that starts it)",
                          says=f"Onder de naam {name} legt de dagelijkse verwerking haar eigen "
                               "stappen vast; kies een andere naam.")
    roles = _check_roles(role)
    if first and "admin" not in roles:
        raise InvalidData("the first staff member must be an admin (--role admin), who then "
                          "adds the others",
                          says="De eerste medewerker moet beheerder zijn; die voegt de anderen "
                               "toe.")
    _check_projects(engine, projects)
    try:
        with unit_of_work(engine) as conn:
            conn.execute(insert(_table()).values(
                name=name, full_name=full_name, role=roles[0], roles=roles,
                wijken=list(wijken), projects=list(projects), active=True,
                created_at=engine.now(),
            ))
    except IntegrityError:
        raise InvalidData(f"staff member '{name}' already exists",
                          says=f"Er is al een medewerker met de gebruikersnaam {name}."
                          ) from None
    return {"name": name, "full_name": full_name, "role": roles[0], "roles": roles,
            "wijken": list(wijken), "projects": list(projects), "active": True}


def _check_roles(role: str | list[str] | tuple[str, ...]) -> list[str]:
    """Return the roles without repeats; InvalidData for none or an unknown one."""
    roles = [role] if isinstance(role, str) else list(dict.fromkeys(role))
    if not roles:
        raise InvalidData(f"give a role: {', '.join(ROLES)}", says="Kies minstens één rol.")
    for item in roles:
        if item not in ROLES:
            raise InvalidData(f"role {item!r} is not one of {', '.join(ROLES)}",
                              says=f"Onbekende rol: {shown(item)}.")
    return roles


def _check_projects(engine: Engine, projects: list[str] | tuple[str, ...]) -> None:
    """Refuse a project that is no route (the CLI names the known ones first, as for
    wijken: casework.cli.staff.known_wijken_and_projects)."""
    for route in projects:
        engine.registry.get(route)  # a clear error for an unknown project


def edit_staff(engine: Engine, actor: Actor, name: str,
               roles: list[str] | tuple[str, ...] | None = None,
               wijken: list[str] | tuple[str, ...] | None = None,
               projects: list[str] | tuple[str, ...] | None = None,
               full_name: str | None = None) -> dict[str, Any]:
    """Change a staff member (admins): each of roles, wijken and projects that is given
    replaces the one stored (an empty list clears wijken, or projects: every project), with
    the checks of ``add_staff``; the last active admin keeps the admin role."""
    actor.require("staff.manage")
    if roles is None and wijken is None and projects is None and full_name is None:
        raise InvalidData("nothing to change: give --role, --wijk, --project or --full-name")
    values: dict[str, Any] = {}
    if roles is not None:
        values["roles"] = _check_roles(list(roles))
        values["role"] = values["roles"][0]
    if wijken is not None:
        values["wijken"] = list(dict.fromkeys(wijken))
    if projects is not None:
        values["projects"] = list(dict.fromkeys(projects))
    _check_projects(engine, values.get("projects", ()))
    if full_name is not None:
        values["full_name"] = full_name.strip() or None
    table = _table()
    with unit_of_work(engine) as conn:
        row = conn.execute(select(table).where(table.c.name == name)).first()
        if row is None:
            raise NotFound(f"no staff member {shown(name)}; see 'casework staff list'")
        before = roles_of(row)
        if "admin" in before and "admin" not in values.get("roles", before) and row.active:
            _keep_an_admin(conn, name)
        conn.execute(update(table).where(table.c.id == row.id).values(**values))
        after = conn.execute(select(table).where(table.c.id == row.id)).one()
    member = _member(after)
    member["changed"] = sorted(k for k in values if k != "role")
    return member


def disable_staff(engine: Engine, actor: Actor, name: str) -> dict[str, Any]:
    """Disable a staff member (admins): they can no longer act or be assigned; history keeps
    them. The last active admin stays."""
    actor.require("staff.manage")
    table = _table()
    with unit_of_work(engine) as conn:
        row = conn.execute(select(table).where(table.c.name == name)).first()
        if row is None:
            raise NotFound(f"no staff member {shown(name)}; see 'casework staff list'")
        if row.active and "admin" in roles_of(row):
            _keep_an_admin(conn, name)
        conn.execute(update(table).where(table.c.id == row.id).values(active=False))
    return {"name": name, "active": False}


def _keep_an_admin(conn: Any, name: str) -> None:
    """Refuse taking away the last active admin (someone must be able to manage staff)."""
    table = _table()
    admins = [r for r in conn.execute(select(table).where(table.c.active.is_(True)))
              if "admin" in roles_of(r)]
    if len(admins) == 1:
        raise InvalidData(f"{name} is the only active admin; add another admin first "
                          "(someone must be able to manage staff)",
                          says=f"{name} is de enige actieve beheerder; maak eerst iemand anders "
                               "beheerder (iemand moet medewerkers kunnen beheren).")


def list_staff(engine: Engine, actor: Actor) -> list[dict[str, Any]]:
    """Return all staff members by name."""
    actor.require("staff.list")
    table = _table()
    with engine.db.connect() as conn:
        rows = conn.execute(select(table).order_by(table.c.name)).all()
    return [_member(r) for r in rows]


def _member(r: Any) -> dict[str, Any]:
    return {"name": r.name, "full_name": r.full_name, "role": r.role,
            "roles": list(r.roles or [r.role]), "wijken": list(r.wijken or []),
            "projects": list(r.projects or []), "active": r.active}


def _table() -> Any:
    from casework.models import Staff

    return Staff.__table__
