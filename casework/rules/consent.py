"""consent: nothing goes to a partner, and nothing is recorded, without the person's consent.

A transition with ``consent = "share:{partner}"`` is blocked unless that scope is granted (in
an earlier step, or in the same step's ``consent`` field); a field with ``consent = "..."``
(the conversation report's themes: ``record_report``) may only be filled with that consent.
The ``consent`` field of a step records the scopes the person gave, as given in conversation.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from casework.db import is_in
from casework.rules.hookspecs import Block, RuleContext, hookimpl

if TYPE_CHECKING:
    from casework.engine import CaseSnapshot, Step
    from casework.workflow import Route, TransitionSpec

NAME = "consent"
FIELD = "consent"


def placeholders(template: str) -> list[str]:
    return list(_placeholders(template))


@cache
def _placeholders(template: str) -> tuple[str, ...]:
    return tuple(name for _, name, _, _ in string.Formatter().parse(template) if name)


def current_consents(ctx: RuleContext, participant_id: int) -> dict[str, bool]:
    """Return scope -> granted for the person (latest record wins), cached for the batch."""
    cache: dict[int, dict[str, bool]] = ctx.scratch.setdefault("consents", {})
    if participant_id not in cache:
        preload(ctx, [participant_id])
    return cache[participant_id]


@hookimpl
def preload(ctx: RuleContext, participant_ids: list[int]) -> None:
    """Read the consents of many people in one query (a bulk apply's chunk)."""
    from casework.models import Consent

    cache: dict[int, dict[str, bool]] = ctx.scratch.setdefault("consents", {})
    wanted = [pid for pid in set(participant_ids) if pid not in cache]
    for pid in wanted:
        cache[pid] = {}
    if not wanted:
        return
    for row in ctx.conn.execute(
        select(Consent.participant_id, Consent.scope, Consent.granted)
        .where(is_in(ctx.conn, Consent.participant_id, wanted)).order_by(Consent.id)
    ):
        cache[row.participant_id][row.scope] = row.granted


@hookimpl
def consent_recorded(ctx: RuleContext, participant_id: int, scopes: list[str]) -> None:
    current_consents(ctx, participant_id).update(dict.fromkeys(scopes, True))


@hookimpl
def consent_withdrawn(ctx: RuleContext, participant_id: int, scopes: list[str]) -> None:
    current_consents(ctx, participant_id).update(dict.fromkeys(scopes, False))


@hookimpl
def check_route(route: Route) -> list[str]:
    problems = []
    for t in route.transitions:
        if t.consent:
            missing = [name for name in placeholders(t.consent) if name not in t.needs]
            if missing:
                problems.append(
                    f"transition '{t.trigger}' from '{t.source}': consent {t.consent!r} names "
                    f"'{missing[0]}', which the transition does not need (rule consent)"
                )
    return problems


def scope_words(route: Route, scope: str) -> str:
    """Say in a sentence what a consent scope allows: 'een verslag vast te leggen', 'gegevens
    te delen met het WIJ-team' (partners as the route's partner field names them)."""
    from casework.vocabulary import consent_words

    field = route.fields.get("partner")
    return consent_words(scope, dict(field.labels) if field is not None else {},
                         infinitive=True)


def _blocked(route: Route, scope: str, granted: Mapping[str, bool], given: set[str],
             case_id: int, why: str, why_nl: str) -> Block | None:
    if granted.get(scope) or scope in given:
        return None
    state = "was withdrawn" if scope in granted else "is not recorded"
    state_nl = ("is ingetrokken" if scope in granted else "is niet vastgelegd")
    return Block(NAME, f"{why}: consent '{scope}' {state}; record it with 'casework consent "
                       f"grant {case_id} {scope} --how conversation|letter|phone'",
                 says=f"{why_nl}: de toestemming om {scope_words(route, scope)} {state_nl}. "
                      "Leg eerst vast dat de persoon toestemming geeft.")


@hookimpl
def transition_hooks(route: Route, transition: TransitionSpec) -> list[str]:
    """Consent is checked where the transition shares data or takes a field that needs a
    consent, and recorded where it takes the consent field."""
    hooks = []
    if transition.consent or not _consent_fields(route).isdisjoint(transition.fields):
        hooks.append("check_transition")
    if FIELD in transition.fields:
        hooks.append("after_transition")
    return hooks


@hookimpl
def check_transition(ctx: RuleContext, route: Route, case: CaseSnapshot,
                     transition: TransitionSpec, data: Mapping[str, Any],
                     at: datetime | None) -> list[Block]:
    consenting = _consent_fields(route)
    asked = ([] if consenting.isdisjoint(data)
             else [name for name in data if name in consenting])  # in the data's order
    if not (transition.consent or asked):
        return []
    granted = current_consents(ctx, case.participant_id)
    given = set(data.get(FIELD) or [])
    blocks: list[Block] = []
    if transition.consent:
        names = _placeholders(transition.consent)
        if all(name in data for name in names):
            scope = transition.consent.format(**data)
            block = _blocked(route, scope, granted, given, case.id,
                             f"'{transition.trigger}' shares data",
                             f"'{transition.label or transition.trigger}' deelt gegevens")
            if block:
                blocks.append(block)
        elif at is None:  # asking what could happen, before the data is known
            prefix = transition.consent.split("{", 1)[0]
            if prefix and not any(ok and scope.startswith(prefix)
                                  for scope, ok in granted.items()):
                pattern = transition.consent.replace("{", "<").replace("}", ">")
                blocks.append(Block(
                    NAME, f"'{transition.trigger}' shares data: consent '{pattern}' is not "
                          f"recorded for any partner; record it with 'casework consent grant "
                          f"{case.id} {pattern} --how conversation|letter|phone'",
                    says=f"'{transition.label or transition.trigger}' deelt gegevens met een "
                         "partner, en de persoon heeft voor geen enkele partner toestemming "
                         "gegeven. Leg eerst vast dat de persoon toestemming geeft."))
    for name in asked:
        field = route.fields[name]
        block = _blocked(route, field.consent, granted, given, case.id,
                         f"field '{name}'", f"'{field.label or name}'")
        if block:
            blocks.append(block)
    return blocks


_CONSENT_FIELDS: dict[int, tuple[Route, frozenset[str]]] = {}


def _consent_fields(route: Route) -> frozenset[str]:
    """Return the names of the route's fields that need a consent, found once per route."""
    found = _CONSENT_FIELDS.get(id(route))
    if found is None or found[0] is not route:
        if len(_CONSENT_FIELDS) >= 1000:  # routes loaded again and again (tests): no leak
            _CONSENT_FIELDS.clear()
        found = _CONSENT_FIELDS[id(route)] = (route, frozenset(
            name for name, field in route.fields.items() if field.consent))
    return found[1]


@hookimpl
def after_transition(ctx: RuleContext, case: CaseSnapshot, step: Step) -> None:
    scopes = step.data.get(FIELD)
    if not scopes:
        return
    from casework.effects import GrantConsent  # a step's effects: not needed to read a case

    step.effects.append(GrantConsent(case.participant_id, list(scopes), "conversation"))
    granted = current_consents(ctx, case.participant_id)
    for scope in scopes:
        granted[scope] = True
