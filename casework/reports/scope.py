"""What a report counts: a route (or all), an optional wijk, and the events up to a date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func

from casework.engine import Engine
from casework.models import Case, Event
from casework.reports.tables import Labels
from casework.vocabulary import ALL_ROUTES


@dataclass(frozen=True)
class Scope:
    """The as-of date (inclusive), the route id (``all`` for every route) and the wijk."""

    as_of: date
    workflow: str
    wijk: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "workflow": self.workflow, "wijk": self.wijk}

    def describe(self) -> str:
        """Return the scope in Dutch, for titles."""
        route = "alle routes" if self.workflow == ALL_ROUTES else self.workflow
        return route + (f", wijk {self.wijk}" if self.wijk else "")


def end_of(engine: Engine, day: date) -> datetime:
    """Return the first moment after the local day (events before it count)."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=engine.tz)


def field(name: str) -> Any:
    """Return the SQL expression of a text value in an event's data."""
    return Event.data[name].as_string()


def case_conditions(scope: Scope) -> list[Any]:
    """Return the conditions on cases for the scope's route and wijk."""
    conditions: list[Any] = []
    if scope.workflow != ALL_ROUTES:
        conditions.append(Case.workflow_id == scope.workflow)
    if scope.wijk:
        conditions.append(Case.wijk == scope.wijk)
    return conditions


def event_conditions(engine: Engine, scope: Scope, triggers: tuple[str, ...]) -> list[Any]:
    """Return the conditions for events of these triggers recorded by the as-of date."""
    return [Event.at < end_of(engine, scope.as_of), Event.trigger.in_(triggers),
            *case_conditions(scope)]


def counted(engine: Engine, scope: Scope, *roles: str) -> tuple[str, ...]:
    """Return what the routes of the scope (every version) name for these report roles in
    their [reports] table: trigger names, or a state or task kind; empty when none does."""
    names: dict[str, None] = {}
    for route in engine.registry:
        if scope.workflow in (ALL_ROUTES, route.id):
            for role in roles:
                names.update(dict.fromkeys(route.reports.get(role, ())))
    return tuple(names)


def check(engine: Engine, scope: Scope) -> None:
    """Raise a clear error for an unknown route."""
    if scope.workflow != ALL_ROUTES:
        engine.registry.get(scope.workflow)


def count_if(condition: Any) -> Any:
    """Return SUM(CASE WHEN condition THEN 1 ELSE 0 END), 0 when there are no rows."""
    from sqlalchemy import case

    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def persons_if(condition: Any, person: Any) -> Any:
    """Return COUNT(DISTINCT person) of the rows where condition holds."""
    from sqlalchemy import case, distinct

    return func.count(distinct(case((condition, person), else_=None)))


def final_states(engine: Engine, scope: Scope) -> list[str]:
    """Return the final states of the route (every version), or of all routes."""
    return sorted({name for route in engine.registry
                   if scope.workflow in (ALL_ROUTES, route.id)
                   for name, spec in route.states.items() if spec.final})


def partner_labels(engine: Engine, scope: Scope) -> dict[str, str]:
    """Return the partners' names as the route's letters spell them."""
    from casework.vocabulary import partner_labels as labels

    return labels(engine, scope.workflow)


def report_labels(engine: Engine, scope: Scope) -> Labels:
    """Return the Dutch words the route files give the partners, states, activities and
    kinds of work of the scope, for the tables people read."""
    from casework import vocabulary

    activities: dict[str, str] = {}
    for route in engine.registry:
        if scope.workflow in (ALL_ROUTES, route.id) and "activity" in route.fields:
            activities.update(dict(route.fields["activity"].labels))
    return Labels(partners=partner_labels(engine, scope),
                  states=vocabulary.state_labels(engine, scope.workflow),
                  activities=activities, tasks=vocabulary.task_labels(engine))
