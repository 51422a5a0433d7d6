"""Consent per scope (``record_report``, ``share:<partner>``): granted and withdrawn by the
person, recorded with who, when and how. Withdrawing ``share:<partner>`` stops what is still
pending for that partner: referrals not yet accepted, the timers waiting on them, queued letters.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from casework.access import log_access
from casework.db import unit_of_work
from casework.effects import cancel_pending_letters
from casework.engine import CaseSnapshot, Engine
from casework.errors import InvalidData
from casework.models import Case, Consent, Referral, Task
from casework.permissions import Actor
from casework.text import shown
from casework.workflow import Route

METHODS = ("conversation", "letter", "phone")


def known_scopes(route: Route) -> list[str]:
    """Return the scopes a route knows: its consent field's choices, else record_report and
    share:<partner> for each partner choice."""
    field = route.fields.get("consent")
    if field is not None and field.choices:
        return list(field.choices)
    partners = route.fields.get("partner")
    return ["record_report", *(f"share:{p}" for p in (partners.choices if partners else ()))]


def _check(route: Route, scope: str, how: str) -> None:
    scopes = known_scopes(route)
    if scope not in scopes:
        raise InvalidData(f"consent scope {shown(scope)} is not known on {route.id}; one of "
                          f"{', '.join(scopes)}")
    if how not in METHODS:
        raise InvalidData(f"--how must be one of {', '.join(METHODS)}")


def check_scopes(route: Route, scopes: list[str], how: str) -> None:
    """Refuse (InvalidData) a scope the route does not know or a way it was given that is
    not one of METHODS, before anything is recorded."""
    for scope in scopes:
        _check(route, scope, how)


def grant_consent(engine: Engine, actor: Actor, case_id: int, scope: str, how: str,
                  at: datetime | None = None) -> dict[str, Any]:
    """Record that the person gave consent for scope (at a past moment, or now); shown in the
    case's timeline."""
    actor.require("case.write")
    with unit_of_work(engine) as conn:
        case = engine.load_case_for(conn, case_id, actor, "case.write")
        grant_in(engine, conn, case, actor, [scope], how, at)
    return {"case_id": case_id, "scope": scope, "granted": True, "how": how}


def grant_in(engine: Engine, conn: Connection, case: CaseSnapshot, actor: Actor,
             scopes: list[str], how: str, at: datetime | None = None,
             note: str | None = None) -> datetime:
    """Record consent for each scope in the caller's transaction (one event per scope), after
    checking all of them; the caller has authorized the actor for the case. Return the
    moment."""
    check_scopes(engine.route_of(case), scopes, how)
    moment = engine.now()
    for scope in scopes:  # the first event checks at; nothing was written before it
        moment = engine.record_event(conn, case, actor, "consent_granted",
                                     {"scope": scope, "how": how}, note, at=at)
        conn.execute(insert(Consent).values(
            participant_id=case.participant_id, case_id=case.id, scope=scope, granted=True,
            method=how, recorded_by=actor.name, at=moment,
        ))
    return moment


def referral_work(route: Route) -> tuple[list[str], set[str]]:
    """Return the letters a route sends with a referral and the kinds of work the states a
    referral leads to plan: what waits on the partner (cancelled with the consent)."""
    referrals = [t for t in route.transitions if t.records == "referral"]
    templates = sorted({t.letter for t in referrals if t.letter})
    kinds = {task.kind for t in referrals for task in route.states[t.dest].tasks}
    return templates, kinds


def _by_route(rows: list[Any]) -> dict[tuple[str, int], list[Any]]:
    groups: dict[tuple[str, int], list[Any]] = {}
    for row in rows:
        groups.setdefault((row.workflow_id, row.workflow_version), []).append(row)
    return groups


def withdraw_consent(engine: Engine, actor: Actor, case_id: int, scope: str, how: str,
                     at: datetime | None = None) -> dict[str, Any]:
    """Record a withdrawal (at a past moment, or now) and cancel what is pending under that
    consent; return the counts."""
    actor.require("case.write")
    with unit_of_work(engine) as conn:
        case = engine.load_case_for(conn, case_id, actor, "case.write")
        cancelled, to_pull = withdraw_in(engine, conn, case, actor, scope, how, at)
    return {"case_id": case_id, "scope": scope, "granted": False, "how": how,
            "cancelled": cancelled, "to_pull": to_pull}


def withdraw_in(engine: Engine, conn: Connection, case: CaseSnapshot, actor: Actor,
                scope: str, how: str, at: datetime | None = None,
                note: str | None = None) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Record a withdrawal in the caller's transaction and cancel what is pending under that
    consent (referrals not yet accepted, the timer waiting on the partner, referral letters
    not yet posted); the caller has authorized the actor for the case. Return the counts and
    the letters to pull from a batch not yet sent."""
    cancelled = {"referrals": 0, "tasks": 0, "letters": 0}
    to_pull: list[dict[str, Any]] = []
    _check(engine.route_of(case), scope, how)
    # Checked before anything is cancelled; without --at it is now.
    moment = engine.now() if at is None else engine.moment(at, case)
    if scope.startswith("share:"):
        partner = scope.split(":", 1)[1]
        person_cases = select(Case.id).where(Case.participant_id == case.participant_id)
        pending = conn.execute(
            select(Referral.id, Referral.case_id)
            .where(Referral.case_id.in_(person_cases), Referral.partner == partner,
                   Referral.status == "sent")
        ).all()
        now = moment
        if pending:
            conn.execute(update(Referral).where(Referral.id.in_([r.id for r in pending]))
                         .values(status="withdrawn", updated_at=now))
            cancelled["referrals"] = len(pending)
            rows = conn.execute(select(Case.id, Case.data, Case.workflow_id,
                                       Case.workflow_version)
                                .where(Case.id.in_({r.case_id for r in pending}))).all()
            for (wid, version), group in _by_route(rows).items():
                templates, kinds = referral_work(engine.registry.get(wid, version))
                # The timer waits on a case's latest referral: only that partner's counts.
                waiting = [row.id for row in group
                           if (row.data or {}).get("partner") == partner]
                cancelled["tasks"] += conn.execute(
                    update(Task).where(Task.case_id.in_(waiting), Task.status == "open",
                                       Task.kind.in_(kinds))
                    .values(status="cancelled", done_at=now,
                            result={"cancelled": f"consent {scope} withdrawn"})
                ).rowcount
                for template in templates:
                    letters = cancel_pending_letters(conn, [row.id for row in group],
                                                     template, partner)
                    cancelled["letters"] += letters.count
                    to_pull.extend(letters.to_pull)
    moment = engine.record_event(conn, case, actor, "consent_withdrawn",
                                 {"scope": scope, "how": how, "cancelled": cancelled},
                                 note, at=at)
    conn.execute(insert(Consent).values(
        participant_id=case.participant_id, case_id=case.id, scope=scope, granted=False,
        method=how, recorded_by=actor.name, at=moment,
    ))
    return cancelled, to_pull


def list_consents(engine: Engine, actor: Actor, case_id: int) -> dict[str, Any]:
    """Return the person's consent history and what holds now, per scope; logs the read."""
    actor.require("case.read")
    with unit_of_work(engine) as conn:
        case = engine.load_case_for(conn, case_id, actor, "case.read")
        return consents_of(conn, engine, actor, case)


def consents_of(conn: Connection, engine: Engine, actor: Actor,
                case: CaseSnapshot) -> dict[str, Any]:
    """``list_consents`` of a case already loaded (and checked) in conn's transaction."""
    rows = conn.execute(
        select(Consent.__table__)
        .where(Consent.__table__.c.participant_id == case.participant_id)
        .order_by(Consent.__table__.c.id)
    ).all()
    log_access(conn, actor, "consent list", [case.id], f"project {case.workflow_id}",
               engine.now())
    current: dict[str, bool] = {}
    history = []
    for row in rows:
        current[row.scope] = row.granted
        history.append({"scope": row.scope, "granted": row.granted, "how": row.method,
                        "recorded_by": row.recorded_by, "at": row.at.isoformat(),
                        "case_id": row.case_id})
    return {"case_id": case.id, "current": current, "history": history}
