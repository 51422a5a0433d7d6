"""`casework task list` and `casework task done`: the work lists the routes plan, and finishing
work (a follow-up call's rounds and outcomes), via the CLI on the real clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import EXAMPLES, Env, add_people, lift_exclusions
from helpers import (
    CONVERSATION,
    advance,
    cohort_rows,
    done,
    error,
    follow_up_call,
    invite,
    show,
    staff,
    task_of,
    today,
    work,
)
from sqlalchemy import select

from casework.calendar import is_workday
from casework.models import AccessLog

WORKFLOW = "kansen-in-kaart"
AMS = ZoneInfo("Europe/Amsterdam")
WIDE = {"COLUMNS": "200"}
TASK_KEYS = {
    "id", "kind", "label", "due", "overdue", "round", "rounds", "status", "attempts",
    "assigned_to", "role", "case_id", "case_state", "wijk", "name", "phone", "result", "done_at",
    "done_by", "escalated_at", "outcome", "note", "appointment",
}
DONE_KEYS = {"task", "kind", "case_id", "outcome", "round", "next_round", "transition",
             "letter", "to_pull", "letter_not_sent", "note"}
RESULTS = ("became_active", "to_social_team", "taking_steps", "not_active")


def listed(env: Env, *args: str, **kwargs: Any) -> list[tuple[int, str, str]]:
    """(case, kind, due) of each task the list shows."""
    return [(t["case_id"], t["kind"], t["due"]) for t in work(env, *args, **kwargs)["tasks"]]


def access_rows(env: Env) -> list[Any]:
    engine = env.engine()
    try:
        with engine.db.connect() as conn:
            return list(conn.execute(
                select(AccessLog.actor, AccessLog.action, AccessLog.case_ids)
                .order_by(AccessLog.id)
            ).all())
    finally:
        engine.db.dispose()


def workdays_between(first: date, last: date) -> int:
    """The number of workdays after first up to and including last."""
    return sum(is_workday(first + timedelta(days=n)) for n in range(1, (last - first).days + 1))


@pytest.fixture
def invited(cohort: Env) -> Env:
    """Cases 1, 2 and 3 invited for appointments on Monday 5 and 12 January and 2 February 2099;
    their reminder calls are due Friday 2 and 9 and 30 January."""
    lift_exclusions(cohort)  # case 2 is in contact with the social team
    invite(cohort, 1, appointment="2099-01-05 10:00")
    invite(cohort, 2, appointment="2099-01-12 10:00")
    invite(cohort, 3, appointment="2099-02-02 10:00")
    return cohort


@pytest.fixture
def early(env: Env) -> Iterator[Env]:
    """The cohort imported on 2 November 2026; case 1 invited then for Tuesday 10 November
    (its reminder, due Monday 9 November, is overdue), case 2 for an appointment in 2099."""
    from casework.cohort import import_cohort

    engine = env.engine(clock=lambda: datetime(2026, 11, 2, 10, 0, tzinfo=AMS))
    import_cohort(engine, EXAMPLES / "cohort.csv", WORKFLOW, staff(engine, "anna"))
    lift_exclusions(env)  # case 2 is in contact with the social team
    engine.advance(1, "invite", staff(engine, "anna"), {"appointment": "2026-11-10 10:00"})
    engine.advance(2, "invite", staff(engine, "anna"), {"appointment": "2099-01-05 10:00"})
    engine.db.dispose()
    yield env


# --- task list --------------------------------------------------------------------------------


def test_list_json_gives_total_shown_and_the_documented_task_keys(invited: Env) -> None:
    data = work(invited)
    assert set(data) == {"total", "shown", "tasks"}
    assert (data["total"], data["shown"]) == (3, 3)
    first = data["tasks"][0]
    assert set(first) == TASK_KEYS
    person = show(invited, 1)
    assert first["id"] > 0
    assert (first["kind"], first["label"]) == ("reminder_call",
                                               "Herinnering bellen (dag voor de afspraak)")
    assert (first["due"], first["overdue"], first["status"]) == ("2099-01-02", False, "open")
    assert (first["round"], first["rounds"], first["attempts"]) == (1, 1, 0)
    assert (first["case_id"], first["case_state"], first["wijk"]) == (1, "invited",
                                                                     person["wijk"])
    assert first["name"] == person["person"]["name"] == "B. El Amrani"
    assert first["phone"] == cohort_rows()[0]["phone"] == "06-36017886"
    assert first["assigned_to"] is first["role"] is first["result"] is None
    assert first["done_at"] is first["done_by"] is first["escalated_at"] is None


def test_list_shows_work_soonest_first(invited: Env) -> None:
    assert listed(invited) == [(1, "reminder_call", "2099-01-02"),
                               (2, "reminder_call", "2099-01-09"),
                               (3, "reminder_call", "2099-01-30")]


def test_list_due_shows_work_due_on_or_before_that_date(invited: Env) -> None:
    assert [c for c, _, _ in listed(invited, "--due", "2099-01-09")] == [1, 2]
    assert [c for c, _, _ in listed(invited, "--due", "2099-01-08")] == [1]
    assert listed(invited, "--due", "2099-01-01") == []
    assert [c for c, _, _ in listed(invited, "--due", "09-01-2099")] == [1, 2]  # Dutch order


def test_list_kind_filters_by_kind(invited: Env) -> None:
    advance(invited, 2, "hold_conversation", *CONVERSATION)
    assert [c for c, _, _ in listed(invited, "--kind", "reminder_call")] == [1, 3]
    assert [(c, k) for c, k, _ in listed(invited, "--kind", "report_due")] == [(2, "report_due")]
    assert listed(invited, "--kind", "follow_up_call") == []


def test_list_status_shows_done_cancelled_or_all_work(invited: Env) -> None:
    advance(invited, 2, "decline")
    done(invited, task_of(invited, 3, "reminder_call")["id"], "reached")
    assert [c for c, _, _ in listed(invited)] == [1]
    assert [c for c, _, _ in listed(invited, "--status", "cancelled")] == [2]
    assert [c for c, _, _ in listed(invited, "--status", "done")] == [3]
    everything = work(invited, "--status", "all")
    assert [(t["case_id"], t["status"]) for t in everything["tasks"]] == [
        (1, "open"), (2, "cancelled"), (3, "done")]


def test_list_limit_shows_fewer_but_counts_all(invited: Env) -> None:
    data = work(invited, "--limit", "2")
    assert (data["total"], data["shown"]) == (3, 2)
    assert [t["case_id"] for t in data["tasks"]] == [1, 2]


def test_list_never_shows_system_timers(invited: Env) -> None:
    advance(invited, 1, "hold_conversation", *CONVERSATION)
    advance(invited, 1, "refer", "--set", "partner=wij_team")
    kinds = {t["kind"] for t in work(invited, "--status", "all", "--due", "2100-12-31")["tasks"]}
    assert kinds == {"reminder_call", "report_due"}
    assert work(invited, "--kind", "referral_answer", "--status", "all")["total"] == 0


def test_list_overdue_shows_only_work_whose_day_has_passed(early: Env) -> None:
    everything = work(early)
    assert [(t["case_id"], t["due"], t["overdue"]) for t in everything["tasks"]] == [
        (1, "2026-11-09", True), (2, "2099-01-02", False)]
    overdue = work(early, "--overdue")
    assert [(t["case_id"], t["overdue"]) for t in overdue["tasks"]] == [(1, True)]
    assert overdue["total"] == 1


def test_list_table_marks_rounds_and_shows_name_and_phone(cohort: Env) -> None:
    call = follow_up_call(cohort, 1)
    out = cohort.ok("task", "list", env=WIDE).stdout
    assert "Nabellen" in out and "1/2" in out  # the label of the work, not its kind
    assert "B. El Amrani" in out and "06-36017886" in out
    assert str(call["id"]) in out
    assert "2 of 2 task(s)" in out  # the call and the report deadline


def test_list_mine_shows_my_tasks_and_those_for_my_role(cohort: Env) -> None:
    cohort.ok("staff", "add", "piet", "--role", "case_worker")
    cohort.ok("staff", "add", "kees", "--role", "coordinator")
    cohort.ok("case", "assign", "1", "piet")
    lift_exclusions(cohort)  # case 2 is in contact with the social team
    invite(cohort, 1, appointment="2099-01-05 10:00")
    invite(cohort, 2, appointment="2099-01-05 11:30")
    invite(cohort, 3, appointment="2099-01-05 13:00")
    advance(cohort, 3, "hold_conversation", *CONVERSATION)
    report = task_of(cohort, 3, "report_due")
    late = date.fromisoformat(report["due"]) + timedelta(days=1)
    cohort.ok("daily", "--date", late.isoformat(), "--json")  # escalates the late report
    escalation = task_of(cohort, 3, "escalation")
    assert (escalation["role"], escalation["assigned_to"]) == ("coordinator", None)
    assert listed(cohort, "--mine", user="piet") == [(1, "reminder_call", "2099-01-02")]
    assert [(c, k) for c, k, _ in listed(cohort, "--mine", user="kees")] == [(3, "escalation")]
    # Every role counts, not only the first: anna is admin first, and coordinator too.
    assert [(c, k) for c, k, _ in listed(cohort, "--mine", user="anna")] == [(3, "escalation")]
    assert [c for c, _, _ in listed(cohort, user="anna")] == [3, 3, 1, 2]


def test_assigning_a_case_puts_its_open_work_on_the_new_workers_list(invited: Env) -> None:
    invited.ok("staff", "add", "piet", "--role", "case_worker")
    invited.ok("staff", "add", "sara", "--role", "case_worker")
    invited.ok("case", "assign", "2", "piet")
    assert listed(invited, "--mine", user="piet") == [(2, "reminder_call", "2099-01-09")]
    invited.ok("case", "assign", "2", "sara")
    assert listed(invited, "--mine", user="piet") == []
    assert listed(invited, "--mine", user="sara") == [(2, "reminder_call", "2099-01-09")]
    assert task_of(invited, 2, "reminder_call")["assigned_to"] == "sara"


def test_list_assigned_shows_one_workers_work_or_the_work_of_no_one(invited: Env) -> None:
    invited.ok("staff", "add", "piet", "--role", "case_worker")
    invited.ok("case", "assign", "2", "piet")
    assert listed(invited, "--assigned", "piet") == [(2, "reminder_call", "2099-01-09")]
    assert [c for c, _, _ in listed(invited, "--assigned", "-")] == [1, 3]
    typo = invited.run("task", "list", "--assigned", "pite")
    assert "did you mean piet?" in error(typo, 2)


def test_list_due_and_overdue_together_is_a_usage_error(invited: Env) -> None:
    result = invited.run("task", "list", "--due", "2099-01-09", "--overdue")
    assert "not both" in error(result, 2)


@pytest.mark.parametrize("text", ["2099-13-01", "tomorrow", "31-02-2099", ""])
def test_list_with_a_bad_date_is_a_clear_error(invited: Env, text: str) -> None:
    result = invited.run("task", "list", "--due", text)
    message = error(result, 2)
    assert "--due" in message and "not a date" in message


def test_list_never_shows_a_bsn(invited: Env) -> None:
    follow_up_call(invited, 4)
    bsns = [row["bsn"] for row in cohort_rows()]
    outputs = [
        invited.ok("task", "list", "--status", "all", env=WIDE).output,
        invited.ok("task", "list", "--status", "all", "--json").output,
        invited.ok("task", "list", "--mine", "--json").output,
    ]
    for text in outputs:
        assert not [bsn for bsn in bsns if bsn in text]


def test_list_logs_the_read_with_the_cases_shown(invited: Env) -> None:
    add_people(invited, "piet")
    before = len(access_rows(invited))
    work(invited, "--due", "2099-01-09", user="piet")
    rows = access_rows(invited)[before:]
    assert [(r.actor, r.action, r.case_ids) for r in rows] == [("piet", "task list", [1, 2])]


def test_list_needs_to_know_who_you_are(invited: Env) -> None:
    result = invited.run("task", "list", user=None)
    assert "CASEWORK_USER" in error(result, 2)


# --- task done: follow-up call rounds ---------------------------------------------------------


@pytest.mark.parametrize("outcome", ["not_reached", "wrong_number"])
def test_unreached_first_call_plans_round_two_ten_workdays_after_its_due_date(
    cohort: Env, outcome: str,
) -> None:
    call = follow_up_call(cohort, 1)
    assert (call["round"], call["rounds"]) == (1, 2)
    due = date.fromisoformat(call["due"])
    report = done(cohort, call["id"], outcome)
    assert set(report) == DONE_KEYS
    assert (report["task"], report["kind"], report["case_id"]) == (call["id"],
                                                                   "follow_up_call", 1)
    assert (report["outcome"], report["round"], report["transition"]) == (outcome, 1, None)
    assert report["next_round"]["round"] == 2
    second = task_of(cohort, 1, "follow_up_call")
    assert (second["round"], second["rounds"]) == (2, 2)
    assert second["due"] == report["next_round"]["due"]
    next_due = date.fromisoformat(second["due"])
    assert is_workday(next_due)
    assert workdays_between(due, next_due) == 10
    assert show(cohort, 1)["state"] == "follow_up"


def test_round_two_of_a_call_done_late_is_due_ten_workdays_after_today(env: Env) -> None:
    from casework.cohort import import_cohort

    engine = env.engine(clock=lambda: datetime(2026, 7, 1, 10, 0, tzinfo=AMS))
    import_cohort(engine, EXAMPLES / "cohort.csv", WORKFLOW, staff(engine, "anna"))
    engine.advance(1, "invite", staff(engine, "anna"), {"appointment": "2026-07-06 10:00"})
    engine.advance(1, "hold_conversation", staff(engine, "anna"), {"classification": "not_active",
                                                    "participation_potential": "none"})
    engine.advance(1, "self_action", staff(engine, "anna"))
    engine.db.dispose()
    call = task_of(env, 1, "follow_up_call")
    assert (call["due"], call["overdue"]) == ("2026-10-01", True)
    report = done(env, call["id"], "not_reached")
    next_due = date.fromisoformat(report["next_round"]["due"])
    assert workdays_between(today(), next_due) == 10


def test_unreached_second_call_closes_the_case_as_unreachable(cohort: Env) -> None:
    first = follow_up_call(cohort, 1)
    done(cohort, first["id"], "not_reached")
    second = task_of(cohort, 1, "follow_up_call")
    report = done(cohort, second["id"], "not_reached")
    assert (report["round"], report["next_round"]) == (2, None)
    assert report["transition"] == {"trigger": "close", "from": "follow_up", "to": "closed",
                                    "closed": True, "close_reason": "unreachable"}
    case = show(cohort, 1)
    assert (case["state"], case["close_reason"]) == ("closed", "unreachable")
    assert case["timeline"][-1]["actor"] == "anna"
    # What is left is the report of the conversation: owed to the person after closing too.
    assert [t["kind"] for t in work(cohort)["tasks"]] == ["report_due"]
    assert [(t["round"], t["status"]) for t in
            work(cohort, "--kind", "follow_up_call", "--status", "all")["tasks"]] == [
        (1, "done"), (2, "done")]


def test_reached_call_moves_on_from_round_two_as_well(cohort: Env) -> None:
    first = follow_up_call(cohort, 1)
    done(cohort, first["id"], "not_reached")
    second = task_of(cohort, 1, "follow_up_call")
    report = done(cohort, second["id"], "reached", "--set", "result=not_active")
    assert report["transition"]["close_reason"] == "not_active"


# --- task done: a reached call's result -------------------------------------------------------


@pytest.mark.parametrize(("result", "sets", "state", "reason", "data"), [
    ("became_active", ("--set", "activity=volunteering"), "active", None,
     {"activity": "volunteering"}),
    ("to_social_team", (), "referred", None, {"partner": "wij_team"}),
    ("taking_steps", (), "closed", "taking_steps", {"reason": "taking_steps"}),
    ("not_active", (), "closed", "not_active", {"reason": "not_active"}),
])
def test_reached_call_moves_the_case_as_its_result_says(
    cohort: Env, result: str, sets: tuple[str, ...], state: str, reason: str | None,
    data: dict[str, str],
) -> None:
    call = follow_up_call(cohort, 1)
    report = done(cohort, call["id"], "reached", "--set", f"result={result}", *sets)
    transition = report["transition"]
    assert (transition["from"], transition["to"]) == ("follow_up", state)
    assert (transition["closed"], transition["close_reason"]) == (state == "closed", reason)
    assert report["next_round"] is None
    case = show(cohort, 1)
    assert (case["state"], case["close_reason"]) == (state, reason)
    last = case["timeline"][-1]
    assert (last["trigger"], last["data"]) == (transition["trigger"], data)
    assert "follow_up_call round 1: reached" in (last["note"] or "")
    assert work(cohort, "--kind", "follow_up_call")["total"] == 0


def test_call_reached_for_the_social_team_refers_the_case_to_wij_team(cohort: Env) -> None:
    call = follow_up_call(cohort, 1)
    done(cohort, call["id"], "reached", "--set", "result=to_social_team")
    assert [r["partner"] for r in show(cohort, 1)["referrals"]] == ["wij_team"]


def test_finished_task_shows_who_did_it_and_the_result(cohort: Env) -> None:
    call = follow_up_call(cohort, 1)
    add_people(cohort, "piet")
    done(cohort, call["id"], "reached", "--set", "result=taking_steps", user="piet")
    [finished] = work(cohort, "--status", "done", "--kind", "follow_up_call")["tasks"]
    assert finished["id"] == call["id"]
    assert (finished["status"], finished["done_by"]) == ("done", "piet")
    assert finished["result"] == {"outcome": "reached", "result": "taking_steps"}
    assert finished["done_at"] is not None and finished["overdue"] is False
    assert ("piet", "task done", [1]) in [tuple(r) for r in access_rows(cohort)]


def test_done_prints_the_next_round_and_the_transition(cohort: Env) -> None:
    call = follow_up_call(cohort, 1)
    out = cohort.ok("task", "done", str(call["id"]), "--outcome", "not_reached").stdout
    assert f"Task {call['id']} (follow_up_call, case 1): not_reached." in out
    assert "round 2 is due" in out
    second = task_of(cohort, 1, "follow_up_call")
    out = cohort.ok("task", "done", str(second["id"]), "--outcome", "not_reached").stdout
    assert "case 1: close, follow_up -> closed (closed: unreachable)" in out


def test_reached_call_without_a_result_is_a_clear_error_and_changes_nothing(
    cohort: Env,
) -> None:
    call = follow_up_call(cohort, 1)
    before = (work(cohort, "--status", "all"), show(cohort, 1)["timeline"])
    for sets in ((), ("--set", "result=maybe"), ("--set", "activity=work")):
        result = cohort.run("task", "done", str(call["id"]), "--outcome", "reached", *sets)
        message = error(result)
        assert "result" in message
        for name in RESULTS:
            assert name in message
    assert (work(cohort, "--status", "all"), show(cohort, 1)["timeline"]) == before


def test_reached_call_whose_step_is_refused_changes_nothing(cohort: Env) -> None:
    call = follow_up_call(cohort, 1)
    before = work(cohort, "--status", "all")
    result = cohort.run("task", "done", str(call["id"]), "--outcome", "reached",
                        "--set", "result=became_active", "--set", "activity=juggling")
    assert "activity" in error(result)
    assert work(cohort, "--status", "all") == before
    assert show(cohort, 1)["state"] == "follow_up"


# --- task done: other work and refusals -------------------------------------------------------


def test_reminder_and_report_are_finished_without_moving_the_case(invited: Env) -> None:
    reminder = task_of(invited, 1, "reminder_call")
    report = done(invited, reminder["id"], "reached")
    assert (report["transition"], report["next_round"]) == (None, None)
    advance(invited, 2, "hold_conversation", *CONVERSATION)
    deadline = task_of(invited, 2, "report_due")
    assert done(invited, deadline["id"], "done")["transition"] is None
    assert (show(invited, 1)["state"], show(invited, 2)["state"]) == ("invited", "spoken")
    assert sorted(c for c, _, _ in listed(invited, "--status", "done")) == [1, 2]


def test_unreached_reminder_is_simply_done(invited: Env) -> None:
    reminder = task_of(invited, 1, "reminder_call")
    report = done(invited, reminder["id"], "not_reached")
    assert (report["next_round"], report["transition"]) == (None, None)
    assert [c for c, _, _ in listed(invited)] == [2, 3]


def test_finishing_a_done_task_again_is_a_clear_error(cohort: Env) -> None:
    call = follow_up_call(cohort, 1)
    done(cohort, call["id"], "not_reached")
    result = cohort.run("task", "done", str(call["id"]), "--outcome", "not_reached")
    assert f"task {call['id']} is already done" in error(result)
    assert len(work(cohort, "--kind", "follow_up_call", "--status", "all")["tasks"]) == 2


def test_finishing_a_cancelled_task_is_a_clear_error(invited: Env) -> None:
    reminder = task_of(invited, 1, "reminder_call")
    advance(invited, 1, "decline")
    result = invited.run("task", "done", str(reminder["id"]), "--outcome", "reached")
    assert "already cancelled" in error(result)


def test_finishing_an_unknown_task_is_a_clear_error(invited: Env) -> None:
    result = invited.run("task", "done", "9999", "--outcome", "done")
    assert "no task 9999" in error(result)


def test_finishing_a_system_timer_is_a_clear_error(invited: Env) -> None:
    advance(invited, 1, "hold_conversation", *CONVERSATION)
    advance(invited, 1, "refer", "--set", "partner=wij_team")
    engine = invited.engine()
    try:
        from casework.models import Task

        with engine.db.connect() as conn:
            timer = conn.execute(select(Task.id).where(Task.kind == "referral_answer")).scalar()
    finally:
        engine.db.dispose()
    result = invited.run("task", "done", str(timer), "--outcome", "done")
    assert "timer" in error(result)
    assert show(invited, 1)["state"] == "referred"


def test_set_on_a_task_without_outcomes_is_refused(invited: Env) -> None:
    reminder = task_of(invited, 1, "reminder_call")
    result = invited.run("task", "done", str(reminder["id"]), "--outcome", "reached",
                         "--set", "result=became_active")
    assert "--set" in error(result)
    assert task_of(invited, 1, "reminder_call")["status"] == "open"


def test_set_on_an_unreached_call_is_refused(cohort: Env) -> None:
    call = follow_up_call(cohort, 1)
    result = cohort.run("task", "done", str(call["id"]), "--outcome", "not_reached",
                        "--set", "result=not_active")
    assert "--set" in error(result)
    assert task_of(cohort, 1, "follow_up_call")["round"] == 1


def test_unknown_outcome_is_a_usage_error(invited: Env) -> None:
    reminder = task_of(invited, 1, "reminder_call")
    result = invited.run("task", "done", str(reminder["id"]), "--outcome", "maybe")
    assert "--outcome" in error(result, 2)
