"""Who may do what: every command runs as a known, active staff member with a role.

- back_office: imports, the daily run, letters, reports, partner exports;
- case_worker: the cases assigned to them or in their wijken;
- coordinator: the cases of their projects (all projects when none are listed), planning,
  budgets, reports, assignment;
- admin: staff, the processing log, privacy (export, purge), route versions.

A refusal names the role that is needed. The core checks a person's access to each case it
reads or changes for them (``check_cases``); listings show only the cases they may see
(``case_filter``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import false, or_, select

from casework.errors import CaseworkError
from casework.models import Case, Staff

ROLES = ("back_office", "case_worker", "coordinator", "admin")

# permission -> roles that have it
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "staff.manage": ("admin",),
    "staff.list": ("admin", "coordinator"),
    "cohort.import": ("back_office",),
    "cohort.plan": ("back_office", "coordinator"),
    "daily": ("back_office",),
    "letters": ("back_office",),
    "report": ("back_office", "coordinator"),
    "referral.export": ("back_office", "coordinator"),
    "case.read": ("case_worker", "coordinator"),
    "case.write": ("case_worker", "coordinator"),
    "case.assign": ("coordinator",),
    "budget.manage": ("coordinator",),
    "employers": ("case_worker", "coordinator"),
    "audit": ("admin",),
    "privacy": ("admin",),
    "workflow.migrate": ("admin",),
}
CASE_ROLES = ("case_worker", "coordinator")


class NotAllowed(CaseworkError):
    """The actor is unknown, disabled, or lacks the role or the access to a case."""


# The daily run and the scheduler act under this name: every case, no person. It is not a
# staff member and cannot become one (``staff add`` refuses the name), so no login can take it.
SYSTEM_ACTOR = "daily-run"
RESERVED_NAMES = (SYSTEM_ACTOR,)


@dataclass
class Access:
    name: str
    roles: tuple[str, ...]
    wijken: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()
    system: bool = False
    _seen: dict[int, bool] = field(default_factory=dict, repr=False)

    def has(self, permission: str) -> bool:
        return self.system or any(role in self.roles for role in PERMISSIONS[permission])

    def case_filter(self) -> Any:
        """Return the SQL condition for the cases this person may see (None: every case)."""
        if self.system:
            return None
        conditions = []
        if "coordinator" in self.roles:
            if not self.projects:
                return None  # every project
            conditions.append(Case.workflow_id.in_(self.projects))
        if "case_worker" in self.roles:
            conditions.append(Case.assigned_to == self.name)
            if self.wijken:
                conditions.append(Case.wijk.in_(self.wijken))
        return or_(*conditions) if conditions else false()

    def may_touch(self, workflow_id: str, wijk: str, assigned_to: str | None) -> bool:
        if self.system:
            return True
        if "coordinator" in self.roles and (not self.projects
                                            or workflow_id in self.projects):
            return True
        return "case_worker" in self.roles and (assigned_to == self.name
                                                or wijk in self.wijken)

    def may_open(self, workflow_id: str, wijk: str | None) -> bool:
        """Whether a case of this route in this wijk lies within the person's scope without
        being assigned to them (a case they open must not widen what they can see)."""
        if self.system:
            return True
        if "coordinator" in self.roles and (not self.projects
                                            or workflow_id in self.projects):
            return True
        return "case_worker" in self.roles and wijk is not None and wijk in self.wijken


SYSTEM = Access(SYSTEM_ACTOR, ("system",), system=True)


def roles_of(row: Any) -> tuple[str, ...]:
    return tuple(row.roles or [row.role])


def load_access(conn: Any, actor: str) -> Access:
    """Return what a staff member may do; NotAllowed when unknown or disabled."""
    row = conn.execute(select(Staff).where(Staff.name == actor)).first()
    if row is None:
        anyone = conn.execute(select(Staff.id).limit(1)).first()
        if anyone is None:
            raise NotAllowed("no staff yet: add the first admin with "
                             f"'casework staff add {actor} --role admin'")
        raise NotAllowed(f"'{actor}' is not a staff member; an admin adds them with "
                         f"'casework staff add {actor} --role ...'")
    if not row.active:
        raise NotAllowed(f"staff member '{actor}' is disabled")
    return Access(actor, roles_of(row), tuple(row.wijken or ()), tuple(row.projects or ()))


def act_as_system(engine: Any) -> str:
    """Let this engine act as the daily run (every case); return the system actor's name.
    Only code calls this (the daily run, the scheduler): no command line or login reaches it."""
    engine.access[SYSTEM_ACTOR] = SYSTEM
    return SYSTEM_ACTOR


def access_of(engine: Any, actor: str, conn: Any = None) -> Access:
    """Return the actor's rights: the system actor when this engine acts as it, else the
    staff member's, read once per engine. Deny by default: anyone else is refused."""
    access: Access | None = engine.access.get(actor)
    if access is None:
        if conn is None:
            with engine.db.connect() as fresh:
                access = load_access(fresh, actor)
        else:
            access = load_access(conn, actor)
        engine.access[actor] = access
    return access


def authorize(engine: Any, actor: str, permission: str, conn: Any = None) -> Access:
    """Return the actor's access when they have the permission; NotAllowed says which role
    is needed. Every core call that acts for someone starts here."""
    access = access_of(engine, actor, conn)
    if not access.has(permission):
        needed = " or ".join(PERMISSIONS[permission])
        raise NotAllowed(f"{actor} ({', '.join(access.roles)}) may not do this: it needs the "
                         f"role {needed}")
    return access


def check_cases(engine: Any, conn: Any, actor: str, case_ids: list[int]) -> None:
    """Refuse when the actor may not read or change one of these cases (an actor without
    known rights may not touch any)."""
    access = access_of(engine, actor, conn)
    if access.system:
        return
    unknown = [c for c in case_ids if c not in access._seen]
    if unknown:
        rows = conn.execute(select(Case.id, Case.workflow_id, Case.wijk, Case.assigned_to)
                            .where(Case.id.in_(unknown))).all()
        for row in rows:
            access._seen[row.id] = access.may_touch(row.workflow_id, row.wijk,
                                                    row.assigned_to)
    refused = [c for c in case_ids if access._seen.get(c) is False]
    if refused:
        raise NotAllowed(f"{actor} may only see cases {scope_words(access)}; case "
                         f"{refused[0]} is not (a coordinator can assign it)")


def scope_words(access: Access) -> str:
    """Say which cases a person may see, for a refusal."""
    if "coordinator" in access.roles:
        return "of their projects"
    if "case_worker" in access.roles:
        return "assigned to them or in their wijken"
    return "of no one: their roles (" + ", ".join(access.roles) + ") work on no case"


def visible(engine: Any, actor: str) -> Any:
    """Return the SQL condition on cases a person may see (None: every case)."""
    return access_of(engine, actor).case_filter()


def owns_new_case(engine: Any, actor: str) -> str | None:
    """Return the actor when a case they open should be assigned to them (a case worker
    who is not also a coordinator would not see it otherwise)."""
    access = access_of(engine, actor)
    if "case_worker" in access.roles and "coordinator" not in access.roles:
        return actor
    return None
