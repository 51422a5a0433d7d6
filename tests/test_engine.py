"""The engine: one advance is one transaction, optimistic locking, the moment of a step and the
history a case's state can be rebuilt from. Driven with a fixed clock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import COLLEAGUES, EXAMPLES, Env, lift_exclusions
from helpers import Clock, staff
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from casework.engine import Engine
from casework.errors import ConflictError, InvalidData, NotFound, TransitionNotAllowed
from casework.models import Appointment, Case, Event, Referral
from casework.permissions import Actor

WORKFLOW = "kansen-in-kaart"
START = datetime(2030, 6, 3, 8, 0, tzinfo=UTC)  # the cohort is imported at this moment
APPOINTMENT = {"appointment": "2030-06-20 10:00"}
CONVERSATION = {"classification": "work_potential", "participation_potential": "self"}


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def engine(env: Env, clock: Clock) -> Iterator[Engine]:
    """An engine on the fixed clock, with the sample cohort imported at START."""
    from casework.cohort import import_cohort

    eng: Engine = env.engine(clock=clock)
    summary = import_cohort(eng, EXAMPLES / "cohort.csv", WORKFLOW, staff(eng, "anna"))
    assert summary.imported == 200
    lift_exclusions(env)  # these tests invite whom they like: 2 is in contact with the WIJ-team
    yield eng
    eng.db.dispose()


def case_row(engine: Engine, case_id: int) -> Any:
    with engine.db.connect() as conn:
        return conn.execute(
            select(Case.state, Case.version, Case.data, Case.last_event_at,
                   Case.state_entered_at, Case.closed_at, Case.close_reason, Case.excluded)
            .where(Case.id == case_id)
        ).one()


def events(engine: Engine, case_id: int) -> list[Any]:
    with engine.db.connect() as conn:
        return list(conn.execute(
            select(Event.seq, Event.at, Event.recorded_at, Event.actor, Event.trigger,
                   Event.from_state, Event.to_state, Event.data, Event.note, Event.reason)
            .where(Event.case_id == case_id).order_by(Event.seq)
        ).all())


def count(engine: Engine, model: Any, case_id: int) -> int:
    with engine.db.connect() as conn:
        return int(conn.execute(
            select(func.count()).select_from(model).where(model.case_id == case_id)
        ).scalar_one())


def everything(engine: Engine, case_id: int) -> tuple[Any, ...]:
    """All a step may write for a case."""
    return (tuple(case_row(engine, case_id)), [tuple(e) for e in events(engine, case_id)],
            count(engine, Appointment, case_id), count(engine, Referral, case_id))


# --- a step -----------------------------------------------------------------------------------


def test_advance_writes_state_event_and_appointment_at_the_clock_time(
    engine: Engine, clock: Clock,
) -> None:
    now = clock.tick(hours=2)
    step = engine.advance(1, "invite", staff(engine, "anna"), APPOINTMENT, note="per brief")
    assert (step.source, step.dest, step.seq) == ("selected", "invited", 2)
    row = case_row(engine, 1)
    assert (row.state, row.version) == ("invited", 2)
    assert row.last_event_at == row.state_entered_at == now
    [opened, invited] = events(engine, 1)
    assert (opened.seq, opened.trigger, opened.to_state, opened.at) == (1, "open", "selected",
                                                                         START)
    assert (invited.seq, invited.trigger, invited.from_state, invited.to_state) == (
        2, "invite", "selected", "invited")
    assert invited.at == invited.recorded_at == now
    assert (invited.actor, invited.note) == ("anna", "per brief")
    assert invited.data == {"appointment": "2030-06-20T08:00:00+00:00",  # CEST entered
                            "invitation_variant": "with_sentence"}
    assert count(engine, Appointment, 1) == 1


def test_unknown_case_is_not_found(engine: Engine) -> None:
    with pytest.raises(NotFound, match="no case 4040"):
        engine.advance(4040, "invite", staff(engine, "anna"), APPOINTMENT)


@pytest.mark.parametrize(("trigger", "data", "error"), [
    ("invite", {}, InvalidData),
    ("invite", {"appointment": "2030-06-20 10:00", "colour": "red"}, InvalidData),
    ("close", {"reason": "bored"}, InvalidData),
    ("refer", {"partner": "wij_team"}, TransitionNotAllowed),
    ("fly", {}, TransitionNotAllowed),
])
def test_refused_step_writes_nothing(engine: Engine, clock: Clock, trigger: str,
                                     data: dict[str, str], error: type[Exception]) -> None:
    clock.tick(minutes=5)
    before = everything(engine, 1)
    with pytest.raises(error):
        engine.advance(1, trigger, staff(engine, "anna"), data)
    assert everything(engine, 1) == before


# --- one advance is one transaction -----------------------------------------------------------


def test_failing_event_insert_leaves_the_case_unchanged(
    engine: Engine, clock: Clock, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import casework.steps

    clock.tick(hours=1)
    before = everything(engine, 1)

    def broken_event_row(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("the events table is unavailable")

    monkeypatch.setattr(casework.steps, "event_row", broken_event_row)
    with pytest.raises(RuntimeError, match="unavailable"):
        engine.advance(1, "invite", staff(engine, "anna"), APPOINTMENT)
    assert everything(engine, 1) == before
    row = case_row(engine, 1)
    assert (row.state, row.version) == ("selected", 1)
    monkeypatch.undo()
    engine.advance(1, "invite", staff(engine, "anna"), APPOINTMENT)
    assert case_row(engine, 1).version == 2
    assert [e.seq for e in events(engine, 1)] == [1, 2]


def test_failing_effect_rolls_back_the_case_update_and_the_event(
    engine: Engine, clock: Clock, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import casework.effects

    engine.advance(1, "invite", staff(engine, "anna"), APPOINTMENT)
    engine.advance(1, "hold_conversation", staff(engine, "anna"), {**CONVERSATION,
                                                    "consent": ["share:wij_team"]})
    clock.tick(hours=1)
    before = everything(engine, 1)

    def broken_effects(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the referrals table is unavailable")

    monkeypatch.setattr(casework.effects.EffectRows, "write", broken_effects)
    with pytest.raises(RuntimeError):
        engine.advance(1, "refer", staff(engine, "anna"), {"partner": "wij_team"})
    assert everything(engine, 1) == before
    assert case_row(engine, 1).state == "spoken"
    assert count(engine, Referral, 1) == 0


def test_event_that_cannot_be_stored_leaves_the_case_unchanged(
    engine: Engine, clock: Clock, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An event row the database refuses (a NULL trigger) rolls the case update back."""
    import casework.steps

    clock.tick(hours=1)
    before = everything(engine, 2)
    real_event_row = casework.steps.event_row

    def event_without_trigger(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {**real_event_row(*args, **kwargs), "trigger": None}

    monkeypatch.setattr(casework.steps, "event_row", event_without_trigger)
    with pytest.raises(IntegrityError):
        engine.advance(2, "decline", staff(engine, "anna"))
    assert everything(engine, 2) == before
    assert case_row(engine, 2).closed_at is None


# --- optimistic locking -----------------------------------------------------------------------


def test_stale_expected_version_is_a_conflict_and_writes_nothing(
    engine: Engine, clock: Clock,
) -> None:
    engine.advance(3, "invite", staff(engine, "anna"), APPOINTMENT, expected_version=1)
    clock.tick(minutes=30)
    before = everything(engine, 3)
    with pytest.raises(ConflictError, match="someone else"):
        engine.advance(3, "hold_conversation", staff(engine, "bert"), CONVERSATION,
                       expected_version=1)
    assert everything(engine, 3) == before
    engine.advance(3, "hold_conversation", staff(engine, "bert"), CONVERSATION, expected_version=2)
    assert (case_row(engine, 3).state, case_row(engine, 3).version) == ("spoken", 3)


def race(engines: list[Engine], case_id: int, trigger: str,
         data: dict[str, str]) -> tuple[list[str], list[str]]:
    """Advance one case with each engine in its own thread, all at once; return what happened
    ("ok" or "refused", in any order) and the messages of the refusals."""
    for each in engines:
        assert each.registry  # load the routes before the race starts
    barrier = threading.Barrier(len(engines), timeout=30)
    outcomes: list[str] = []
    errors: list[str] = []

    def work(each: Engine, who: Actor) -> None:
        barrier.wait()
        try:
            each.advance(case_id, trigger, who, data)
            outcomes.append("ok")
        except (ConflictError, TransitionNotAllowed) as exc:
            outcomes.append("refused")
            errors.append(str(exc))
        except Exception as exc:  # anything else is a bug the caller's assertion shows
            outcomes.append(repr(exc))

    threads = [threading.Thread(target=work, args=(each, staff(each, COLLEAGUES[n])))
               for n, each in enumerate(engines)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for each in engines:
        each.db.dispose()
    return outcomes, errors


@pytest.mark.parametrize(("trigger", "data", "state"), [
    ("invite", APPOINTMENT, "invited"),
    ("decline", {}, "closed"),
    ("close", {"reason": "moved"}, "closed"),
])
def test_two_engines_racing_on_one_case_give_one_success_and_one_clear_error(
    env: Env, engine: Engine, clock: Clock, trigger: str, data: dict[str, str], state: str,
) -> None:
    for case_id in range(1, 6):
        outcomes, errors = race([env.engine(clock=clock), env.engine(clock=clock)],
                                case_id, trigger, data)
        assert sorted(outcomes) == ["ok", "refused"], outcomes
        assert len(errors[0].splitlines()) == 1
        assert f"case {case_id}" in errors[0] or "not possible" in errors[0]
        # One step after the import's events (the opening, and the exclusion of a person
        # the rules keep out: case 2).
        history = events(engine, case_id)
        imported = (["open", "exclude"] if any(e.trigger == "exclude" for e in history)
                    else ["open"])
        assert [e.trigger for e in history] == [*imported, trigger]
        row = case_row(engine, case_id)
        assert (row.state, row.version) == (state, len(imported) + 1)


# --- the moment of a step ---------------------------------------------------------------------


def test_at_in_the_future_is_refused(engine: Engine, clock: Clock) -> None:
    clock.tick(days=3)
    with pytest.raises(InvalidData, match="lies in the future"):
        engine.advance(1, "decline", staff(engine, "anna"), at=clock.now + timedelta(hours=1))
    assert case_row(engine, 1).state == "selected"


def test_at_before_the_last_event_is_refused(engine: Engine, clock: Clock) -> None:
    clock.tick(days=3)
    with pytest.raises(InvalidData, match="before case 1's last event"):
        engine.advance(1, "decline", staff(engine, "anna"), at=START - timedelta(minutes=1))
    engine.advance(1, "invite", staff(engine, "anna"), APPOINTMENT, at=START + timedelta(days=1))
    with pytest.raises(InvalidData, match="order they happened"):
        engine.advance(1, "hold_conversation", staff(engine, "anna"), CONVERSATION,
                       at=START + timedelta(hours=12))
    assert case_row(engine, 1).state == "invited"


def test_valid_earlier_at_is_stored_as_the_event_time(engine: Engine, clock: Clock) -> None:
    now = clock.tick(days=10)
    happened = START + timedelta(days=2, hours=3)
    engine.advance(1, "invite", staff(engine, "anna"), APPOINTMENT, at=happened)
    invite = events(engine, 1)[-1]
    assert invite.at == happened
    assert invite.recorded_at == now
    row = case_row(engine, 1)
    assert row.state_entered_at == row.last_event_at == happened


def test_naive_at_is_read_in_the_configured_time_zone(engine: Engine, clock: Clock) -> None:
    clock.tick(days=10)
    engine.advance(1, "decline", staff(engine, "anna"), at=datetime(2030, 6, 5, 14, 0))
    assert events(engine, 1)[-1].at == datetime(2030, 6, 5, 12, 0, tzinfo=UTC)
    assert case_row(engine, 1).closed_at == datetime(2030, 6, 5, 12, 0, tzinfo=UTC)


def test_appointment_must_lie_after_the_moment_of_the_step(engine: Engine,
                                                           clock: Clock) -> None:
    clock.tick(days=10)
    with pytest.raises(InvalidData, match="'appointment' lies before the moment"):
        engine.advance(1, "invite", staff(engine, "anna"), {"appointment": "2030-06-04 10:00"},
                       at=START + timedelta(days=2))
    # recorded afterwards: an appointment that has passed by now, but not at the step
    engine.advance(1, "invite", staff(engine, "anna"), {"appointment": "2030-06-06 10:00"},
                   at=START + timedelta(days=2))
    assert case_row(engine, 1).state == "invited"


# --- history ----------------------------------------------------------------------------------


def test_case_state_can_be_rebuilt_from_its_events(env: Env, engine: Engine,
                                                   clock: Clock) -> None:
    from casework.cases import assign_case
    from casework.consents import grant_consent
    from casework.staff import add_staff

    add_staff(engine, staff(engine, "anna"), "piet", "case_worker")
    route = engine.registry.get(WORKFLOW)
    steps: list[tuple[str, dict[str, Any]]] = [
        ("invite", APPOINTMENT),
        ("not_home", {"appointment": "2030-06-27 10:00"}),
        ("reschedule", {"appointment": "2030-07-01 10:00", "location": "buurthuis"}),
        ("hold_conversation", {**CONVERSATION, "themes": {"health": "goed"},
                               "consent": ["record_report"]}),
        ("self_action", {}),
        ("start_activity", {"activity": "volunteering"}),
        ("refer", {"partner": "coach_meedoen"}),
        ("start_activity", {"activity": "work"}),
        ("follow_up", {}),
        ("start_activity", {"activity": "work"}),
        ("close", {"reason": "completed"}),
    ]
    for number, (trigger, data) in enumerate(steps):
        clock.tick(hours=1)
        engine.advance(5, trigger, staff(engine, "anna"), data)
        if number == 3:
            clock.tick(minutes=5)
            assign_case(engine, staff(engine, "coordinator1"), 5, "piet")
        if number == 5:  # later, by phone, the person agrees to be referred to the coach
            clock.tick(minutes=5)
            grant_consent(engine, staff(engine, "anna"), 5, "share:coach_meedoen", "phone")
    history = events(engine, 5)
    row = case_row(engine, 5)
    assert [e.seq for e in history] == list(range(1, len(history) + 1))
    assert row.version == len(history) == len(steps) + 3  # with open, assign and consent
    assert history[-1].to_state == row.state == "closed"
    assert (row.closed_at, row.close_reason) == (history[-1].at, "completed")
    assert history[-1].reason == "completed"
    state = route.initial
    for event in history:
        assert event.from_state == (None if event.seq == 1 else state)
        if event.trigger in ("open", "assign", "consent_granted"):
            assert event.seq == 1 or event.to_state == event.from_state
        else:
            assert route.fire(state, event.trigger) == event.to_state
        state = event.to_state
    assert state == row.state
    assert [e.at for e in history] == sorted(e.at for e in history)


def test_every_case_ends_in_the_state_of_its_last_event(engine: Engine, clock: Clock) -> None:
    clock.tick(hours=1)
    for case_id in range(1, 11):
        engine.advance(case_id, "invite", staff(engine, "anna"), APPOINTMENT)
    for case_id in range(1, 11, 2):
        engine.advance(case_id, "hold_conversation", staff(engine, "anna"), CONVERSATION)
    for case_id in range(1, 11, 3):
        engine.advance(case_id, "decline", staff(engine, "anna"))
    with engine.db.connect() as conn:
        rows = conn.execute(select(Case.id, Case.state, Case.version)
                            .where(Case.id <= 10).order_by(Case.id)).all()
    assert {row.state for row in rows} == {"invited", "spoken", "closed"}
    for row in rows:
        history = events(engine, row.id)
        assert history[-1].to_state == row.state
        assert history[-1].seq == row.version == len(history)


def test_ending_an_appointment_that_no_letter_names_stops_no_letter() -> None:
    """CancelLetters with no templates named (a route without appointment letters) stops
    nothing; only CancelLetters() without templates stops every unsent letter (a closed case) but
    those kept."""
    from types import SimpleNamespace

    from casework.effects import CancelLetters, EffectRows

    rows = EffectRows(now=START)
    step: Any = SimpleNamespace(case_id=7)
    rows.pending_letters[7] = [{"status": "queued", "template": "uitnodiging"},
                               {"status": "queued", "template": "verslag"}]
    CancelLetters([]).add(step, rows)
    assert not rows.cancel_all and not rows.cancel_named
    assert [row["status"] for row in rows.pending_letters[7]] == ["queued", "queued"]
    CancelLetters(keep=("verslag",)).add(step, rows)  # a report owed to the person stays
    assert rows.cancel_all == {7: [step]}
    assert [row["status"] for row in rows.pending_letters[7]] == ["cancelled", "queued"]
