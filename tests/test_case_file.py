"""The case file tells the whole story: calls and their outcomes, the work (open and done), the
exclusion and its reason and the person's flag appear in `case show` and its timeline; the
work lists show outcomes, the appointment and the task's label; `task done --note` is kept;
a reached follow-up call's result is checked before anything changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import Env, tamper
from helpers import (
    advance,
    done,
    error,
    follow_up_call,
    invite,
    show,
    staff,
    task_of,
    work,
)
from sqlalchemy import update

from casework.models import Participant

WIDE = {"COLUMNS": "250"}  # a wide terminal, so rich tables do not wrap
AMS = ZoneInfo("Europe/Amsterdam")
ACTIVITIES = ("volunteering", "participation_job", "work", "part_time_self_employment",
              "education", "other")


@pytest.fixture
def invited(cohort: Env) -> Env:
    """Case 1 invited for Monday 5 January 2099 at 10:00 (its reminder call due Friday 2)."""
    invite(cohort, 1, appointment="2099-01-05 10:00")
    return cohort


# --- calls and work in the case file ----------------------------------------------------------

def test_a_call_not_reached_is_in_the_timeline_and_the_work_of_the_case(invited: Env) -> None:
    reminder = task_of(invited, 1, "reminder_call")
    done(invited, reminder["id"], "not_reached", "--note", "voicemail ingesproken")
    case = show(invited, 1)
    last = case["timeline"][-1]
    assert (last["trigger"], last["from"], last["to"]) == ("task_done", "invited", "invited")
    assert last["data"] == {"task": reminder["id"], "kind": "reminder_call", "round": 1,
                            "outcome": "not_reached", "letter": "herinnering",
                            "label": "Herinnering bellen (dag voor de afspraak)"}
    assert last["note"] == "voicemail ingesproken"
    [finished] = [t for t in case["tasks"] if t["id"] == reminder["id"]]
    assert (finished["status"], finished["outcome"], finished["note"], finished["done_by"]) == (
        "done", "not_reached", "voicemail ingesproken", "anna")
    assert finished["label"] == "Herinnering bellen (dag voor de afspraak)"


def test_case_show_lists_open_and_done_work(cohort: Env) -> None:
    call = follow_up_call(cohort, 1)
    report_due = task_of(cohort, 1, "report_due")
    done(cohort, report_due["id"], "done", "--note", "per post")
    tasks = {t["kind"]: t for t in show(cohort, 1)["tasks"]}
    assert tasks["follow_up_call"]["status"] == "open"
    assert (tasks["follow_up_call"]["id"], tasks["follow_up_call"]["round"],
            tasks["follow_up_call"]["rounds"]) == (call["id"], 1, 2)
    assert (tasks["report_due"]["status"], tasks["report_due"]["outcome"]) == ("done", "done")
    assert tasks["reminder_call"]["status"] == "cancelled"  # the conversation was held
    assert set(tasks["report_due"]) == {
        "id", "kind", "label", "due", "round", "rounds", "status", "by", "assigned_to",
        "role", "outcome", "result", "note", "done_at", "done_by", "outcomes", "results"}
    assert tasks["follow_up_call"]["outcomes"] == ["reached", "not_reached", "wrong_number"]
    assert "taking_steps" in tasks["follow_up_call"]["results"]
    out = cohort.ok("case", "show", "1", env=WIDE).stdout
    assert "Work" in out and "Nabellen: hoe gaat het?" in out and "per post" in out


def test_a_reached_follow_up_call_shows_its_result_in_the_timeline(cohort: Env) -> None:
    call = follow_up_call(cohort, 1)
    done(cohort, call["id"], "reached", "--set", "result=taking_steps", "--note",
         "solliciteert zelf")
    case = show(cohort, 1)
    last = case["timeline"][-1]
    assert last["trigger"] == "close"
    assert last["note"] == "follow_up_call round 1: reached (taking_steps); solliciteert zelf"
    [finished] = [t for t in case["tasks"] if t["id"] == call["id"]]
    assert (finished["outcome"], finished["result"], finished["note"]) == (
        "reached", "taking_steps", "solliciteert zelf")


def test_the_exclusion_and_its_reason_are_in_the_case_file(cohort: Env) -> None:
    first = cohort.json("cohort", "excluded", "--workflow", "kansen-in-kaart")["cases"][0]
    case = show(cohort, first["case_id"])
    assert case["excluded"] == first["reason"] == "social_team_contact"
    assert [(e["trigger"], e["data"]) for e in case["timeline"]] == [
        ("open", {"source": "cohort import", "file": "cohort.csv"}),
        ("exclude", {"reason": "social_team_contact"})]
    out = cohort.ok("case", "show", str(first["case_id"]), env=WIDE).stdout
    assert "excluded: social_team_contact (kept out of waves)" in out
    assert show(cohort, 1)["excluded"] is None


def test_an_exclusion_found_when_planning_is_in_the_timeline(cohort: Env) -> None:
    # The person's flag was set behind the case's back (another route's file, a registry
    # update): the rules see it when the wave is planned, and the case file says so.
    tamper(cohort, update(Participant).where(Participant.id == 1).values(flag="deceased"))
    plan = cohort.json("cohort", "plan", "--workflow", "kansen-in-kaart", "--wijk",
                       show(cohort, 1)["wijk"], "--size", "1", "--specialists", "1",
                       "--from", "2099-01-05")
    assert {"case_id": 1, "reason": "deceased"} in plan["excluded_now"]
    case = show(cohort, 1)
    assert case["excluded"] == "deceased"
    last = case["timeline"][-1]
    assert (last["trigger"], last["data"]) == ("exclude", {"reason": "deceased"})


def test_the_flag_shows_with_the_person(cohort: Env) -> None:
    cohort.ok("case", "flag", "1", "moved")
    case = show(cohort, 1)
    assert case["person"]["flag"] == "moved"
    assert case["excluded"] == "moved"
    assert (case["timeline"][-1]["trigger"], case["timeline"][-1]["data"]) == (
        "flag", {"flag": "moved"})
    out = cohort.ok("case", "show", "1", env=WIDE).stdout
    assert "flagged: moved" in out
    assert show(cohort, 2)["person"]["flag"] is None


# --- the work lists ---------------------------------------------------------------------------

def test_the_call_list_shows_the_appointment_and_the_label(invited: Env) -> None:
    [reminder] = work(invited)["tasks"]
    assert datetime.fromisoformat(reminder["appointment"]) == datetime(2099, 1, 5, 10,
                                                                       tzinfo=AMS)
    assert reminder["label"] == "Herinnering bellen (dag voor de afspraak)"
    out = invited.ok("task", "list", env=WIDE).stdout
    assert "2099-01-05 10:00" in out
    assert "Herinnering bellen (dag voor de afspraak)" in out


def test_task_list_done_shows_outcomes_and_notes(invited: Env) -> None:
    reminder = task_of(invited, 1, "reminder_call")
    done(invited, reminder["id"], "reached", "--note", "komt maandag")
    [finished] = work(invited, "--status", "done")["tasks"]
    assert (finished["outcome"], finished["note"]) == ("reached", "komt maandag")
    out = invited.ok("task", "list", "--status", "done", env=WIDE).stdout
    assert "outcome" in out and "reached" in out and "komt maandag" in out
    # the open list keeps its columns
    assert "outcome" not in invited.ok("task", "list", env=WIDE).stdout


def test_a_note_with_control_characters_is_refused_and_nothing_changes(invited: Env) -> None:
    reminder = task_of(invited, 1, "reminder_call")
    before = show(invited, 1)["timeline"]
    result = invited.run("task", "done", str(reminder["id"]), "--outcome", "reached",
                         "--note", "belde\x1b[2J")
    assert "--note contains a control character" in error(result)
    assert task_of(invited, 1, "reminder_call")["status"] == "open"
    assert show(invited, 1)["timeline"] == before


def test_a_wrong_number_suggests_correcting_it(invited: Env) -> None:
    reminder = task_of(invited, 1, "reminder_call")
    out = invited.ok("task", "done", str(reminder["id"]), "--outcome", "wrong_number").stdout
    assert "correct the number with casework person edit 1 --phone ..." in out


# --- a reached follow-up call's result is checked ---------------------------------------------

def test_became_active_needs_the_activity(cohort: Env) -> None:
    call = follow_up_call(cohort, 1)
    before = (work(cohort, "--status", "all"), show(cohort, 1)["timeline"])
    message = error(cohort.run("task", "done", str(call["id"]), "--outcome", "reached",
                               "--set", "result=became_active"))
    assert "result became_active needs --set activity=..." in message
    for activity in ACTIVITIES:
        assert activity in message
    assert (work(cohort, "--status", "all"), show(cohort, 1)["timeline"]) == before
    report = done(cohort, call["id"], "reached", "--set", "result=became_active",
                  "--set", "activity=volunteering")
    assert report["transition"]["to"] == "active"
    assert show(cohort, 1)["data"]["activity"] == "volunteering"


@pytest.mark.parametrize(("typed", "hint"), [("became_actve", "did you mean became_active? "),
                                             ("xyz", "")])
def test_a_typo_in_the_result_names_the_allowed_results(cohort: Env, typed: str,
                                                        hint: str) -> None:
    call = follow_up_call(cohort, 1)
    before = (work(cohort, "--status", "all"), show(cohort, 1)["timeline"])
    message = error(cohort.run("task", "done", str(call["id"]), "--outcome", "reached",
                               "--set", f"result={typed}"))
    assert (f"result '{typed}' is not a result of follow_up_call; {hint}use one of "
            "became_active, to_social_team, taking_steps, not_active") in message
    assert (work(cohort, "--status", "all"), show(cohort, 1)["timeline"]) == before


def test_finishing_work_that_moves_nothing_counts_as_a_step_of_the_case(invited: Env) -> None:
    before = show(invited, 1)["version"]
    reminder = task_of(invited, 1, "reminder_call")
    done(invited, reminder["id"], "reached")
    after = show(invited, 1)
    assert after["version"] == before + 1
    assert after["state"] == "invited"
    advance(invited, 1, "not_home")  # the case goes on as before
    assert show(invited, 1)["timeline"][-1]["trigger"] == "not_home"


# --- the web front's case page ----------------------------------------------------------------

def test_the_case_page_reads_and_logs_what_show_consent_list_and_triggers_do(
        invited: Env) -> None:
    from sqlalchemy import select

    from casework.cases import case_page, case_triggers, show_case
    from casework.consents import list_consents
    from casework.models import AccessLog

    def log(engine: Any) -> list[tuple[str, list[int]]]:
        with engine.db.connect() as conn:
            return [(r.action, r.case_ids) for r in conn.execute(
                select(AccessLog.action, AccessLog.case_ids).order_by(AccessLog.id))]

    invited.ok("case", "advance", "2", "decline", "--note", "Wil niet")
    engine = invited.engine()
    try:
        anna = staff(engine, "anna")
        before = len(log(engine))
        page = case_page(engine, anna, 1, triggers=True)
        assert log(engine)[before:] == [("show", [1]), ("consent list", [1]),
                                        ("triggers", [1])]
        assert page == {"case": show_case(engine, anna, 1),
                        "consents": list_consents(engine, anna, 1),
                        "triggers": case_triggers(engine, anna, 1)}
        # Reading only, or a closed case: no possible steps asked, none logged.
        for case_id, triggers in ((1, False), (2, True)):
            before = len(log(engine))
            assert case_page(engine, anna, case_id, triggers=triggers)["triggers"] is None
            assert [action for action, _ in log(engine)[before:]] == ["show", "consent list"]
    finally:
        engine.db.dispose()
