"""Timers in the Kansen in Kaart route: the work a state plans when a case enters it (reminder
calls, report deadlines, follow-up calls, referral timers) and cancels when the case moves on.
Driven with a fixed clock, on Friday 20 November 2026."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import EXAMPLES, Env, lift_exclusions
from helpers import Clock, amsterdam, staff
from sqlalchemy import select

from casework.engine import Engine
from casework.models import Task
from casework.tasks import TaskFilter, list_tasks

WORKFLOW = "kansen-in-kaart"
AMS = ZoneInfo("Europe/Amsterdam")
FRIDAY = datetime(2026, 11, 20, 10, 0, tzinfo=AMS)
# In the conversation the person agrees to be referred to the social team and the coach.
CONVERSATION = {"classification": "work_potential", "participation_potential": "self",
                "consent": ["share:wij_team", "share:coach_meedoen"]}


@pytest.fixture
def clock() -> Clock:
    return Clock(FRIDAY)


@pytest.fixture
def engine(env: Env, clock: Clock) -> Iterator[Engine]:
    """An engine on the fixed clock, with the sample cohort imported on Friday 20 November."""
    from casework.cohort import import_cohort

    eng: Engine = env.engine(clock=clock)
    assert import_cohort(eng, EXAMPLES / "cohort.csv", WORKFLOW, staff(eng, "anna")).imported == 200
    lift_exclusions(env)  # these tests invite whom they like: 2 is in contact with the WIJ-team
    yield eng
    eng.db.dispose()


def tasks(engine: Engine, case_id: int, kind: str | None = None) -> list[Any]:
    """All tasks of a case, oldest first."""
    query = (select(Task.id, Task.kind, Task.due, Task.status, Task.round, Task.scope,
                    Task.performer, Task.spec, Task.escalate_to, Task.assigned_to, Task.label)
             .where(Task.case_id == case_id).order_by(Task.id))
    if kind:
        query = query.where(Task.kind == kind)
    with engine.db.connect() as conn:
        return list(conn.execute(query).all())


def open_tasks(engine: Engine, case_id: int) -> list[tuple[str, date]]:
    return [(t.kind, t.due) for t in tasks(engine, case_id) if t.status == "open"]


def statuses(engine: Engine, case_id: int, kind: str) -> list[tuple[date, str]]:
    return [(t.due, t.status) for t in tasks(engine, case_id, kind)]


def invite(engine: Engine, case_id: int, appointment: str) -> None:
    engine.advance(case_id, "invite", staff(engine, "anna"), {"appointment": appointment})


def to_spoken(engine: Engine, clock: Clock, case_id: int) -> None:
    """Invite on Friday 20 November, hold the conversation on Monday 30 November."""
    invite(engine, case_id, "2026-11-30 10:00")
    clock.set(amsterdam(2026, 11, 30, 11))
    engine.advance(case_id, "hold_conversation", staff(engine, "anna"), CONVERSATION)


# --- the reminder call before an appointment ------------------------------------------------


def test_invite_plans_one_reminder_call_the_friday_before_a_monday_appointment(
    engine: Engine,
) -> None:
    invite(engine, 1, "2026-11-30 10:00")
    [reminder] = tasks(engine, 1)
    assert (reminder.kind, reminder.due, reminder.status) == ("reminder_call", date(2026, 11, 27),
                                                              "open")
    assert (reminder.round, reminder.performer, reminder.scope) == (1, "staff", "state")
    assert reminder.label == "Herinnering bellen (dag voor de afspraak)"


def test_reminder_for_the_monday_after_christmas_is_due_on_christmas_eve(engine: Engine) -> None:
    invite(engine, 1, "2026-12-28 10:00")
    assert open_tasks(engine, 1) == [("reminder_call", date(2026, 12, 24))]


def test_reminder_for_a_midweek_appointment_is_due_the_day_before(engine: Engine) -> None:
    invite(engine, 1, "2026-12-03 14:00")
    assert open_tasks(engine, 1) == [("reminder_call", date(2026, 12, 2))]


def test_reminder_day_follows_the_local_date_of_the_appointment(engine: Engine) -> None:
    # 00:30 on Tuesday in Groningen is still Monday in UTC: the call is on Monday, not Friday
    invite(engine, 1, "2026-12-01 00:30")
    assert open_tasks(engine, 1) == [("reminder_call", date(2026, 11, 30))]


def test_reminder_whose_day_has_passed_is_due_on_the_day_of_the_invitation(
    engine: Engine, clock: Clock,
) -> None:
    invite(engine, 1, "2026-11-20 16:00")  # this afternoon: the day before was Thursday
    assert open_tasks(engine, 1) == [("reminder_call", date(2026, 11, 20))]
    clock.set(amsterdam(2026, 11, 23, 9))
    invite(engine, 2, "2026-11-23 14:00")  # Monday afternoon: the workday before was Friday
    assert open_tasks(engine, 2) == [("reminder_call", date(2026, 11, 23))]


def test_reminder_of_an_invitation_recorded_afterwards_is_due_the_day_it_happened(
    engine: Engine, clock: Clock,
) -> None:
    clock.set(amsterdam(2026, 11, 24, 9))
    engine.advance(1, "invite", staff(engine, "anna"), {"appointment": "2026-11-24 10:00"},
                   at=datetime(2026, 11, 24, 8, 0, tzinfo=AMS))
    assert open_tasks(engine, 1) == [("reminder_call", date(2026, 11, 24))]


def test_reminder_of_an_appointment_passed_before_it_was_recorded_is_cancelled_at_once(
    engine: Engine, clock: Clock,
) -> None:
    clock.set(amsterdam(2026, 11, 27, 9))
    engine.advance(1, "invite", staff(engine, "anna"), {"appointment": "2026-11-24 10:00"},
                   at=datetime(2026, 11, 23, 9, 0, tzinfo=AMS))
    assert open_tasks(engine, 1) == []
    [reminder] = tasks(engine, 1, "reminder_call")
    assert (reminder.due, reminder.status) == (date(2026, 11, 23), "cancelled")
    with engine.db.connect() as conn:
        result = conn.execute(select(Task.result).where(Task.id == reminder.id)).scalar()
    assert result["cancelled"] == "appointment_passed"


def test_reschedule_cancels_the_reminder_and_plans_one_for_the_new_appointment(
    engine: Engine, clock: Clock,
) -> None:
    invite(engine, 1, "2026-11-30 10:00")
    clock.set(amsterdam(2026, 11, 24, 9))
    engine.advance(1, "reschedule", staff(engine, "anna"), {"appointment": "2026-12-28 10:00"})
    assert statuses(engine, 1, "reminder_call") == [(date(2026, 11, 27), "cancelled"),
                                                     (date(2026, 12, 24), "open")]
    clock.set(amsterdam(2026, 11, 25, 9))
    engine.advance(1, "reschedule", staff(engine, "anna"), {"appointment": "2026-12-08 10:00"})
    assert open_tasks(engine, 1) == [("reminder_call", date(2026, 12, 7))]
    assert len(tasks(engine, 1)) == 3


def test_not_home_without_a_new_appointment_cancels_the_reminder_and_plans_none(
    engine: Engine, clock: Clock,
) -> None:
    invite(engine, 1, "2026-11-30 10:00")
    clock.set(amsterdam(2026, 11, 30, 11))
    engine.advance(1, "not_home", staff(engine, "anna"))
    assert open_tasks(engine, 1) == []
    assert statuses(engine, 1, "reminder_call") == [(date(2026, 11, 27), "cancelled")]


def test_not_home_with_a_new_appointment_plans_a_reminder_for_it(
    engine: Engine, clock: Clock,
) -> None:
    invite(engine, 1, "2026-11-30 10:00")
    clock.set(amsterdam(2026, 11, 30, 11))
    engine.advance(1, "not_home", staff(engine, "anna"), {"appointment": "2026-12-28 10:00"})
    assert statuses(engine, 1, "reminder_call") == [(date(2026, 11, 27), "cancelled"),
                                                     (date(2026, 12, 24), "open")]


# --- the report after the conversation --------------------------------------------------------


def test_hold_conversation_cancels_the_reminder_and_plans_the_report_five_workdays_later(
    engine: Engine, clock: Clock,
) -> None:
    invite(engine, 1, "2026-12-21 10:00")
    clock.set(amsterdam(2026, 12, 21, 11))
    engine.advance(1, "hold_conversation", staff(engine, "anna"), CONVERSATION)
    assert statuses(engine, 1, "reminder_call") == [(date(2026, 12, 18), "cancelled")]
    [report] = tasks(engine, 1, "report_due")
    # 22, 23, 24 December, then 28 and 29 (Christmas and the weekend skipped)
    assert (report.due, report.status, report.performer) == (date(2026, 12, 29), "open", "staff")
    # Owed to the person: it outlives the state and the case (see closing, below).
    assert (report.scope, report.escalate_to) == ("person", "coordinator")


def test_report_deadline_survives_referral_and_the_closing_of_the_case(
    engine: Engine, clock: Clock,
) -> None:
    to_spoken(engine, clock, 1)
    report_due = ("report_due", date(2026, 12, 7))
    assert open_tasks(engine, 1) == [report_due]
    clock.set(amsterdam(2026, 12, 1))
    engine.advance(1, "refer", staff(engine, "anna"), {"partner": "coach_meedoen"})
    assert report_due in open_tasks(engine, 1)
    clock.set(amsterdam(2026, 12, 2))
    engine.advance(1, "start_activity", staff(engine, "anna"), {"activity": "volunteering"})
    assert open_tasks(engine, 1) == [report_due]
    clock.set(amsterdam(2026, 12, 3))
    engine.advance(1, "close", staff(engine, "anna"), {"reason": "completed"})
    # The person still gets the report of the conversation they had.
    assert open_tasks(engine, 1) == [report_due]


# --- following up people who act themselves ---------------------------------------------------


def test_self_action_plans_follow_up_call_round_one_of_two_three_months_later_on_a_workday(
    engine: Engine, clock: Clock,
) -> None:
    to_spoken(engine, clock, 1)
    engine.advance(1, "self_action", staff(engine, "anna"))
    [call] = tasks(engine, 1, "follow_up_call")
    # 30 November + 3 months = 28 February 2027 (clipped), a Sunday: Monday 1 March
    assert (call.due, call.status, call.round, call.performer) == (date(2027, 3, 1), "open", 1,
                                                                   "staff")
    assert (call.spec["rounds"], call.spec["every"]) == (2, "P2W")
    assert call.spec["expire"] == "close"
    assert call.spec["expire_data"] == {"reason": "unreachable"}


def test_follow_up_call_from_a_friday_moves_off_the_saturday(engine: Engine) -> None:
    invite(engine, 1, "2026-11-20 14:00")
    engine.advance(1, "hold_conversation", staff(engine, "anna"), CONVERSATION)
    engine.advance(1, "self_action", staff(engine, "anna"))
    assert ("follow_up_call", date(2027, 2, 22)) in open_tasks(engine, 1)


def test_starting_an_activity_cancels_the_follow_up_call_and_follow_up_plans_a_new_one(
    engine: Engine, clock: Clock,
) -> None:
    to_spoken(engine, clock, 1)
    engine.advance(1, "self_action", staff(engine, "anna"))
    clock.set(amsterdam(2026, 12, 14))
    engine.advance(1, "start_activity", staff(engine, "anna"), {"activity": "work"})
    assert statuses(engine, 1, "follow_up_call") == [(date(2027, 3, 1), "cancelled")]
    clock.set(amsterdam(2027, 1, 29))
    engine.advance(1, "follow_up", staff(engine, "anna"))
    # 29 April 2027 is a Thursday
    assert statuses(engine, 1, "follow_up_call") == [(date(2027, 3, 1), "cancelled"),
                                                      (date(2027, 4, 29), "open")]


# --- the referral timer -----------------------------------------------------------------------


def test_refer_plans_a_system_timer_four_weeks_later(engine: Engine, clock: Clock) -> None:
    to_spoken(engine, clock, 1)
    clock.set(amsterdam(2026, 12, 4))
    engine.advance(1, "refer", staff(engine, "anna"), {"partner": "wij_team"})
    [timer] = tasks(engine, 1, "referral_answer")
    # four calendar weeks: the daily run acts on it, no workday rolling
    assert (timer.due, timer.status, timer.performer) == (date(2027, 1, 1), "open", "system")
    assert timer.escalate_to == "coordinator"


def test_system_timers_are_not_on_anyones_work_list(engine: Engine, clock: Clock) -> None:
    to_spoken(engine, clock, 1)
    engine.advance(1, "refer", staff(engine, "anna"), {"partner": "wij_team"})
    listed = list_tasks(engine, staff(engine, "anna"), TaskFilter(status="all"))
    assert {t["kind"] for t in listed["tasks"]} == {"reminder_call", "report_due"}
    assert listed["total"] == 2
    due = list_tasks(engine, staff(engine, "anna"), TaskFilter(due=date(2027, 12, 31)))
    assert [t["kind"] for t in due["tasks"]] == ["report_due"]


def test_referring_again_replaces_the_referral_timer(engine: Engine, clock: Clock) -> None:
    to_spoken(engine, clock, 1)
    engine.advance(1, "refer", staff(engine, "anna"), {"partner": "wij_team"})
    clock.set(amsterdam(2026, 12, 9))
    engine.advance(1, "refer", staff(engine, "anna"), {"partner": "coach_meedoen"})
    assert statuses(engine, 1, "referral_answer") == [(date(2026, 12, 28), "cancelled"),
                                                       (date(2027, 1, 6), "open")]
    assert ("report_due", date(2026, 12, 7)) in open_tasks(engine, 1)


def test_start_activity_cancels_the_referral_timer(engine: Engine, clock: Clock) -> None:
    to_spoken(engine, clock, 1)
    engine.advance(1, "refer", staff(engine, "anna"), {"partner": "wij_team"})
    clock.set(amsterdam(2026, 12, 10))
    engine.advance(1, "start_activity", staff(engine, "anna"), {"activity": "education"})
    assert statuses(engine, 1, "referral_answer") == [(date(2026, 12, 28), "cancelled")]
    assert open_tasks(engine, 1) == [("report_due", date(2026, 12, 7))]


# --- closing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("trigger", "data"), [
    ("close", {"reason": "moved"}),
    ("close", {"reason": "deceased"}),
])
def test_closing_a_case_for_someone_who_moved_or_died_cancels_every_open_task_of_it(
    engine: Engine, clock: Clock, trigger: str, data: dict[str, str],
) -> None:
    to_spoken(engine, clock, 1)
    engine.advance(1, "refer", staff(engine, "anna"), {"partner": "wij_team"})
    invite(engine, 2, "2026-12-10 10:00")
    assert len(open_tasks(engine, 1)) == 2
    clock.set(amsterdam(2026, 12, 1))
    engine.advance(1, trigger, staff(engine, "anna"), data)
    assert open_tasks(engine, 1) == []
    assert {t.status for t in tasks(engine, 1)} == {"cancelled"}
    assert open_tasks(engine, 2) == [("reminder_call", date(2026, 12, 9))]


@pytest.mark.parametrize(("trigger", "data"), [
    ("decline", {}),
    ("close", {"reason": "no_support_needed"}),
    ("close", {"reason": "unreachable"}),
])
def test_closing_a_spoken_case_cancels_its_work_but_the_report_owed_to_the_person(
    engine: Engine, clock: Clock, trigger: str, data: dict[str, str],
) -> None:
    to_spoken(engine, clock, 1)
    engine.advance(1, "refer", staff(engine, "anna"), {"partner": "wij_team"})
    clock.set(amsterdam(2026, 12, 1))
    engine.advance(1, trigger, staff(engine, "anna"), data)
    assert open_tasks(engine, 1) == [("report_due", date(2026, 12, 7))]
    assert statuses(engine, 1, "referral_answer") == [(date(2026, 12, 28), "cancelled")]


@pytest.mark.parametrize(("trigger", "data"), [
    ("decline", {}),
    ("close", {"reason": "no_interest"}),
])
def test_closing_an_invited_case_cancels_its_reminder(
    engine: Engine, clock: Clock, trigger: str, data: dict[str, str],
) -> None:
    invite(engine, 1, "2026-12-10 10:00")
    clock.set(amsterdam(2026, 11, 23))
    engine.advance(1, trigger, staff(engine, "anna"), data)
    assert statuses(engine, 1, "reminder_call") == [(date(2026, 12, 9), "cancelled")]


def test_closing_from_follow_up_cancels_the_follow_up_call(engine: Engine, clock: Clock) -> None:
    to_spoken(engine, clock, 1)
    engine.advance(1, "self_action", staff(engine, "anna"))
    clock.set(amsterdam(2026, 12, 2))
    engine.advance(1, "close", staff(engine, "anna"), {"reason": "moved"})
    assert open_tasks(engine, 1) == []
    assert {t.kind for t in tasks(engine, 1)} == {"reminder_call", "report_due",
                                                  "follow_up_call"}


def test_tasks_planned_for_an_assigned_case_go_to_its_worker(
    engine: Engine, clock: Clock,
) -> None:
    from casework.cases import assign_case
    from casework.staff import add_staff

    add_staff(engine, staff(engine, "anna"), "piet", "case_worker")
    assign_case(engine, staff(engine, "coordinator1"), 1, "piet")
    clock.set(amsterdam(2026, 11, 20, 11))
    invite(engine, 1, "2026-11-30 10:00")
    assert [t.assigned_to for t in tasks(engine, 1)] == ["piet"]


# --- the same through bulk apply --------------------------------------------------------------

# (local moment, trigger, data): a case's life from invitation to following up, in the past.
HISTORY: list[tuple[str, str, dict[str, str]]] = [
    ("2026-11-02 10:00", "invite", {"appointment": "2026-11-09 10:00"}),
    ("2026-11-04 09:00", "reschedule", {"appointment": "2026-11-10 10:00"}),
    ("2026-11-10 11:00", "not_home", {"appointment": "2026-11-17 10:00"}),
    ("2026-11-17 11:00", "hold_conversation", CONVERSATION),
    ("2026-11-18 09:00", "refer", {"partner": "wij_team"}),
    ("2026-11-19 09:00", "refer", {"partner": "coach_meedoen"}),
    ("2026-11-19 15:00", "start_activity", {"activity": "volunteering"}),
    ("2026-11-20 09:00", "follow_up", {}),
]


def comparable(engine: Engine, case_id: int) -> list[tuple[Any, ...]]:
    return [(t.kind, t.due, t.status, t.round, t.scope, t.performer, t.label, t.assigned_to)
            for t in tasks(engine, case_id)]


def write_jsonl(env: Env, name: str, records: list[dict[str, Any]]) -> Path:
    path = env.root / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def past_cohort(env: Env) -> Iterator[Engine]:
    """The cohort imported on 1 November 2026; an engine on the real clock."""
    from casework.cohort import import_cohort

    early = env.engine(clock=lambda: datetime(2026, 11, 1, 8, 0, tzinfo=AMS))
    import_cohort(early, EXAMPLES / "cohort.csv", WORKFLOW, staff(early, "anna"))
    early.db.dispose()
    lift_exclusions(env)  # case 2 is in contact with the WIJ-team
    eng: Engine = env.engine()
    yield eng
    eng.db.dispose()


def test_bulk_apply_plans_the_same_tasks_as_advancing_one_step_at_a_time(
    env: Env, past_cohort: Engine,
) -> None:
    for moment, trigger, data in HISTORY:
        past_cohort.advance(1, trigger, staff(past_cohort, "anna"), data,
                            at=datetime.fromisoformat(moment).replace(tzinfo=AMS))
    path = write_jsonl(env, "history.jsonl", [
        {"case": 2, "at": moment, "trigger": trigger, **data}
        for moment, trigger, data in HISTORY
    ])
    summary = env.json("case", "apply", str(path))
    assert (summary["applied"], summary["failed"]) == (len(HISTORY), 0)
    one_by_one = comparable(past_cohort, 1)
    assert comparable(past_cohort, 2) == one_by_one
    assert [(kind, due) for kind, due, status, *_ in one_by_one if status == "open"] == [
        ("report_due", date(2026, 11, 24)),
        ("follow_up_call", date(2027, 2, 22)),
    ]
    assert [kind for kind, *_ in one_by_one] == [
        "reminder_call", "reminder_call", "reminder_call", "report_due", "referral_answer",
        "referral_answer", "follow_up_call",
    ]


def test_invite_then_reschedule_in_one_file_leaves_one_reminder_for_the_new_date(
    cohort: Env,
) -> None:
    path = write_jsonl(cohort, "invites.jsonl", [
        {"case": 3, "trigger": "invite", "appointment": "2099-01-05 10:00"},
        {"case": 4, "trigger": "invite", "appointment": "2099-01-05 11:30"},
        {"case": 3, "trigger": "reschedule", "appointment": "2099-01-12 10:00"},
    ])
    summary = cohort.json("case", "apply", str(path))
    assert (summary["applied"], summary["failed"]) == (3, 0)
    engine = cohort.engine()
    try:
        assert open_tasks(engine, 3) == [("reminder_call", date(2099, 1, 9))]
        assert statuses(engine, 3, "reminder_call") == [(date(2099, 1, 2), "cancelled"),
                                                         (date(2099, 1, 9), "open")]
        assert open_tasks(engine, 4) == [("reminder_call", date(2099, 1, 2))]
    finally:
        engine.db.dispose()


def test_bulk_close_cancels_tasks_planned_earlier_and_in_the_same_file(cohort: Env) -> None:
    engine = cohort.engine()
    try:
        engine.advance(5, "invite", staff(engine, "anna"), {"appointment": "2099-01-05 10:00"})
        engine.advance(5, "hold_conversation", staff(engine, "anna"), CONVERSATION)
        path = write_jsonl(cohort, "close.jsonl", [
            {"case": 5, "trigger": "refer", "partner": "wij_team"},
            {"case": 6, "trigger": "invite", "appointment": "2099-01-05 10:00"},
            {"case": 5, "trigger": "close", "reason": "moved"},
            {"case": 6, "trigger": "decline"},
        ])
        assert cohort.json("case", "apply", str(path))["applied"] == 4
        for case_id in (5, 6):
            assert open_tasks(engine, case_id) == []
        assert [t.kind for t in tasks(engine, 5)] == ["reminder_call", "report_due",
                                                      "referral_answer"]
        assert {t.status for t in tasks(engine, 5) + tasks(engine, 6)} == {"cancelled"}
    finally:
        engine.db.dispose()


def test_bulk_conversation_and_closing_in_one_file_keep_the_report_owed(cohort: Env) -> None:
    """The report planned and the case closed in one chunk (folded in memory) and in two
    files (stored in between) leave the same open report."""
    engine = cohort.engine()
    try:
        lines = [{"case": case_id, "trigger": trigger, **data} for case_id in (5, 6)
                 for trigger, data in (("invite", {"appointment": "2099-01-05 10:00"}),
                                       ("hold_conversation", CONVERSATION))]
        assert cohort.json("case", "apply", str(write_jsonl(cohort, "talks.jsonl", [
            *lines, {"case": 5, "trigger": "close", "reason": "no_support_needed"}])))[
                "applied"] == 5
        assert cohort.json("case", "apply", str(write_jsonl(cohort, "close.jsonl", [
            {"case": 6, "trigger": "close", "reason": "no_support_needed"}])))["applied"] == 1
        for case_id in (5, 6):
            assert [(t.kind, t.status) for t in tasks(engine, case_id)] == [
                ("reminder_call", "cancelled"), ("report_due", "open")]
    finally:
        engine.db.dispose()


def test_dates_of_the_reminder_follow_the_workday_before_rule_over_a_month(
    engine: Engine,
) -> None:
    """Appointments on each day of December 2026: the call is on the workday before."""
    start = date(2026, 12, 1)
    for offset in range(31):
        day = start + timedelta(days=offset)
        invite(engine, offset + 1, f"{day.isoformat()} 10:00")
    expected = {
        1: 30, 2: 1, 3: 2, 4: 3, 5: 4, 6: 4, 7: 4, 8: 7, 14: 11, 21: 18, 24: 23, 25: 24, 26: 24,
        27: 24, 28: 24, 29: 28, 31: 30,
    }
    for day, due_day in expected.items():
        month = 11 if day == 1 else 12
        assert open_tasks(engine, day) == [("reminder_call", date(2026, month, due_day))], day
