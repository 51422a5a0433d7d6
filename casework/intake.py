"""Opening one case at a time: people who arrive by a signal, not by a cohort file."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from casework.access import log_access
from casework.cohort import REQUIRED, RowError, check_row, normalise_bsn
from casework.db import unit_of_work
from casework.engine import Engine
from casework.errors import InvalidData
from casework.fields import FieldValueError
from casework.models import Case, Event, Participant
from casework.permissions import Actor, NotAllowed
from casework.route_versions import keep_route_version
from casework.text import unclean

SOURCE_FIELD = "source"
# The option of `case open` each detail comes from, where it is not --NAME-WITH-DASHES.
_OPTIONS = {"house_number_suffix": "--suffix"}


def _check_clean(person: dict[str, str], source: str | None, note: str | None) -> None:
    """Refuse a detail, source or note holding a control character (tab, newline: notes)."""
    texts = [(_OPTIONS.get(name, "--" + name.replace("_", "-")), value, False)
             for name, value in person.items() if name != "bsn"]
    texts += [("--source", source, False), ("--note", note, True)]
    for option, value, multiline in texts:
        problem = unclean(value or "", multiline)
        if problem:
            raise InvalidData(f"{option} contains {problem}; remove it")


def open_case(engine: Engine, actor: Actor, workflow_id: str, person: dict[str, str],
              source: str | None = None, note: str | None = None,
              at: datetime | None = None) -> dict[str, Any]:
    """Open a case on the newest version of a route for one person (known by BSN, or new
    with the details given); return the case. Opened at (a past moment) or now.

    A route with a ``source`` field needs the source of the signal. A person with an open
    case on the route is refused; after a closed one a new case may open (people come back).

    The new case must lie within the opener's own scope (a coordinator's projects, a case
    worker's wijken): assigning it to themselves must not let anyone see a person they could
    not see before. A refusal says the same whether or not the person is known.
    """
    actor.require("case.write")
    _check_clean(person, source, note)
    route = engine.registry.get(workflow_id)
    data: dict[str, Any] = {}
    if SOURCE_FIELD in route.fields:
        if not source:
            raise InvalidData(f"route '{workflow_id}' needs --source: "
                              f"{route.fields[SOURCE_FIELD].describe()}")
        try:
            data[SOURCE_FIELD] = route.fields[SOURCE_FIELD].coerce(source, engine.tz)
        except FieldValueError as exc:
            raise InvalidData(f"--source: {exc}") from None
    elif source:
        data[SOURCE_FIELD] = source.strip()
    now = engine.moment(at)
    try:
        bsn = normalise_bsn(person.get("bsn", ""))
    except RowError as exc:
        raise InvalidData(f"--bsn: {exc.detail}") from None
    refused = NotAllowed(
        f"{actor.name} may not open this case: a case is opened only for a person within one's "
        f"own scope ({_scope(actor, route.id)}), whether or not the person is known; ask a "
        f"coordinator of '{route.id}'")
    keep_route_version(engine, route)
    with unit_of_work(engine) as conn:
        known = conn.execute(select(Participant).where(Participant.bsn == bsn)).first()
        if known is None or not actor.may_open(route.id, known.wijk):
            # A person outside one's scope is treated as unknown: the same questions, the
            # same refusal, so no answer tells whether the BSN is known.
            wijk = (person.get("wijk") or "").strip()
            if wijk and not actor.may_open(route.id, wijk):
                raise refused
            missing = [name for name in REQUIRED if not person.get(name, "").strip()]
            if missing:
                options = ", ".join("--" + name.replace("_", "-") for name in missing)
                raise InvalidData(f"no case opened: give {options} (the details are needed "
                                  "unless the person is known within your scope)")
            try:
                values = check_row(person, now.astimezone(engine.tz).date())
            except RowError as exc:
                raise InvalidData(f"{exc.category}: {exc.detail}") from None
            wijk = values["wijk"]
            if known is not None or not actor.may_open(route.id, wijk):
                raise refused
            person_id = conn.execute(insert(Participant).values(**values, created_at=now)
                                     .returning(Participant.id)).scalar_one()
        else:
            person_id, wijk = known.id, known.wijk
            already = conn.execute(select(Case.id, Case.wijk, Case.assigned_to).where(
                Case.participant_id == person_id, Case.workflow_id == workflow_id,
                Case.closed_at.is_(None))).first()
            if already is not None:
                if not actor.may_touch(route.id, already.wijk, already.assigned_to):
                    raise refused
                raise InvalidData(f"this person already has open case {already.id} on "
                                  f"'{workflow_id}'; add to that case instead")
        case_id = conn.execute(insert(Case).values(
            participant_id=person_id, workflow_id=route.id, workflow_version=route.version,
            state=route.initial, state_entered_at=now, wijk=wijk, data=data, opened_at=now,
            last_event_at=now, version=1, assigned_to=actor.owns_new_case(),
        ).returning(Case.id)).scalar_one()
        conn.execute(insert(Event).values(
            case_id=case_id, seq=1, at=now, recorded_at=engine.recorded_now(), actor=actor.name,
            trigger="open",
            from_state=None, to_state=route.initial,
            data={"opened_by": "case open", **data}, note=note, reason=None,
        ))
        log_access(conn, actor, "case open", [case_id], route.id, engine.now())
    return {"id": case_id, "workflow": route.id, "workflow_version": route.version,
            "state": route.initial, "new_person": known is None, **data}


def _scope(actor: Actor, route_id: str) -> str:
    if "coordinator" in actor.roles and (not actor.projects or route_id in actor.projects):
        return f"project {route_id}"
    wijken = ", ".join(actor.wijken) or "none"
    projects = ", ".join(actor.projects)
    if "coordinator" in actor.roles:
        return f"projects {projects}; wijken {wijken}"
    return f"wijken {wijken}"
