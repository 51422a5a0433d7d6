"""Work does not go stale, letters keep their word (issue 14, items 3 and 4).

A reminder call for an appointment that has passed is cancelled by the daily run, with the
reason; a letter about an appointment is only made when the post can bring it before the day
of the appointment (``letters.delivery_workdays``, 2 by default); a task takes only its own
outcomes; letters are dated the (local) day they are rendered, and no run goes back before the
last completed one. Driven with a fixed clock in December 2030 over the sample cohort.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import Clock, Env, lift_exclusions
from helpers import one_line_error, staff
from pypdf import PdfReader
from sqlalchemy import select

from casework.batches import mark_batch_sent
from casework.daily import days_to_run, run_daily
from casework.engine import Engine
from casework.errors import OptionRefused
from casework.mailroom import mark_returned, render_queue
from casework.models import Case, Letter, Task
from casework.permissions import SYSTEM
from casework.tasks import complete_task

AMS = ZoneInfo("Europe/Amsterdam")
WORKFLOW = "kansen-in-kaart"
CONVERSATION = {"classification": "work_potential", "participation_potential": "self"}


def at(day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A moment in Groningen in December 2030 (the 2nd is a Monday)."""
    return datetime(2030, 12, day, hour, minute, tzinfo=AMS)


@pytest.fixture
def clock() -> Clock:
    return Clock(at(2))


@pytest.fixture
def engine(cohort: Env, clock: Clock) -> Iterator[Engine]:
    """An engine on the fixed clock over the sample cohort (its exclusions lifted: case 2 is
    in contact with the WIJ-team)."""
    lift_exclusions(cohort)
    eng: Engine = cohort.engine(clock=clock)
    yield eng
    eng.db.dispose()


def invite(engine: Engine, case_id: int, appointment: str, trigger: str = "invite") -> None:
    engine.advance(case_id, trigger, staff(engine, "anna"), {"appointment": appointment})


def tasks_of(engine: Engine, case_id: int, kind: str) -> list[Any]:
    with engine.db.connect() as conn:
        return list(conn.execute(
            select(Task.id, Task.due, Task.status, Task.result, Task.done_by, Task.label,
                   Task.spec)
            .where(Task.case_id == case_id, Task.kind == kind).order_by(Task.id)).all())


def open_of(engine: Engine, case_id: int, kind: str) -> list[Any]:
    return [t for t in tasks_of(engine, case_id, kind) if t.status == "open"]


def letters_of(engine: Engine, case_id: int) -> list[Any]:
    with engine.db.connect() as conn:
        return list(conn.execute(
            select(Letter.id, Letter.template, Letter.status, Letter.reason, Letter.file,
                   Letter.batch)
            .where(Letter.case_id == case_id).order_by(Letter.id)).all())


# --- the daily run cancels reminders for appointments that have passed ------------------------


def test_daily_run_cancels_the_reminder_of_an_appointment_that_has_passed(
    engine: Engine, clock: Clock,
) -> None:
    invite(engine, 1, "2030-12-05 10:00")  # Thursday: the reminder is due Wednesday
    invite(engine, 2, "2030-12-06 14:00")  # Friday afternoon: not passed at 06:00 that day
    invite(engine, 3, "2030-12-12 10:00")  # next week
    clock.set(at(6, 6))  # Friday morning: nobody called case 1 back, nobody recorded a visit

    summary = run_daily(engine, SYSTEM, date(2030, 12, 6), write_log=False)

    assert summary.stale_cancelled == {"reminder_call": 1}
    assert summary.as_dict()["stale_cancelled"] == {"reminder_call": 1}
    [stale] = tasks_of(engine, 1, "reminder_call")
    assert (stale.status, stale.done_by) == ("cancelled", "daily-run")
    assert stale.result["cancelled"] == "appointment_passed"
    assert datetime.fromisoformat(stale.result["appointment"]) == at(5)
    assert [t.due for t in open_of(engine, 2, "reminder_call")] == [date(2030, 12, 5)]
    assert [t.due for t in open_of(engine, 3, "reminder_call")] == [date(2030, 12, 11)]
    # Each stale task once: a second run that day finds nothing left to cancel.
    assert run_daily(engine, SYSTEM, date(2030, 12, 6), write_log=False).stale_cancelled == {}


def test_a_moved_appointment_takes_its_reminder_along_and_the_old_day_cancels_nothing(
    engine: Engine, clock: Clock,
) -> None:
    invite(engine, 1, "2030-12-05 10:00")
    invite(engine, 2, "2030-12-05 14:00")
    clock.set(at(3, 9))
    invite(engine, 1, "2030-12-12 10:00", trigger="reschedule")
    clock.set(at(5, 15))
    engine.advance(2, "not_home", staff(engine, "anna"), {"appointment": "2030-12-16 10:00"})
    assert [(t.due, t.status) for t in tasks_of(engine, 1, "reminder_call")] == [
        (date(2030, 12, 4), "cancelled"), (date(2030, 12, 11), "open")]
    assert [(t.due, t.status) for t in tasks_of(engine, 2, "reminder_call")] == [
        (date(2030, 12, 4), "cancelled"), (date(2030, 12, 13), "open")]
    clock.set(at(6, 6))
    assert run_daily(engine, SYSTEM, date(2030, 12, 6), write_log=False).stale_cancelled == {}
    assert len(open_of(engine, 1, "reminder_call")) == len(open_of(engine, 2, "reminder_call")) == 1


def test_daily_summary_says_how_many_reminders_it_cancelled(cohort: Env, engine: Engine) -> None:
    invite(engine, 1, "2030-12-05 10:00")
    for letter in letters_of(engine, 1):
        cohort.ok("letters", "cancel", str(letter.id))  # nothing to render: a fast run
    dry = cohort.json("daily", "--date", "2030-12-06", "--dry-run")
    assert dry["planned"]["stale"] == 1
    text = cohort.ok("daily", "--date", "2030-12-06", env={"COLUMNS": "200"}).stdout
    assert "cancelled" in text and "reminder_call" in text and "appointment passed" in text
    assert "nothing was due" not in text
    assert tasks_of(engine, 1, "reminder_call")[0].status == "cancelled"


# --- no letter that cannot arrive in time --------------------------------------------------------


def test_reminder_not_reached_the_workday_before_sends_no_letter(
    cohort: Env, engine: Engine, clock: Clock,
) -> None:
    invite(engine, 1, "2030-12-05 09:00")
    clock.set(at(4, 11))  # the reminder call on Wednesday: nobody answers
    [call] = open_of(engine, 1, "reminder_call")
    report = complete_task(engine, staff(engine, "anna"), call.id, "not_reached")
    assert report["letter"] is None
    assert report["letter_not_sent"]["template"] == "herinnering"
    assert "2030-12-05 09:00" in report["letter_not_sent"]["reason"]
    assert [x.template for x in letters_of(engine, 1)] == ["uitnodiging"]
    # The same call a week ahead of its appointment is followed by the reminder letter.
    invite(engine, 2, "2030-12-12 09:00")
    [early] = open_of(engine, 2, "reminder_call")
    anna = staff(engine, "anna")
    assert complete_task(engine, anna, early.id, "wrong_number")["letter"] == "herinnering"
    assert [x.template for x in letters_of(engine, 2)] == ["uitnodiging", "herinnering"]


def test_reminder_letter_that_can_no_longer_arrive_is_cancelled_not_made(
    engine: Engine, clock: Clock,
) -> None:
    invite(engine, 1, "2030-12-09 10:00")  # Monday next week
    clock.set(at(3, 11))  # called on Tuesday: the letter would be there on Thursday
    [call] = open_of(engine, 1, "reminder_call")
    anna = staff(engine, "anna")
    assert complete_task(engine, anna, call.id, "not_reached")["letter"] == "herinnering"
    for letter in letters_of(engine, 1):
        if letter.template == "uitnodiging":
            with engine.db.begin() as conn:  # sent last week: only the reminder is queued
                conn.execute(Letter.__table__.update().where(Letter.id == letter.id)
                             .values(status="sent"))
    clock.set(at(6, 6))  # but nothing was rendered until Friday: it would come on Tuesday

    summary = render_queue(engine, date(2030, 12, 6))

    assert summary.rendered == 0 and summary.held == []
    [late] = summary.too_late
    assert late["template"] == "herinnering"
    [reminder] = [x for x in letters_of(engine, 1) if x.template == "herinnering"]
    assert (reminder.status, reminder.file) == ("cancelled", None)
    assert "cannot arrive before the appointment of 2030-12-09 10:00" in reminder.reason
    assert open_of(engine, 1, "new_appointment") == []  # the appointment itself stands


def test_invitation_that_cannot_arrive_in_time_is_held_until_a_new_appointment_is_proposed(
    engine: Engine, clock: Clock,
) -> None:
    invite(engine, 1, "2030-12-03 14:00")  # tomorrow: no letter gets there in time
    summary = render_queue(engine, date(2030, 12, 2))
    assert summary.rendered == 0
    [held] = summary.held
    assert held["template"] == "uitnodiging" and "cannot arrive" in held["reason"]
    [letter] = letters_of(engine, 1)
    assert (letter.status, letter.file) == ("held", None)
    [task] = open_of(engine, 1, "new_appointment")
    assert task.label.startswith(f"Nieuwe afspraak voorstellen: brief {letter.id}")
    assert task.due == date(2030, 12, 2)
    # Staff propose a new appointment: the held letter is replaced, the task is done with it.
    clock.set(at(2, 11))
    invite(engine, 1, "2030-12-12 10:00", trigger="reschedule")
    assert open_of(engine, 1, "new_appointment") == []
    old, new = letters_of(engine, 1)
    assert (old.status, new.status) == ("cancelled", "queued")
    assert render_queue(engine, date(2030, 12, 2)).rendered == 1


def test_invitation_for_a_conversation_already_held_is_cancelled_without_a_task(
    engine: Engine, clock: Clock,
) -> None:
    invite(engine, 1, "2030-12-03 14:00")
    clock.set(at(3, 15))  # the conversation was held before any letter was rendered
    engine.advance(1, "hold_conversation", staff(engine, "anna"), CONVERSATION)
    summary = render_queue(engine, date(2030, 12, 3))
    assert (summary.rendered, summary.held) == (0, [])
    assert [x["template"] for x in summary.too_late] == ["uitnodiging"]
    assert [x.status for x in letters_of(engine, 1)] == ["cancelled"]
    assert tasks_of(engine, 1, "new_appointment") == []


def test_new_appointment_task_finished_without_one_cancels_the_held_invitation(
    cohort: Env, engine: Engine,
) -> None:
    invite(engine, 1, "2030-12-03 14:00")
    render_queue(engine, date(2030, 12, 2))
    [task] = open_of(engine, 1, "new_appointment")
    listed = cohort.json("task", "list", "--kind", "new_appointment")["tasks"]
    assert [t["id"] for t in listed] == [task.id]  # on the work list, by its kind
    one_line_error(cohort.run("task", "done", str(task.id), "--outcome", "reached"), 2)
    report = complete_task(engine, staff(engine, "anna"), task.id, "done")
    assert report["letter"] == "cancelled"
    [letter] = letters_of(engine, 1)
    assert letter.status == "cancelled"
    assert render_queue(engine, date(2030, 12, 2)).held == []  # not held again


def test_planned_waves_propose_no_appointment_the_invitation_cannot_reach(
    engine: Engine,
) -> None:
    from casework.planning import plan_wave

    plan = plan_wave(engine, staff(engine, "anna"), WORKFLOW, "Beijum", 2, date(2030, 12, 3), 1)
    first = datetime.fromisoformat(plan["first_appointment"]).astimezone(AMS)
    # Made by Tuesday's run at the latest, on the mat on Thursday: Friday is the first day.
    assert first.date() == date(2030, 12, 6)
    summary = render_queue(engine, date(2030, 12, 2))
    assert (summary.rendered, summary.held) == (plan["invited"], [])


# --- a task takes only its own outcomes --------------------------------------------------------


def test_task_done_refuses_an_outcome_the_task_does_not_have(
    cohort: Env, engine: Engine, clock: Clock,
) -> None:
    invite(engine, 1, "2030-12-05 10:00")
    clock.set(at(5, 11))
    engine.advance(1, "hold_conversation", staff(engine, "anna"), CONVERSATION)
    [report_due] = open_of(engine, 1, "report_due")
    line = one_line_error(cohort.run("task", "done", str(report_due.id), "--outcome", "reached"), 2)
    assert "report_due" in line and "reached" in line and "its outcomes: done" in line
    invite(engine, 2, "2030-12-12 10:00")
    [call] = open_of(engine, 2, "reminder_call")
    line = one_line_error(cohort.run("task", "done", str(call.id), "--outcome", "done"), 2)
    assert "its outcomes: reached, not_reached, wrong_number" in line
    # Nothing happened: both are still open, and no report letter was queued by mistake.
    assert open_of(engine, 1, "report_due") and open_of(engine, 2, "reminder_call")
    assert "verslag" not in [x.template for x in letters_of(engine, 1)]
    with pytest.raises(OptionRefused):
        complete_task(engine, staff(engine, "anna"), report_due.id, "not_reached")
    assert complete_task(engine, staff(engine, "anna"), report_due.id,
                         "done")["letter"] == "verslag"


def test_an_apply_line_with_an_outcome_the_task_does_not_have_fails_alone(cohort: Env) -> None:
    cohort.ok("case", "advance", "1", "invite", "--set", "appointment=2099-01-05 10:00")
    cohort.ok("case", "advance", "1", "hold_conversation", "--set",
              "classification=not_active", "--set", "participation_potential=none")
    path = cohort.root / "outcomes.csv"
    path.write_text("case,task_kind,task_outcome\n1,report_due,reached\n1,report_due,done\n",
                    encoding="utf-8")
    result = cohort.run("case", "apply", str(path), "--json")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert summary["applied"] == 1
    [failure] = summary["failures"]
    assert failure["line"] == 2 and "its outcomes: done" in failure["reason"]


# --- letters are dated the day they are made ------------------------------------------------------


def test_letters_are_dated_the_local_day_they_are_rendered(
    engine: Engine, clock: Clock,
) -> None:
    invite(engine, 1, "2030-12-20 10:00")
    clock.set(datetime(2030, 12, 2, 23, 30, tzinfo=UTC))  # already Tuesday in Groningen
    summary = render_queue(engine, date(2030, 12, 2))  # a run for Monday, made on Tuesday
    assert summary.rendered == 1
    [letter] = letters_of(engine, 1)
    text = "\n".join(page.extract_text() for page in PdfReader(letter.file).pages)
    assert "Datum 3 december 2030" in text


def test_letters_check_dates_its_samples_by_the_local_day(
    engine: Engine, clock: Clock, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from casework import mailroom
    from casework.letters import LetterRenderer

    clock.set(datetime(2030, 12, 2, 23, 30, tzinfo=UTC))
    dated: set[str] = set()

    def fake_pdf(self: LetterRenderer, template: str, ctx: dict[str, Any]) -> bytes:
        dated.add(ctx["letter_date"])
        return b"/Type /Page "

    monkeypatch.setattr(LetterRenderer, "pdf", fake_pdf)
    assert mailroom.check_templates(engine, WORKFLOW)
    assert dated == {"3 december 2030"}


# --- no run goes back in time --------------------------------------------------------------------


def test_daily_for_a_day_before_the_last_completed_run_is_refused(cohort: Env) -> None:
    cohort.ok("daily", "--date", "2099-01-10")
    line = one_line_error(cohort.run("daily", "--date", "2099-01-09"), 2)
    assert "09-01-2099" in line and "run 1" in line and "10-01-2099" in line
    line = one_line_error(cohort.run("letters", "render", "--date", "2099-01-09"), 2)
    assert "run 1" in line and "10-01-2099" in line
    assert [r["run_date"] for r in cohort.json("daily", "--status")] == ["2099-01-10"]
    cohort.ok("daily", "--date", "2099-01-10")  # the same day again is a harmless rerun
    cohort.ok("daily", "--date", "2099-01-09", "--dry-run")  # looking changes nothing


def test_catch_up_after_a_run_for_a_later_day_runs_nothing(engine: Engine, clock: Clock) -> None:
    run_daily(engine, SYSTEM, date(2030, 12, 9), write_log=False)
    assert days_to_run(engine, date(2030, 12, 2)) == []
    with pytest.raises(OptionRefused):
        run_daily(engine, SYSTEM, date(2030, 12, 2), write_log=False)
    assert days_to_run(engine, date(2030, 12, 9)) == [date(2030, 12, 9)]


# --- no open task on a closed case ---------------------------------------------------------------


def test_mail_returned_for_a_closed_case_opens_no_task(engine: Engine, clock: Clock) -> None:
    invite(engine, 1, "2030-12-12 10:00")
    [batch] = render_queue(engine, date(2030, 12, 2)).batches
    mark_batch_sent(engine, staff(engine, "anna"), batch["batch"])
    clock.set(at(4))
    engine.advance(1, "decline", staff(engine, "anna"))
    [letter] = [x for x in letters_of(engine, 1) if x.template == "uitnodiging"]
    mark_returned(engine, staff(engine, "anna"), letter.id)
    with engine.db.connect() as conn:
        assert conn.execute(select(Case.closed_at).where(Case.id == 1)).scalar() is not None
        assert conn.execute(select(Task.id).where(Task.case_id == 1,
                                                  Task.status == "open")).all() == []
