"""Capacity: a partner's intake per month is capped; a referral over the cap is refused with the
first month that has room, withdrawn referrals free their place, and a bulk apply keeps to the
cap within one file. The engine runs on a fixed clock so referrals fall in chosen months."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import Env, write_config
from helpers import Clock, amsterdam, made_up_bsns, staff
from sqlalchemy import select

from casework.bulk import apply_file
from casework.cohort import import_cohort
from casework.consents import grant_consent, withdraw_consent
from casework.engine import Engine
from casework.errors import TransitionNotAllowed
from casework.models import Case, Referral

WORKFLOW = "kansen-in-kaart"
AMS = ZoneInfo("Europe/Amsterdam")
HEADER = ("bsn,initials,prefix,surname,street,house_number,house_number_suffix,postcode,city,"
          "wijk,phone,email,wij_team_contact,last_guidance")
CAP = '\n[rules.capacity.partner_intake]\ncoach_meedoen = 2\n'
PEOPLE = 6
CONSENT = ["share:coach_meedoen", "share:wij_team"]


def open_engine(env: Env, clock: Clock, extra: str) -> Engine:
    write_config(env.root, env.database_url, extra)
    engine: Engine = env.engine(clock=clock)
    return engine


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2031, 2, 20, 9, 0, tzinfo=AMS), step=timedelta(seconds=1))


@pytest.fixture
def engine(env: Env, clock: Clock) -> Iterator[Engine]:
    """An engine with coach_meedoen capped at 2 a month and six people (cases 1-6) who have
    had their conversation and consented to sharing with coach_meedoen and wij_team."""
    engine = open_engine(env, clock, CAP)
    prepare(engine, env.root)
    yield engine
    engine.db.dispose()


def prepare(engine: Engine, folder: Path, consent: list[str] | None = None) -> None:
    rows = [f"{number},K.,,Smit{n},Kerkstraat,{n + 1},,9712 AB,Groningen,Beijum,,,no,"
            for n, number in enumerate(made_up_bsns(PEOPLE, start=720_000_000))]
    path = folder / "people.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    summary = import_cohort(engine, path, WORKFLOW, staff(engine, "anna"))
    assert summary.imported == PEOPLE
    for case_id in range(1, PEOPLE + 1):
        engine.advance(case_id, "invite", staff(engine, "anna"),
                       {"appointment": "2099-01-05 10:00"})
        engine.advance(case_id, "hold_conversation", staff(engine, "anna"), {
            "classification": "work_potential", "participation_potential": "supported",
            "consent": CONSENT if consent is None else consent})


def refer(engine: Engine, case_id: int, partner: str = "coach_meedoen") -> None:
    engine.advance(case_id, "refer", staff(engine, "anna"), {"partner": partner})


def refused(engine: Engine, case_id: int, partner: str = "coach_meedoen") -> str:
    with pytest.raises(TransitionNotAllowed) as caught:
        refer(engine, case_id, partner)
    return str(caught.value)


def referrals(engine: Engine) -> list[tuple[int, str, str]]:
    with engine.db.connect() as conn:
        return [tuple(r) for r in conn.execute(  # type: ignore[misc]
            select(Referral.case_id, Referral.partner, Referral.status).order_by(Referral.id))]


def state(engine: Engine, case_id: int) -> str:
    with engine.db.connect() as conn:
        return str(conn.execute(select(Case.state).where(Case.id == case_id)).scalar_one())


# --- the cap ----------------------------------------------------------------------------------


def test_referrals_up_to_the_cap_are_sent(engine: Engine, clock: Clock) -> None:
    clock.set(amsterdam(2031, 3, 10, 10, 0))
    refer(engine, 1)
    refer(engine, 2)
    assert referrals(engine) == [(1, "coach_meedoen", "sent"), (2, "coach_meedoen", "sent")]


def test_a_referral_over_the_cap_is_refused_naming_the_first_month_with_room(
        engine: Engine, clock: Clock) -> None:
    clock.set(amsterdam(2031, 3, 10, 10, 0))
    refer(engine, 1)
    refer(engine, 2)
    clock.set(amsterdam(2031, 3, 28, 15, 0))
    message = refused(engine, 3)
    assert message == ("coach_meedoen takes at most 2 referrals a month and 2031-03 is full; "
                       "the first month with room is 2031-04 (rule capacity)")
    assert state(engine, 3) == "spoken"
    assert len(referrals(engine)) == 2


def test_the_first_month_with_room_skips_months_already_full(
        engine: Engine, clock: Clock) -> None:
    clock.set(amsterdam(2031, 4, 2, 10, 0))
    refer(engine, 1)
    refer(engine, 2)
    clock.now = amsterdam(2031, 3, 10, 10, 0)  # back to March after April was filled (a late entry)
    refer(engine, 3)
    refer(engine, 4)
    assert "the first month with room is 2031-05" in refused(engine, 5)


def test_the_cap_is_per_month(engine: Engine, clock: Clock) -> None:
    clock.set(amsterdam(2031, 3, 10, 10, 0))
    refer(engine, 1)
    refer(engine, 2)
    clock.set(amsterdam(2031, 4, 1, 9, 0))
    refer(engine, 3)
    assert [r[0] for r in referrals(engine)] == [1, 2, 3]


def test_the_month_is_the_local_month(engine: Engine, clock: Clock) -> None:
    clock.set(amsterdam(2031, 3, 10, 10, 0))
    refer(engine, 1)
    refer(engine, 2)
    clock.set(amsterdam(2031, 4, 1, 0, 30))  # still 31 March in UTC
    refer(engine, 3)
    assert len(referrals(engine)) == 3


def test_a_referral_recorded_afterwards_counts_in_the_month_it_happened(
        engine: Engine, clock: Clock) -> None:
    clock.set(amsterdam(2031, 3, 10, 10, 0))
    refer(engine, 1)
    refer(engine, 2)
    clock.set(amsterdam(2031, 4, 2, 10, 0))
    with pytest.raises(TransitionNotAllowed) as caught:
        engine.advance(3, "refer", staff(engine, "anna"), {"partner": "coach_meedoen"},
                       at=datetime(2031, 3, 31, 16, 0, tzinfo=AMS))
    message = str(caught.value)
    assert "2031-03 is full" in message
    refer(engine, 3)  # on 2 April itself there is room
    assert len(referrals(engine)) == 3


def test_partners_without_a_cap_take_any_number(engine: Engine, clock: Clock) -> None:
    clock.set(amsterdam(2031, 3, 10, 10, 0))
    for case_id in range(1, PEOPLE + 1):
        refer(engine, case_id, "wij_team")
    assert len(referrals(engine)) == PEOPLE


def test_other_partners_do_not_use_up_the_cap(engine: Engine, clock: Clock) -> None:
    clock.set(amsterdam(2031, 3, 10, 10, 0))
    refer(engine, 1, "wij_team")
    refer(engine, 2, "wij_team")
    refer(engine, 3)
    refer(engine, 4)
    assert "2031-03 is full" in refused(engine, 5)


def test_withdrawn_referrals_do_not_count(engine: Engine, clock: Clock) -> None:
    clock.set(amsterdam(2031, 3, 10, 10, 0))
    refer(engine, 1)
    refer(engine, 2)
    withdraw_consent(engine, staff(engine, "anna"), 1, "share:coach_meedoen", "phone")
    refer(engine, 3)
    assert referrals(engine) == [(1, "coach_meedoen", "withdrawn"), (2, "coach_meedoen", "sent"),
                                 (3, "coach_meedoen", "sent")]
    assert "2031-03 is full" in refused(engine, 4)


def test_switching_the_rule_off_lifts_the_cap(env: Env, clock: Clock) -> None:
    engine = open_engine(env, clock, CAP + '\n[rules]\ndisabled = ["capacity"]\n')
    try:
        prepare(engine, env.root)
        clock.set(amsterdam(2031, 3, 10, 10, 0))
        for case_id in (1, 2, 3):
            refer(engine, case_id)
        assert len(referrals(engine)) == 3
    finally:
        engine.db.dispose()


def test_without_a_cap_configured_nothing_is_capped(env: Env, clock: Clock) -> None:
    engine = open_engine(env, clock, "")
    try:
        prepare(engine, env.root)
        clock.set(amsterdam(2031, 3, 10, 10, 0))
        for case_id in (1, 2, 3):
            refer(engine, case_id)
        assert len(referrals(engine)) == 3
    finally:
        engine.db.dispose()


# --- bulk apply -------------------------------------------------------------------------------


def refer_file(folder: Path, case_ids: list[int], partner: str = "coach_meedoen") -> Path:
    path = folder / "refer.csv"
    path.write_text("case,trigger,partner\n" + "".join(
        f"{case_id},refer,{partner}\n" for case_id in case_ids), encoding="utf-8")
    return path


def test_bulk_apply_keeps_to_the_cap_within_one_file(
        engine: Engine, clock: Clock, env: Env) -> None:
    clock.set(amsterdam(2031, 3, 10, 10, 0))
    summary = apply_file(engine, refer_file(env.root, [1, 2, 3, 4]), staff(engine, "anna"))
    assert (summary.applied, summary.failed) == (2, 2)
    assert [number for number, _ in summary.failures] == [4, 5]
    reason = summary.failures[0][1]
    assert reason == ("case 3: coach_meedoen takes at most 2 referrals a month and 2031-03 is "
                      "full; the first month with room is 2031-04 (rule capacity)")
    assert [r[0] for r in referrals(engine)] == [1, 2]
    assert (state(engine, 3), state(engine, 4)) == ("spoken", "spoken")


def test_bulk_apply_counts_the_referrals_already_made_this_month(
        engine: Engine, clock: Clock, env: Env) -> None:
    clock.set(amsterdam(2031, 3, 10, 10, 0))
    refer(engine, 1)
    summary = apply_file(engine, refer_file(env.root, [2, 3]), staff(engine, "anna"))
    assert (summary.applied, summary.failed) == (1, 1)
    assert summary.failures[0][0] == 3


def test_bulk_apply_counts_each_referral_once_when_other_lines_come_between(
        engine: Engine, clock: Clock, env: Env) -> None:
    """A consent or task line writes the referrals planned before it; they are then counted
    from the database, not a second time as planned (the second one was refused, found by
    a helper reading the code)."""
    clock.set(amsterdam(2031, 3, 10, 10, 0))
    path = env.root / "mixed.csv"
    path.write_text("case,trigger,partner,consent\n1,refer,coach_meedoen,\n"
                    "5,,,share:wij_team\n2,refer,coach_meedoen,\n3,refer,coach_meedoen,\n",
                    encoding="utf-8")
    summary = apply_file(engine, path, staff(engine, "anna"))
    assert (summary.applied, summary.failed) == (3, 1)
    assert [number for number, _ in summary.failures] == [5]
    assert [r[0] for r in referrals(engine)] == [1, 2]


def test_a_dry_run_keeps_to_the_cap_and_sends_nothing(
        engine: Engine, clock: Clock, env: Env) -> None:
    clock.set(amsterdam(2031, 3, 10, 10, 0))
    summary = apply_file(engine, refer_file(env.root, [1, 2, 3]), staff(engine, "anna"),
                         dry_run=True)
    assert (summary.applied, summary.failed) == (2, 1)
    assert referrals(engine) == []


def test_a_refused_line_takes_no_place_under_the_cap(env: Env, clock: Clock) -> None:
    engine = open_engine(env, clock, CAP)
    try:
        prepare(engine, env.root, consent=[])
        for case_id in (2, 3):
            grant_consent(engine, staff(engine, "anna"), case_id, "share:coach_meedoen", "phone")
        clock.set(amsterdam(2031, 3, 10, 10, 0))
        summary = apply_file(engine, refer_file(env.root, [1, 2, 3]), staff(engine, "anna"))
        assert [number for number, _ in summary.failures] == [2]
        assert "share:coach_meedoen" in summary.failures[0][1]
        assert [r[0] for r in referrals(engine)] == [2, 3]
    finally:
        engine.db.dispose()


# --- the CLI ----------------------------------------------------------------------------------


def test_case_advance_refuses_a_referral_over_the_cap_with_the_reason(env: Env) -> None:
    write_config(env.root, env.database_url, CAP)
    rows = [f"{number},K.,,Smit{n},Kerkstraat,{n + 1},,9712 AB,Groningen,Beijum,,,no,"
            for n, number in enumerate(made_up_bsns(3, start=720_000_000))]
    path = env.root / "three.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    env.ok("cohort", "import", str(path), "--workflow", WORKFLOW)
    for case_id in ("1", "2", "3"):
        env.ok("case", "advance", case_id, "invite", "--set", "appointment=2099-01-05 10:00")
        env.ok("case", "advance", case_id, "hold_conversation",
               "--set", "classification=work_potential",
               "--set", "participation_potential=supported",
               "--set", "consent=share:coach_meedoen")
    env.ok("case", "advance", "1", "refer", "--set", "partner=coach_meedoen")
    env.ok("case", "advance", "2", "refer", "--set", "partner=coach_meedoen")
    result = env.run("case", "advance", "3", "refer", "--set", "partner=coach_meedoen")
    assert result.exit_code == 1
    message = result.stderr.strip()
    assert message.startswith("Error: coach_meedoen takes at most 2 referrals a month and ")
    assert "is full; the first month with room is " in message
    assert message.endswith("(rule capacity)")
    assert env.json("case", "show", "3")["referrals"] == []
