"""Properties of the rules on Kansen in Kaart, checked on random histories of one person: random
triggers with plausible data, follow-up calls, and consent granted and withdrawn in between.

- nothing is shared without consent: a referral (sent or accepted) only exists when the person's
  consent ``share:<partner>`` held when it was made; after a withdrawal no referral to that
  partner is still ``sent``; the partner's export never lists the person without consent;
- the person can always stop: in every open state ``decline`` is possible.

One database per test function; a new person is imported for every example.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Env
from helpers import staff
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from stdnum.nl import bsn as stdnum_bsn

from casework.cases import case_triggers
from casework.cohort import import_cohort
from casework.consents import grant_consent, withdraw_consent
from casework.engine import Engine
from casework.errors import CaseworkError
from casework.models import Case, Consent, Participant, Referral, Task
from casework.referrals import partner_referrals
from casework.tasks import complete_task

WORKFLOW = "kansen-in-kaart"
ACTOR = "anna"
HEADER = ("bsn,initials,prefix,surname,street,house_number,house_number_suffix,postcode,city,"
          "wijk,phone,email,wij_team_contact,last_guidance")
PARTNERS = ["coach_meedoen", "centrum_naar_werk", "wij_team"]
SCOPES = ["record_report", *(f"share:{p}" for p in PARTNERS)]
HOW = ["conversation", "letter", "phone"]
PROPERTY = settings(max_examples=25, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

Action = tuple[str, str, dict[str, Any]]


def moments() -> st.SearchStrategy[str]:
    return st.builds(lambda day, hour: f"2099-03-{day:02d} {hour:02d}:00",
                     st.integers(1, 28), st.integers(9, 16))


def conversation() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"classification": st.sampled_from(["socially_active", "work_potential", "not_active"]),
         "participation_potential": st.sampled_from(["none", "self", "supported"])},
        optional={"consent": st.lists(st.sampled_from(SCOPES), min_size=1, max_size=3,
                                      unique=True),
                  "themes": st.fixed_dictionaries({}, optional={
                      "health": st.just("rugklachten"), "work_chances": st.just("wil koken")}
                  ).filter(bool),
                  "activity_kinds": st.lists(st.sampled_from(["volunteering", "activities"]),
                                             min_size=1, unique=True)})


# Plausible data for each trigger of the route.
DATA: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "invite": st.fixed_dictionaries({"appointment": moments()}),
    "reschedule": st.fixed_dictionaries({"appointment": moments()}),
    "not_home": st.just({}),
    "hold_conversation": conversation(),
    "refer": st.fixed_dictionaries({"partner": st.sampled_from(PARTNERS)}),
    "self_action": st.just({}),
    "start_activity": st.fixed_dictionaries(
        {"activity": st.sampled_from(["volunteering", "work", "other"])}),
    "follow_up": st.just({}),
    "record_outflow": st.fixed_dictionaries(
        {"outflow_date": st.just("2030-02-01"), "fte": st.sampled_from(["0,5", "1"])}),
    "decline": st.just({}),
    "close": st.fixed_dictionaries(
        {"reason": st.sampled_from(["no_support_needed", "completed", "other"])}),
}


def trigger(names: list[str]) -> st.SearchStrategy[Action]:
    return st.sampled_from(names).flatmap(
        lambda name: DATA[name].map(lambda data: ("advance", name, data)))


def consent_change(scopes: list[str], kinds: tuple[str, ...] = ("grant", "withdraw")
                   ) -> st.SearchStrategy[Action]:
    return st.tuples(st.sampled_from(kinds), st.sampled_from(scopes),
                     st.fixed_dictionaries({"how": st.sampled_from(HOW)}))


def call() -> st.SearchStrategy[Action]:
    """A follow-up call reached with an outcome (to_social_team refers to wij_team)."""
    return st.sampled_from([
        ("call", "to_social_team", {}), ("call", "became_active", {"activity": "volunteering"}),
        ("call", "taking_steps", {}), ("call", "not_active", {})])


def next_action(state: str, possible: list[str], shared: list[str]
                ) -> st.SearchStrategy[Action]:
    """Mostly a trigger the case's state has (decline and close less often), sometimes any
    trigger or a change of consent; a withdrawal of consent already used to share, and in
    follow_up the call, come up often."""
    onward = [name for name in possible if name not in ("decline", "close")] or list(DATA)
    options = [trigger(onward), trigger(onward), trigger(onward), trigger(list(DATA)),
               consent_change(SCOPES), consent_change(SCOPES)]
    if shared:
        options += [consent_change(shared, ("withdraw",))] * 2
    if state == "follow_up":
        options += [call()] * 3
    return st.one_of(options)


def made_up_bsns() -> Iterator[str]:
    for number in itertools.count(740_000_000):
        if stdnum_bsn.is_valid(f"{number:09d}"):
            yield f"{number:09d}"


class Person:
    """One newly imported person with a case on Kansen in Kaart, and what we know they gave."""

    def __init__(self, engine: Engine, folder: Path, bsn: str) -> None:
        self.engine = engine
        path = folder / f"{bsn}.csv"
        path.write_text(f"{HEADER}\n{bsn},P.,,Eigenschap,Laan,1,,9712 AB,Groningen,Beijum,,,"
                        "no,\n", encoding="utf-8")
        self.actor = staff(engine, ACTOR)
        summary = import_cohort(engine, path, WORKFLOW, self.actor)
        assert summary.imported == 1
        with engine.db.connect() as conn:
            row = conn.execute(select(Case.id, Case.participant_id)
                               .join(Participant, Participant.id == Case.participant_id)
                               .where(Participant.bsn == bsn)).one()
        self.case_id, self.participant_id = row.id, row.participant_id
        self.consent: dict[str, bool] = {}  # what the person said, as this test recorded it
        self.known_referrals: set[int] = set()

    def do(self, action: Action) -> bool:
        """Apply one action; return whether it happened (a refused one changes nothing)."""
        kind, name, data = action
        try:
            if kind == "advance":
                self.engine.advance(self.case_id, name, self.actor, data)
                for scope in data.get("consent", []):
                    self.consent[scope] = True
            elif kind == "grant":
                grant_consent(self.engine, self.actor, self.case_id, name, data["how"])
                self.consent[name] = True
            elif kind == "withdraw":
                withdraw_consent(self.engine, self.actor, self.case_id, name, data["how"])
                self.consent[name] = False
            else:
                task = self.open_call()
                if task is None:
                    return False
                complete_task(self.engine, self.actor, task, "reached", {"result": name, **data})
        except CaseworkError:
            return False
        return True

    def open_call(self) -> int | None:
        with self.engine.db.connect() as conn:
            return conn.execute(select(Task.id).where(
                Task.case_id == self.case_id, Task.kind == "follow_up_call",
                Task.status == "open")).scalar()

    def referrals(self) -> list[Any]:
        with self.engine.db.connect() as conn:
            return list(conn.execute(
                select(Referral.id, Referral.partner, Referral.status)
                .where(Referral.case_id == self.case_id).order_by(Referral.id)).all())

    def stored_consent(self) -> dict[str, bool]:
        """The person's consent per scope as stored now (the latest record wins)."""
        with self.engine.db.connect() as conn:
            rows = conn.execute(select(Consent.scope, Consent.granted)
                                .where(Consent.participant_id == self.participant_id)
                                .order_by(Consent.id)).all()
        return {row.scope: row.granted for row in rows}

    def state(self) -> str:
        with self.engine.db.connect() as conn:
            return str(conn.execute(select(Case.state).where(Case.id == self.case_id)
                                    ).scalar_one())

    def is_open(self) -> bool:
        with self.engine.db.connect() as conn:
            return conn.execute(select(Case.closed_at).where(Case.id == self.case_id)
                                ).scalar() is None

    def draw_history(self, data: st.DataObject, steps: int) -> Iterator[Action]:
        """Yield actions one by one, each drawn for the state the case is in by then."""
        route = self.engine.registry.get(WORKFLOW)
        for _ in range(steps):
            state = self.state()
            possible = [t.trigger for t in route.transitions if t.source == state]
            shared = sorted({f"share:{r.partner}" for r in self.referrals()})
            yield data.draw(next_action(state, possible, shared), label=f"in {state}")


STEPS = st.integers(min_value=2, max_value=20)


@pytest.mark.long
def test_nothing_is_shared_with_a_partner_without_the_persons_consent(env: Env) -> None:
    engine = env.engine()
    bsns = made_up_bsns()

    @PROPERTY
    @given(data=st.data(), steps=STEPS)
    def property_holds(data: st.DataObject, steps: int) -> None:
        person = Person(engine, env.root, next(bsns))
        for action in person.draw_history(data, steps):
            happened = person.do(action)
            stored = person.stored_consent()
            assert stored == person.consent
            for referral in person.referrals():
                if referral.id in person.known_referrals:
                    continue
                person.known_referrals.add(referral.id)
                assert happened, f"{action} was refused but made a referral"
                scope = f"share:{referral.partner}"
                assert person.consent.get(scope) is True, (action, referral)
                assert stored.get(scope) is True, (action, referral)
            if action[0] == "withdraw" and action[1].startswith("share:") and happened:
                partner = action[1].split(":", 1)[1]
                assert [r for r in person.referrals()
                        if r.partner == partner and r.status == "sent"] == []
            for partner in {r.partner for r in person.referrals()}:
                listed = [r["case_id"] for r in
                          partner_referrals(engine, staff(engine, ACTOR), partner)["referrals"]]
                if person.case_id in listed:
                    assert person.consent.get(f"share:{partner}") is True

    try:
        property_holds()
    finally:
        engine.db.dispose()


@pytest.mark.long
def test_an_open_case_can_always_be_declined(env: Env) -> None:
    engine = env.engine()
    bsns = made_up_bsns()

    def decline_is_possible(person: Person) -> None:
        with engine.db.connect() as conn:
            case = engine.load_case(conn, person.case_id)
            why = engine.blocked_reason(engine.route_of(case), case, "decline",
                                        engine.context(conn))
        assert why is None, (case.state, why)
        shown = {t["trigger"]: t for t in
                 case_triggers(engine, staff(engine, ACTOR), person.case_id)["triggers"]}
        assert shown["decline"]["possible"], (case.state, shown["decline"])

    @PROPERTY
    @given(data=st.data(), steps=STEPS)
    def property_holds(data: st.DataObject, steps: int) -> None:
        person = Person(engine, env.root, next(bsns))
        for action in person.draw_history(data, steps):
            if not person.is_open():
                break
            decline_is_possible(person)
            person.do(action)
        if person.is_open():
            decline_is_possible(person)
            assert person.do(("advance", "decline", {}))
            assert (person.state(), person.is_open()) == ("closed", False)

    try:
        property_holds()
    finally:
        engine.db.dispose()
