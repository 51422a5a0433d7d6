"""Who may do what: every command runs as a known, active staff member with a role.

``ROLE_TABLE`` is the one matrix of what each role may do; the README's role table says
the same in words and tests/test_role_table.py holds the commands to it (``COMMANDS``
names the capability each command needs). Which cases a capability reaches follows from
the role that gives it (``ROLE_SCOPE``):

- case_worker: the cases assigned to them or in their wijken;
- coordinator and back_office: the cases of their projects (every project when none are
  listed); back office only lists them (for planning and letters), it reads no case file;
- admin: no case.

A refusal names the role that is needed and what the actor's roles do allow. The core
checks a person's access to each case it reads or changes for them (``check_cases``);
listings show only the cases they may see (``case_filter``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import false, or_, select

from casework.errors import CaseworkError, InvalidData
from casework.models import Case, Staff
from casework.vocabulary import ALL_ROUTES

ROLES = ("back_office", "case_worker", "coordinator", "admin")

# What each capability lets someone do, in words for refusals (and the README).
CAPABILITIES: dict[str, str] = {
    "case.list": "list cases",
    "case.read": "read a case file",
    "case.write": "work on a case",
    "case.assign": "assign cases",
    "exclusion.override": "override an exclusion",
    "cohort.import": "import a cohort",
    "cohort.plan": "plan waves",
    "daily": "run the daily job",
    "letters": "handle letters",
    "report": "make reports",
    "referral.export": "export referrals for a partner",
    "budget.manage": "manage budgets",
    "employers": "keep employers and meetings",
    "staff.list": "list staff",
    "staff.manage": "manage staff",
    "audit": "read and check the processing log",
    "privacy": "export or purge personal data",
    "workflow.migrate": "migrate a route's cases",
}

# role -> what it may do: the matrix the README's role table, the code and the tests share.
ROLE_TABLE: dict[str, tuple[str, ...]] = {
    "case_worker": ("case.list", "case.read", "case.write", "employers"),
    "coordinator": ("case.list", "case.read", "case.write", "case.assign",
                    "exclusion.override", "cohort.plan", "report", "referral.export",
                    "budget.manage", "employers", "staff.list"),
    "back_office": ("case.list", "cohort.import", "cohort.plan", "daily", "letters", "report",
                    "referral.export"),
    "admin": ("staff.manage", "staff.list", "audit", "privacy", "workflow.migrate"),
}

# Which cases a role's capabilities reach: its own (assigned to them or in their wijken),
# its projects' (every project when none are listed), or none.
ROLE_SCOPE: dict[str, str] = {
    "case_worker": "own", "coordinator": "projects", "back_office": "projects", "admin": "none",
}

# capability -> roles that have it (derived from ROLE_TABLE)
PERMISSIONS: dict[str, tuple[str, ...]] = {
    capability: tuple(role for role in ROLES if capability in ROLE_TABLE[role])
    for capability in CAPABILITIES
}

# The capability each command needs. The commands not listed need no staff member: 'init',
# 'db upgrade', 'db current', 'workflow list|show|validate|diagram', 'serve' (each web request
# acts as the staff member logged in) and 'simulate season' (it
# makes a training database of its own, with its own staff; tests/test_role_table.py holds
# every other command of the CLI to this table). On a new database the first 'staff add'
# needs no one either (it must add an admin); 'staff set-password' for oneself needs no role.
COMMANDS: dict[str, str] = {
    "case list": "case.list",
    "case show": "case.read",
    "case triggers": "case.read",
    "case advance": "case.write",
    "case advance --override-exclusion": "exclusion.override",
    "case open": "case.write",
    "case apply": "case.write",
    "case flag": "case.write",
    "case correct": "case.write",
    "case assign": "case.assign",
    "case assign --wave": "case.assign",
    "person find": "case.read",
    "person edit": "case.write",
    "task list": "case.read",
    "task done": "case.write",
    "consent grant": "case.write",
    "consent withdraw": "case.write",
    "consent list": "case.read",
    "budget spend": "case.write",
    "event attend": "case.write",
    "employer add": "employers",
    "employer list": "employers",
    "employer show": "employers",
    "event add": "employers",
    "event list": "employers",
    "cohort import": "cohort.import",
    "cohort plan": "cohort.plan",
    "cohort excluded": "cohort.plan",
    "daily": "daily",
    "daily --status": "daily",
    "scheduler run": "daily",
    "letters render": "letters",
    "letters list": "letters",
    "letters cancel": "letters",
    "letters preview": "letters",
    "letters batch list": "letters",
    "letters batch mark-sent": "letters",
    "letters batch remake": "letters",
    "letters returned": "letters",
    "letters check": "letters",
    "letters calibrate": "letters",
    "report": "report",
    "referral export": "referral.export",
    "budget set": "budget.manage",
    "budget show": "budget.manage",
    "staff list": "staff.list",
    "staff add": "staff.manage",
    "staff edit": "staff.manage",
    "staff disable": "staff.manage",
    "staff set-password": "staff.manage",
    "audit": "audit",
    "audit verify": "audit",
    "audit seal": "audit",
    "audit rekey": "audit",
    "privacy export": "privacy",
    "privacy purge": "privacy",
    "workflow migrate": "workflow.migrate",
}


def allowed_commands(role: str) -> list[str]:
    """Return the commands a member with only this role may run."""
    return [command for command, capability in COMMANDS.items()
            if capability in ROLE_TABLE[role]]


class NotAllowed(CaseworkError):
    """The actor is unknown, disabled, or lacks the role or the access to a case."""


# The daily run and the scheduler act under this name: every case, no person. It is not a
# staff member and cannot become one (``staff add`` refuses the name), so no login can take it.
SYSTEM_ACTOR = "daily-run"
RESERVED_NAMES = (SYSTEM_ACTOR,)


@dataclass
class Actor:
    """Who acts, with what they may do: a staff member's rights, read once when the command
    (or the web request) starts, or the system actor of the daily run. Every core call that
    acts for someone takes one; nothing else holds rights."""

    name: str
    roles: tuple[str, ...]
    wijken: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()
    system: bool = False
    # (capability, case id) -> may touch: cases looked up once per actor, not per line.
    _seen: dict[tuple[str, int], bool] = field(default_factory=dict, repr=False,
                                               compare=False)

    def __str__(self) -> str:
        return self.name

    def has(self, permission: str) -> bool:
        return self.system or any(role in self.roles for role in PERMISSIONS[permission])

    def require(self, permission: str) -> Actor:
        """Return self when the actor has the permission; NotAllowed says which role is
        needed. Every core call that acts for someone starts here."""
        if not self.has(permission):
            raise NotAllowed(refusal(self, permission))
        return self

    def require_route(self, capability: str, workflow_id: str) -> Actor:
        """Return self when the actor has the capability for a route (``all``: for every
        route); NotAllowed names their projects. A coordinator or back office with projects
        imports, plans, budgets and reports only on those."""
        self.require(capability)
        if self.system or not self.projects or "projects" not in self.scopes(capability):
            return self
        if workflow_id == ALL_ROUTES:
            raise NotAllowed(f"{self.name} may only {CAPABILITIES[capability]} "
                             f"{scope_words(self, capability)}; name one of them with "
                             "--workflow")
        if not self.covers(workflow_id):
            raise NotAllowed(f"{self.name} may only {CAPABILITIES[capability]} "
                             f"{scope_words(self, capability)}; {workflow_id} is not one of "
                             f"them (an admin can add it with 'casework staff edit "
                             f"{self.name} --project ...')")
        return self

    def scopes(self, capability: str) -> set[str]:
        """Return which cases the roles giving this capability reach: 'own', 'projects'."""
        return {ROLE_SCOPE[role] for role in self.roles
                if capability in ROLE_TABLE.get(role, ())} - {"none"}

    def covers(self, workflow_id: str) -> bool:
        """Whether a route is one of this person's projects (all are when none are listed)."""
        return not self.projects or workflow_id in self.projects

    def case_filter(self, capability: str = "case.read") -> Any:
        """Return the SQL condition for the cases this person may see for a capability
        (None: every case)."""
        if self.system:
            return None
        scopes = self.scopes(capability)
        conditions = []
        if "projects" in scopes:
            if not self.projects:
                return None  # every project
            conditions.append(Case.workflow_id.in_(self.projects))
        if "own" in scopes:
            conditions.append(Case.assigned_to == self.name)
            if self.wijken:
                conditions.append(Case.wijk.in_(self.wijken))
        return or_(*conditions) if conditions else false()

    def may_touch(self, workflow_id: str, wijk: str | None, assigned_to: str | None,
                  capability: str = "case.read") -> bool:
        if self.system:
            return True
        scopes = self.scopes(capability)
        if "projects" in scopes and self.covers(workflow_id):
            return True
        return "own" in scopes and (assigned_to == self.name or wijk in self.wijken)

    def may_open(self, workflow_id: str, wijk: str | None) -> bool:
        """Whether a case of this route in this wijk lies within the person's scope without
        being assigned to them (a case they open must not widen what they can see)."""
        if self.system:
            return True
        scopes = self.scopes("case.write")
        if "projects" in scopes and self.covers(workflow_id):
            return True
        return "own" in scopes and wijk is not None and wijk in self.wijken

    def may_hold(self, workflow_id: str) -> bool:
        """Whether a case of this route may be assigned to this person: a case worker (being
        assigned is what lets them see it) or a coordinator of the route."""
        scopes = self.scopes("case.write")
        return "own" in scopes or ("projects" in scopes and self.covers(workflow_id))

    def owns_new_case(self) -> str | None:
        """Return the actor's name when a case they open should be assigned to them (someone
        whose case work reaches only their own cases would not see it otherwise)."""
        scopes = self.scopes("case.write")
        if "own" in scopes and "projects" not in scopes:
            return self.name
        return None

    def describe(self) -> str:
        """Return the person's roles with their wijken and projects, for messages."""
        parts = [", ".join(self.roles)]
        if self.wijken and "own" in self.scopes("case.read"):
            parts.append("wijken " + ", ".join(self.wijken))
        if self.projects and any(ROLE_SCOPE.get(r) == "projects" for r in self.roles):
            parts.append("projects " + ", ".join(self.projects))
        return "; ".join(parts)


# The daily run and the scheduler: only code passes it (no command line or login reaches it).
SYSTEM = Actor(SYSTEM_ACTOR, ("system",), system=True)


def roles_of(row: Any) -> tuple[str, ...]:
    return tuple(row.roles or [row.role])


def load_actor(conn: Any, name: str) -> Actor:
    """Return a staff member as an actor; NotAllowed when unknown or disabled (deny by
    default: anyone else is refused)."""
    return load_staff(conn, name)[0]


def load_staff(conn: Any, name: str) -> tuple[Actor, Any]:
    """``load_actor``, with the member's staff row (the web session checks its password)."""
    row = conn.execute(select(Staff).where(Staff.name == name)).first()
    if row is None:
        anyone = conn.execute(select(Staff.id).limit(1)).first()
        if anyone is None:
            raise NotAllowed("no staff yet: add the first admin with "
                             f"'casework staff add {name} --role admin'")
        raise NotAllowed(f"'{name}' is not a staff member; an admin adds them with "
                         f"'casework staff add {name} --role ...'")
    if not row.active:
        raise NotAllowed(f"staff member '{name}' is disabled")
    return (Actor(name, roles_of(row), tuple(row.wijken or ()), tuple(row.projects or ())),
            row)


def resolve(engine: Any, name: str) -> Actor:
    """Return the staff member of that name as an actor, read from the engine's database
    (what the CLI does once per command)."""
    with engine.db.connect() as conn:
        return load_actor(conn, name)


def refusal(actor: Actor, permission: str) -> str:
    """Return why someone may not do this: what it needs, and what their roles do allow."""
    roles = PERMISSIONS[permission]
    needed = roles[0] if len(roles) == 1 else ", ".join(roles[:-1]) + " or " + roles[-1]
    allowed = [words for capability, words in CAPABILITIES.items() if actor.has(capability)]
    may = "; ".join(allowed) if allowed else "nothing"
    return (f"{actor.name} ({', '.join(actor.roles)}) may not {CAPABILITIES[permission]}: "
            f"that needs the role {needed} ({', '.join(actor.roles)} may: {may})")


def authorize_overrides(actor: Actor, rules: Any, note: str | None,
                        overridable: dict[str, str]) -> None:
    """Refuse overriding a rule unless it may be overridden (``overridable``: rule name ->
    the capability, as the rules say), by this actor, with a reason."""
    for rule in rules:
        capability = overridable.get(rule)
        if capability is None:
            raise InvalidData(f"rule {rule} cannot be overridden; only "
                              f"{', '.join(overridable) or 'none'} can")
        actor.require(capability)
    if rules and not (note or "").strip():
        raise InvalidData("say why with --note REASON: an override is recorded with its "
                          "reason in the timeline and the processing log")


def check_cases(conn: Any, actor: Actor, case_ids: list[int], capability: str,
                loaded: Iterable[Any] = ()) -> None:
    """Refuse when the actor may not read or change one of these cases for this capability.
    Cases are looked up once per actor, all at once (a bulk apply's chunk: one query);
    ``loaded``: the cases as already read (id, workflow_id, wijk, assigned_to), so a chunk
    or a step costs no query."""
    if actor.system:
        return
    unknown = [c for c in case_ids if (capability, c) not in actor._seen]
    if unknown:
        known = {row.id: row for row in loaded}
        rows = [known[c] for c in unknown if c in known]
        if len(rows) < len(unknown):
            rows += conn.execute(select(Case.id, Case.workflow_id, Case.wijk, Case.assigned_to)
                                 .where(Case.id.in_([c for c in unknown if c not in known]))
                                 ).all()
        for row in rows:
            actor._seen[capability, row.id] = actor.may_touch(
                row.workflow_id, row.wijk, row.assigned_to, capability)
    refused = [c for c in case_ids if actor._seen.get((capability, c)) is False]
    if refused:
        what = ("see cases" if capability in ("case.list", "case.read", "case.write")
                else f"{CAPABILITIES[capability]} for cases")
        hint = " (a coordinator can assign it)" if "own" in actor.scopes(capability) else ""
        raise NotAllowed(f"{actor.name} may only {what} {scope_words(actor, capability)}; case "
                         f"{refused[0]} is not{hint}")


def scope_words(actor: Actor, capability: str = "case.read") -> str:
    """Say which cases a person may reach for a capability, for a refusal."""
    scopes = actor.scopes(capability)
    if "projects" in scopes:
        projects = ", ".join(actor.projects)
        return f"of their projects ({projects})" if projects else "of their projects"
    if "own" in scopes:
        return "assigned to them or in their wijken"
    return "of no one: their roles (" + ", ".join(actor.roles) + ") work on no case"
