"""The words of the routes and the data: the values a filter may take (routes, states, wijken,
staff, task kinds, partners, exclusion reasons) and the Dutch labels the route files give them.

A filter given a value that is none of these is a typo, refused with the known values,
instead of answering '0 cases'. Values found only in stored rows (a state of an older route
version, a task kind planned by the engine itself) count as known too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, exists, select

from casework.models import Case, Referral, Staff, Task

if TYPE_CHECKING:
    from casework.engine import Engine
    from casework.workflow import Route

ALL_ROUTES = "all"
UNASSIGNED = "-"
# Work the engine plans itself, besides the routes' tasks.
ENGINE_TASK_KINDS = ("address_check", "escalation", "new_appointment")


def _routes(engine: Engine, workflow: str | None) -> list[Route]:
    return [route for route in engine.registry
            if workflow in (None, ALL_ROUTES) or route.id == workflow]


def routes(engine: Engine) -> list[str]:
    """Return the ids of the loaded routes."""
    return sorted({route.id for route in engine.registry})


def route_labels(engine: Engine) -> dict[str, str]:
    """Return the name of each route as its file gives it (its newest version's)."""
    labels: dict[str, tuple[int, str]] = {}
    for route in engine.registry:
        if route.id not in labels or route.version > labels[route.id][0]:
            labels[route.id] = (route.version, route.label)
    return {route: label for route, (_, label) in sorted(labels.items())}


def routes_in_use(engine: Engine) -> list[str]:
    """Return the ids of the loaded routes that have cases (one indexed look-up per route,
    not a scan of the cases)."""
    return [route for route in routes(engine) if _stored(engine, Case.workflow_id == route)]


def states(engine: Engine, workflow: str | None = None, also: str | None = None) -> list[str]:
    """Return the states of the route (every version) or of all routes; ``also`` is added
    when a stored case is in that state."""
    names = {name for route in _routes(engine, workflow) for name in route.states}
    if also and also not in names and _stored(engine, Case.state == also):
        names.add(also)
    return sorted(names)


def state_labels(engine: Engine, workflow: str | None = None) -> dict[str, str]:
    """Return the Dutch label of each state, as the route files give them."""
    labels: dict[str, str] = {}
    for route in _routes(engine, workflow):
        for name, spec in route.states.items():
            labels[name] = spec.label or name
    return labels


def partner_labels(engine: Engine, workflow: str | None = None) -> dict[str, str]:
    """Return the partners' names as the route files (and their letters) spell them."""
    labels: dict[str, str] = {}
    for route in _routes(engine, workflow):
        if "partner" in route.fields:
            labels.update(dict(route.fields["partner"].labels))
    return labels


def consent_words(scope: str, partners: dict[str, str], infinitive: bool = False) -> str:
    """Say in Dutch what a consent scope allows, as a label ('verslag vastleggen', 'gegevens
    delen met het WIJ-team') or, ``infinitive``, inside a sentence ('... om een verslag vast
    te leggen', '... om gegevens te delen met het WIJ-team'); partners by their names."""
    if scope == "record_report":
        return "een verslag vast te leggen" if infinitive else "verslag vastleggen"
    if scope.startswith("share:"):
        partner = scope.split(":", 1)[1]
        verb = "te delen" if infinitive else "delen"
        return f"gegevens {verb} met {partners.get(partner, partner)}"
    return f"'{scope}'" if infinitive else scope


def partners(engine: Engine, workflow: str | None = None) -> list[str]:
    """Return the partners a route refers to, and any partner a referral was made to."""
    names = set(partner_labels(engine, workflow))
    with engine.db.connect() as conn:
        names.update(conn.execute(select(Referral.partner).distinct()).scalars())
    return sorted(names)


def task_labels(engine: Engine) -> dict[str, str]:
    """Return the label of each kind of work the routes plan."""
    labels: dict[str, str] = {}
    for route in engine.registry:
        for spec in route.states.values():
            for task in spec.tasks:
                labels.setdefault(task.kind, task.label or task.kind)
    return labels


def task_kinds(engine: Engine, also: str | None = None) -> list[str]:
    """Return the kinds of work the routes and the engine plan; ``also`` is added when a
    stored task is of that kind."""
    kinds = set(task_labels(engine)) | set(ENGINE_TASK_KINDS)
    if also and also not in kinds and _stored(engine, Task.kind == also):
        kinds.add(also)
    return sorted(kinds)


def wijken(engine: Engine, workflow: str | None = None) -> list[str]:
    """Return the wijken of the stored cases (of the route, when given)."""
    query = select(Case.wijk).distinct()
    if workflow not in (None, ALL_ROUTES):
        query = query.where(Case.workflow_id == workflow)
    with engine.db.connect() as conn:
        return sorted(w for w in conn.execute(query).scalars() if w)


def has_wijk(engine: Engine, wijk: str, workflow: str | None = None) -> bool:
    """Return whether a stored case (of the route, when given) is in the wijk: an indexed
    look-up, so a right --wijk costs nothing; the whole list is read only for a typo."""
    condition = Case.wijk == wijk
    if workflow not in (None, ALL_ROUTES):
        condition = and_(condition, Case.workflow_id == workflow)
    return _stored(engine, condition)


def staff_names(engine: Engine) -> list[str]:
    """Return the login names of the staff members (disabled ones too: their cases stay)."""
    with engine.db.connect() as conn:
        return sorted(conn.execute(select(Staff.name)).scalars())


def workers(engine: Engine) -> list[str]:
    """Return the active staff members who work on cases (a case worker or coordinator role):
    who hold conversations in a wave and may be assigned cases."""
    with engine.db.connect() as conn:
        return workers_in(conn)


def workers_in(conn: Any) -> list[str]:
    """Return ``workers`` as read on this connection (inside a transaction of the caller)."""
    from casework.permissions import roles_of

    rows = conn.execute(select(Staff).where(Staff.active.is_(True)))
    return sorted(row.name for row in rows
                  if set(roles_of(row)) & {"case_worker", "coordinator"})


def exclusion_reasons(engine: Engine, workflow: str | None = None) -> list[str]:
    """Return the reasons the built-in exclusion rule gives, and any reason a stored case
    was excluded for (a rule of the organisation's own may have its own)."""
    from casework.rules.exclusion import WORDS

    query = select(Case.excluded).where(Case.excluded.is_not(None)).distinct()
    if workflow not in (None, ALL_ROUTES):
        query = query.where(Case.workflow_id == workflow)
    with engine.db.connect() as conn:
        return sorted(set(WORDS) | set(conn.execute(query).scalars()))


def exclusion_words(engine: Engine, reason: str) -> str:
    """Say in Dutch why a person is kept out ('de persoon is verhuisd'), for the pages; a
    reason of an organisation's own rule is named as it is."""
    from casework.rules.exclusion import WORDS_NL

    months = engine.settings["rules.exclusion.guidance_months"]
    words = WORDS_NL.get(reason)
    return (f"de persoon {words.format(months=months)}" if words
            else f"uitgesloten ({reason})")


def _stored(engine: Engine, condition: Any) -> bool:
    with engine.db.connect() as conn:
        return bool(conn.execute(select(exists().where(condition))).scalar())
