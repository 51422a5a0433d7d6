"""Versions of a route: each version's text is kept in the database, so cases on an old
version keep working when its file changes or goes, and open cases can be moved to a newer
version with a state mapping."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from casework.access import log_access
from casework.db import unit_of_work
from casework.errors import InvalidData, WorkflowError
from casework.models import Case, RouteVersion, Task
from casework.permissions import Actor
from casework.workflow import Registry, Route

CHUNK = 500
MIGRATE_TRIGGER = "migrate_workflow"


def check_route_versions(engine: Any, registry: Registry) -> None:
    """Compare the loaded route files with the versions kept in the database, reading only
    (every command loads the routes): load the versions kept there whose file is gone, and
    refuse a file that changed but keeps a version cases use. ``keep_route_version`` stores a
    version's text once a case is put on it."""
    try:
        with engine.db.connect() as conn:
            stored = {(r.workflow_id, r.version): r.sha256 for r in conn.execute(
                select(RouteVersion.workflow_id, RouteVersion.version, RouteVersion.sha256))}
            changed = [key for key in registry.routes if key in stored
                       and stored[key] != _digest(registry.source_of(key))]
            problems = [_changed_but_used(registry.routes[key]) for key in changed
                        if _used(conn, key)]
    except DBAPIError:
        return  # no schema yet (casework init); nothing kept
    if problems:
        raise WorkflowError(problems)
    missing = {key for key in stored if key not in registry.routes}
    if missing:
        with engine.db.connect() as conn:
            rows = conn.execute(select(RouteVersion).where(
                RouteVersion.workflow_id.in_({wid for wid, _ in missing}))).all()
        for row in rows:
            if (row.workflow_id, row.version) in missing:
                registry.add_stored(row.workflow_id, row.version, row.file_name, row.source,
                                    engine.rules)


def keep_route_version(engine: Any, route: Route) -> None:
    """Keep the text of route's file in the database before a case is put on its version, so
    its cases keep working when the file changes or goes. A file that changed but keeps a
    version cases use is refused."""
    if not route.path.is_file():
        return  # loaded from the copy kept in the database
    text = route.path.read_text(encoding="utf-8")
    digest = _digest(text)
    key = (route.id, route.version)
    try:
        with unit_of_work(engine) as conn:
            stored = conn.execute(select(RouteVersion.sha256).where(
                RouteVersion.workflow_id == key[0], RouteVersion.version == key[1])
            ).scalar_one_or_none()
            if stored == digest:
                return
            if stored is None:
                conn.execute(insert(RouteVersion).values(
                    workflow_id=key[0], version=key[1], source=text, sha256=digest,
                    file_name=route.path.name, first_seen=engine.now()))
                return
            if _used(conn, key):
                raise WorkflowError([_changed_but_used(route)])
            conn.execute(update(RouteVersion).where(
                RouteVersion.workflow_id == key[0], RouteVersion.version == key[1])
                .values(source=text, sha256=digest, file_name=route.path.name))
    except IntegrityError:
        pass  # another process stored this version just now


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _used(conn: Any, key: tuple[str, int]) -> bool:
    return conn.execute(select(Case.id).where(
        Case.workflow_id == key[0], Case.workflow_version == key[1]).limit(1)).first() is not None


def _changed_but_used(route: Route) -> str:
    return (f"{route.path}: route '{route.id}' changed but keeps version {route.version}, "
            f"which cases use; give it version {route.version + 1} (cases on version "
            f"{route.version} keep the copy kept in the database)")


def migrate_cases(engine: Any, actor: Actor, workflow_id: str, from_version: int,
                  to_version: int, mapping: dict[str, str], dry_run: bool = False
                  ) -> dict[str, Any]:
    """Move the open cases of a route from one version to another, each state to the state of
    the same name unless mapped; refused (nothing moved) when an open state has no place."""
    actor.require("workflow.migrate")
    if from_version == to_version:
        raise InvalidData("--from and --to are the same version; nothing to move")
    source = engine.registry.get(workflow_id, from_version)
    target = engine.registry.get(workflow_id, to_version)
    for old, new in mapping.items():
        if old not in source.states:
            raise InvalidData(f"--map {old}={new}: version {from_version} has no state '{old}'")
        if new not in target.states:
            known = ", ".join(s for s in target.states if not target.states[s].final)
            raise InvalidData(f"--map {old}={new}: version {to_version} has no state '{new}' "
                              f"(its open states: {known})")
        if target.states[new].final:
            closing = sorted({t.trigger for t in source.transitions
                              if t.source == old and source.is_final(t.dest)})
            how = f" with '{closing[0]}'" if closing else ""
            raise InvalidData(f"--map {old}={new}: '{new}' is a final state; open cases move "
                              f"to an open state (close them{how} instead)")
    finals = [name for name, spec in source.states.items() if spec.final]
    open_cases = [Case.workflow_id == workflow_id, Case.workflow_version == from_version,
                  Case.state.not_in(finals)]
    with engine.db.connect() as conn:
        counts = dict(conn.execute(select(Case.state, func.count()).where(*open_cases)
                                   .group_by(Case.state)).all())
    plan: dict[str, str] = {}
    unmapped: list[str] = []
    for state, count in sorted(counts.items()):
        new = mapping.get(state, state)
        if new not in target.states or target.states[new].final:
            unmapped.append(f"'{state}' ({count} open case{'s' if count != 1 else ''})")
        else:
            plan[state] = new
    if unmapped:
        raise InvalidData(
            f"version {to_version} of '{workflow_id}' has no place for state "
            f"{', '.join(unmapped)}; map each with --map OLD=NEW (nothing was moved)")
    result: dict[str, Any] = {
        "workflow": workflow_id, "from": from_version, "to": to_version, "dry_run": dry_run,
        "moves": [{"from_state": old, "to_state": new, "cases": int(counts[old])}
                  for old, new in plan.items()],
        "moved": 0, "tasks_updated": 0, "tasks_kept": {},
    }
    if dry_run:
        return result
    keep_route_version(engine, target)
    for old, new in plan.items():
        while True:
            with unit_of_work(engine) as conn:
                ids = list(conn.execute(select(Case.id).where(*open_cases, Case.state == old)
                                        .order_by(Case.id).limit(CHUNK)).scalars())
                if not ids:
                    break
                now = engine.now()
                for case_id in ids:
                    case = engine.load_case(conn, case_id)
                    engine.record_event(
                        conn, case, actor, MIGRATE_TRIGGER,
                        {"from_version": from_version, "to_version": to_version,
                         "from_state": old, "to_state": new},
                        to_state=new, workflow_version=to_version, state=new,
                        **({"state_entered_at": now} if new != old else {}))
                if new != old:
                    # Work planned for the old state does not belong to the new one.
                    conn.execute(update(Task).where(
                        Task.case_id.in_(ids), Task.status == "open", Task.scope == "state")
                        .values(status="cancelled", done_at=now))
                _follow_task_specs(conn, ids, source, target, new, result)
                log_access(conn, actor, "workflow migrate", ids, workflow_id, now)
                result["moved"] += len(ids)
    return result


def _kind_specs(route: Route, state: str) -> dict[str, Any]:
    """Return the route's task spec per kind: the state's own first, then the first state (in
    the route's order) that plans work of that kind."""
    specs: dict[str, Any] = {}
    for spec in [*route.states[state].tasks,
                 *(task for s in route.states.values() for task in s.tasks)]:
        specs.setdefault(spec.kind, spec)
    return specs


def _follow_task_specs(conn: Any, case_ids: list[int], source: Route, target: Route,
                       state: str, result: dict[str, Any]) -> None:
    """Give the cases' open work the new version's spec of its kind (scope, label, role,
    escalation, rounds, outcomes, letters): it is then handled as the new version says (work
    owed to the person outlives closing when the new version says so). Its due date stays.
    Work of a kind the new version no longer plans keeps what it had (counted in
    ``tasks_kept``); an escalation follows the scope of the work it chases."""
    from casework.tasks import escalation_scope

    specs = _kind_specs(target, state)
    old_kinds = {task.kind for s in source.states.values() for task in s.tasks}
    rows = conn.execute(select(Task.id, Task.kind, Task.scope, Task.role, Task.spec,
                               Task.assigned_to, Case.assigned_to.label("worker"))
                        .join(Case, Case.id == Task.case_id)
                        .where(Task.case_id.in_(case_ids), Task.status == "open")
                        .order_by(Task.id)).all()
    scopes: dict[int, str] = {}
    for row in rows:
        spec = specs.get(row.kind)
        if spec is None:
            scopes[row.id] = row.scope
            if row.kind in old_kinds:
                kept = result.setdefault("tasks_kept", {})
                kept[row.kind] = kept.get(row.kind, 0) + 1
            continue
        stored = spec.spec()
        if (row.spec or {}).get("until"):  # recurring work keeps the end it was given
            stored["until"] = row.spec["until"]
        assigned = row.assigned_to if spec.role == row.role else (
            None if spec.role else row.worker)
        conn.execute(update(Task).where(Task.id == row.id).values(
            scope=spec.scope, performer=spec.by, role=spec.role, label=spec.label,
            escalate_to=spec.escalate, spec=stored, assigned_to=assigned))
        scopes[row.id] = spec.scope
        result["tasks_updated"] = result.get("tasks_updated", 0) + 1
    for row in rows:
        about = (row.spec or {}).get("about_task")  # an escalation: the work it chases
        if about in scopes and escalation_scope(scopes[about]) != row.scope:
            conn.execute(update(Task).where(Task.id == row.id)
                         .values(scope=escalation_scope(scopes[about])))
