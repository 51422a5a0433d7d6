"""Recording the past: a season from 2015-2016 loaded through the CLI (the cohort as selected,
then the history file), `--at` on every command that records an event, and history that
writes to nobody.

The expected tables below are counted by hand from examples/history/history-2015-2016.csv
(people P01-P16 in Vinkhuizen, P17-P30 in Oosterparkwijk, in the order of the cohort file;
case N is person PN), not by the code under test.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from conftest import EXAMPLES, Env, add_anna, write_config

HISTORY = EXAMPLES / "history"
COHORT_2015 = HISTORY / "cohort-2015.csv"
SEASON = HISTORY / "history-2015-2016.csv"
SELECTED = "2015-09-01 09:00"
AMS = ZoneInfo("Europe/Amsterdam")

# As of Thursday 31 March 2016. Approached: Vinkhuizen P01-P11, P14, P15 (13), Oosterparkwijk
# P17-P26, P29 (11). Spoken: Vinkhuizen P01 P02 P03 P05 P06 P07 P09 P10 P14 P15 (10),
# Oosterparkwijk P17 P18 P19 P21 P22 P23 P24 P25 P29 (9).
# Socially active: P01 (self), P05, P09 (supported), P15 | P17 (self), P22, P24 (supported).
# Work potential: P03, P10 | P19, P29. Not active: P02 (supported), P06 (self), P07,
# P14 (supported) | P18 (supported), P21, P23 (self), P25 (self).
# Became active: P01 (Nov), P05 (the follow-up call, Jan), P02 (Feb), P17 (Mar).
# Referred: Coach Meedoen P01 P14 P18; wijkwerkmakelaar P02 P17; Centrum naar Werk P03 P19;
# WIJ-team P09 P24 P25 (after the follow-up call); ontheffing P23.
MARCH_2016 = {
    "approached": 24, "spoken": 19,
    "socially_active": 7, "socially_active_with_potential": 4,
    "work_potential": 4,
    "not_active": 8, "not_active_with_potential": 6,
    "participation_potential_total": 10, "potential_self": 5, "potential_supported": 5,
    "became_active": 4,
    "referrals": {"per_partner": {"centrum_naar_werk": 2, "coach_meedoen": 3,
                                  "ontheffing_review": 1, "wij_team": 3,
                                  "wijkwerkmakelaar": 2},
                  "total": 11},
    "per_wijk": [
        {"wijk": "Oosterparkwijk", "approached": 11, "spoken": 9, "socially_active": 3},
        {"wijk": "Vinkhuizen", "approached": 13, "spoken": 10, "socially_active": 4},
    ],
}
# As of Friday 1 July 2016, also: P12 invited 4 April, spoken 18 April (socially active,
# self); P27 invited 4 April, spoken 19 April (not active, supported); P03 started work
# 11 April, P18 a participation job 2 May.
JULY_2016 = {
    "approached": 26, "spoken": 21,
    "socially_active": 8, "socially_active_with_potential": 5,
    "work_potential": 4,
    "not_active": 9, "not_active_with_potential": 7,
    "participation_potential_total": 12, "potential_self": 6, "potential_supported": 6,
    "became_active": 6,
    "referrals": MARCH_2016["referrals"],
    "per_wijk": [
        {"wijk": "Oosterparkwijk", "approached": 12, "spoken": 10, "socially_active": 3},
        {"wijk": "Vinkhuizen", "approached": 14, "spoken": 11, "socially_active": 5},
    ],
}


def outcomes(env: Env, as_of: str) -> dict[str, Any]:
    table = json.loads(env.ok("report", "outcomes", "--as-of", as_of, "--format", "json").stdout)
    return {key: table[key] for key in MARCH_2016}


def load_season(env: Env) -> dict[str, Any]:
    env.ok("cohort", "import", str(COHORT_2015), "--workflow", "kansen-in-kaart",
           "--at", SELECTED)
    return env.json("case", "apply", str(SEASON), "--history")  # type: ignore[no-any-return]


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=AMS)


def test_a_season_loaded_as_history_reproduces_its_council_table(env: Env) -> None:
    summary = load_season(env)
    assert (summary["read"], summary["applied"], summary["failed"]) == (113, 113, 0)
    assert summary["history"] is True
    assert summary["by_trigger"]["consent_granted"] == 4
    assert summary["by_trigger"]["report_due done"] == 21
    # Nobody was written to about 2015.
    assert env.json("letters", "list")["total"] == 0

    assert outcomes(env, "2016-03-31") == MARCH_2016
    assert outcomes(env, "2016-07-01") == JULY_2016

    # The cases opened at the selection, and the case file holds the past as it happened.
    p25 = env.json("case", "show", "25")
    assert [(e["trigger"], e["at"][:16]) for e in p25["timeline"]] == [
        ("open", "2015-09-01T07:00"), ("invite", "2015-10-05T08:08"),
        ("hold_conversation", "2015-10-22T09:00"), ("self_action", "2015-10-22T09:10"),
        ("task_done", "2015-10-26T08:05"), ("task_done", "2016-02-01T09:00"),
        ("consent_granted", "2016-02-16T08:00"), ("refer", "2016-02-16T08:30"),
    ]
    # The report sent and the first follow-up call (a wrong number) are in the case file.
    assert [(e["data"]["kind"], e["data"]["outcome"]) for e in p25["timeline"]
            if e["trigger"] == "task_done"] == [("report_due", "done"),
                                                ("follow_up_call", "wrong_number")]
    assert p25["state"] == "referred"
    done = env.json("task", "list", "--status", "done", "--kind", "follow_up_call")["tasks"]
    assert sorted((t["case_id"], t["round"], t["done_at"][:10]) for t in done if
                  t["case_id"] in (6, 25)) == [
        (6, 1, "2016-01-04"), (6, 2, "2016-01-19"), (25, 1, "2016-02-01"),
        (25, 2, "2016-02-16")]
    assert env.json("case", "show", "6")["close_reason"] == "unreachable"

    # Loading again adds nothing.
    again = env.json("case", "apply", str(SEASON), "--history")
    assert (again["applied"], again["already_applied"]) == (0, 113)


def test_steps_recorded_after_the_as_of_date_do_not_change_its_table(env: Env) -> None:
    load_season(env)
    # September 2016: P13 is invited at last, P15's follow-up call (overdue since December)
    # is made and she has become active.
    env.ok("case", "advance", "13", "invite", "--set", "appointment=2016-09-20 10:00",
           "--at", "2016-09-05 10:00", "--history")
    [call] = [t for t in env.json("task", "list", "--kind", "follow_up_call")["tasks"]
              if t["case_id"] == 15]
    env.ok("task", "done", str(call["id"]), "--outcome", "reached",
           "--set", "result=became_active", "--set", "activity=volunteering",
           "--at", "06-09-2016 10:00", "--history")

    assert outcomes(env, "2016-03-31") == MARCH_2016
    assert outcomes(env, "2016-07-01") == JULY_2016
    september = outcomes(env, "2016-09-30")
    assert (september["approached"], september["became_active"]) == (27, 7)
    assert env.json("letters", "list")["total"] == 0


def test_the_next_daily_run_sends_nothing_about_the_past(env: Env) -> None:
    load_season(env)
    run = env.json("daily")
    assert run["failed"] == 0
    assert run["letters"]["rendered"] == 0
    assert run["timer_transitions"] == {}
    # The referrals no partner answered (P09, P14, P19, P23, P24, P25) go to the coordinator,
    # once each; the rerun adds nothing.
    assert run["escalations"] == {"referral_answer": 6}
    assert env.json("daily")["escalations"] == {}
    assert env.json("letters", "list")["total"] == 0


def test_history_queues_no_letter_where_a_step_otherwise_would(env: Env) -> None:
    env.ok("cohort", "import", str(COHORT_2015), "--workflow", "kansen-in-kaart",
           "--at", SELECTED)
    invite = ("invite", "--set", "appointment=2015-09-21 10:00", "--at", "2015-09-07 10:00")
    env.ok("case", "advance", "1", *invite, "--history")
    env.ok("case", "advance", "2", *invite)
    letters = env.json("letters", "list")["letters"]
    assert [(x["case_id"], x["template"]) for x in letters] == [(2, "uitnodiging")]


def test_apply_lines_with_a_consent_or_a_task_outcome_fail_alone(env: Env) -> None:
    env.ok("cohort", "import", str(COHORT_2015), "--workflow", "kansen-in-kaart",
           "--at", SELECTED)
    path = env.root / "history.csv"
    path.write_text(
        "case,at,trigger,appointment,classification,participation_potential,partner,consent,"
        "consent_how,task_kind,task_outcome,result\n"
        "1,2015-09-07 10:00,invite,2015-09-21 10:00,,,,,,,,\n"
        "1,2015-09-21 11:00,hold_conversation,,not_active,self,,,,,,\n"
        "1,2015-09-22 09:00,,,,,,share:wij_team|record_report,letter,,,\n"
        "1,2015-09-22 10:00,refer,,,,wij_team,,,,,\n"
        "1,2015-09-23 10:00,,,,,,,,report_due,done,\n"
        "2,2015-09-23 10:00,,,,,,,,follow_up_call,reached,became_active\n"
        "2,2015-09-23 10:00,,,,,,share:nobody,,,,\n"
        "2,2015-09-23 10:00,,,,,,share:wij_team,by pigeon,,,\n"
        "2,2015-09-23 10:00,decline,,,,,,,report_due,done,\n"
        "3,2015-08-01 10:00,,,,,,record_report,,,,\n",
        encoding="utf-8")
    result = env.run("case", "apply", str(path), "--history", "--json")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert summary["applied"] == 5
    failures = {f["line"]: f["reason"] for f in summary["failures"]}
    assert set(failures) == {7, 8, 9, 10, 11}
    assert "no open task 'follow_up_call'" in failures[7]
    assert "consent scope 'share:nobody' is not known" in failures[8]
    assert "--how must be one of" in failures[9]
    assert "a line records one happening" in failures[10]
    assert "is before case 3's last event" in failures[11]
    consents = env.json("consent", "list", "1")["current"]
    assert consents == {"share:wij_team": True, "record_report": True}
    assert env.json("case", "show", "1")["state"] == "referred"
    [report] = env.json("task", "list", "--status", "done", "--kind", "report_due")["tasks"]
    assert (report["case_id"], report["done_at"][:10]) == (1, "2015-09-23")



def test_apply_lines_withdraw_consent_as_consent_withdraw_does(env: Env) -> None:
    """A history holds withdrawals too: `consent_withdrawn` on a line of its own withdraws
    each scope as `consent withdraw` does (the referral not yet accepted is withdrawn), and
    the file's later lines see it (the refer after it is refused for lack of consent)."""
    env.ok("cohort", "import", str(COHORT_2015), "--workflow", "kansen-in-kaart",
           "--at", SELECTED)
    path = env.root / "history.csv"
    path.write_text(
        "case,at,trigger,appointment,classification,participation_potential,partner,consent,"
        "consent_withdrawn,consent_how\n"
        "1,2015-09-07 10:00,invite,2015-09-21 10:00,,,,,,\n"
        "1,2015-09-21 11:00,hold_conversation,,not_active,self,,,,\n"
        "1,2015-09-22 09:00,,,,,,share:wij_team|record_report,,\n"
        "1,2015-09-22 10:00,refer,,,,wij_team,,,\n"
        "1,2015-10-01 09:00,,,,,,,share:wij_team,phone\n"
        "2,2015-09-07 10:00,invite,2015-09-21 10:00,,,,,,\n"
        "2,2015-09-21 11:00,hold_conversation,,not_active,self,,,,\n"
        "2,2015-09-22 09:00,,,,,,share:coach_meedoen,,\n"
        "2,2015-09-23 09:00,,,,,,,share:coach_meedoen|share:nobody,\n"
        "2,2015-09-24 09:00,,,,,,,share:coach_meedoen,\n"
        "2,2015-09-25 10:00,refer,,,,coach_meedoen,,,\n"
        "2,2015-09-26 10:00,decline,,,,,,share:coach_meedoen,\n",
        encoding="utf-8")
    result = env.run("case", "apply", str(path), "--history", "--json")
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    failures = {f["line"]: f["reason"] for f in summary["failures"]}
    assert set(failures) == {10, 12, 13}, failures
    # Two scopes, one unknown: the line fails whole, nothing of it is recorded.
    assert "consent scope 'share:nobody' is not known" in failures[10]
    assert "share:coach_meedoen" in failures[12]  # the consent rule: withdrawn two lines up
    assert "a line records one happening" in failures[13]
    assert summary["by_trigger"]["consent_withdrawn"] == 2
    assert env.json("consent", "list", "1")["current"] == {
        "share:wij_team": False, "record_report": True}
    [event] = [e for e in env.json("case", "show", "1")["timeline"]
               if e["trigger"] == "consent_withdrawn"]
    assert event["at"][:10] == "2015-10-01"
    assert (event["data"]["how"], event["data"]["cancelled"]["referrals"]) == ("phone", 1)
    assert env.json("consent", "list", "2")["current"] == {"share:coach_meedoen": False}
    assert [e["data"]["scope"] for e in env.json("case", "show", "2")["timeline"]
            if e["trigger"] == "consent_withdrawn"] == ["share:coach_meedoen"]
    assert env.json("case", "show", "2")["state"] == "spoken"

# --- --at on every command that records an event ---------------------------------------------

MW_BSN_ROW = 1  # P01 also gets a Meedoen Werkt! case (event attend)


def _bsn(row: int) -> str:
    with COHORT_2015.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))[row - 1]["bsn"]


def _spoken(env: Env) -> None:
    """Case 1 spoken on 10 September 2015, with a report (themes) and its report_due task."""
    env.ok("consent", "grant", "1", "record_report", "--how", "conversation",
           "--at", "2015-09-02 10:00")
    env.ok("case", "advance", "1", "invite", "--set", "appointment=2015-09-10 10:00",
           "--at", "2015-09-03 10:00", "--history")
    env.ok("case", "advance", "1", "hold_conversation", "--set", "classification=not_active",
           "--set", "participation_potential=self", "--set", "themes.health=Rugklachten",
           "--at", "2015-09-10 11:00", "--history")


def _following_up(env: Env) -> None:
    """Case 1 spoken, acting herself from 10 September 2015: a follow-up call is planned."""
    _spoken(env)
    env.ok("case", "advance", "1", "self_action", "--at", "2015-09-10 11:10", "--history")


def _call(env: Env) -> str:
    [task] = env.json("task", "list", "--kind", "follow_up_call")["tasks"]
    return str(task["id"])


def _meedoen(env: Env) -> None:
    """Case 31: P01 on Meedoen Werkt!, getting to know since 3 September; meeting 1."""
    env.ok("case", "open", "--workflow", "meedoen-werkt", "--bsn", _bsn(MW_BSN_ROW),
           "--at", "2015-09-01 09:30")
    env.ok("case", "advance", "31", "approach", "--at", "2015-09-02 10:00", "--history")
    env.ok("case", "advance", "31", "get_to_know", "--at", "2015-09-03 10:00")
    env.ok("event", "add", "--date", "2015-09-10", "--place", "Wijkcentrum")


def _budget(env: Env) -> None:
    env.ok("budget", "set", "kansen-in-kaart", "1000", "--year", "2015")


Command = Callable[[Env, str], tuple[str, ...]]
# name -> (setup, the command with its --at value, the case whose timeline gets the event)
COMMANDS: dict[str, tuple[Callable[[Env], None] | None, Command, int]] = {
    "case advance": (None, lambda env, at: (
        "case", "advance", "1", "invite", "--set", "appointment=2015-09-30 10:00",
        "--at", at), 1),
    "case assign": (None, lambda env, at: ("case", "assign", "1", "bert", "--at", at), 1),
    "case flag": (None, lambda env, at: ("case", "flag", "1", "moved", "--at", at), 1),
    "consent grant": (None, lambda env, at: (
        "consent", "grant", "1", "share:wij_team", "--how", "phone", "--at", at), 1),
    "consent withdraw": (None, lambda env, at: (
        "consent", "withdraw", "1", "record_report", "--how", "letter", "--at", at), 1),
    "case correct": (_spoken, lambda env, at: (
        "case", "correct", "1", "--set", "themes.health=Knieklachten", "--at", at), 1),
    "task done": (_following_up, lambda env, at: (
        "task", "done", _call(env), "--outcome", "reached", "--set", "result=became_active",
        "--set", "activity=volunteering", "--at", at, "--history"), 1),
    "event attend": (_meedoen, lambda env, at: (
        "event", "attend", "1", "--case", "31", "--at", at), 31),
    "budget spend": (_budget, lambda env, at: (
        "budget", "spend", "1", "250", "--purpose", "cursus", "--at", at), 1),
    "case open": (None, lambda env, at: (
        "case", "open", "--workflow", "participatiecoach", "--bsn", _bsn(2),
        "--source", "self_report", "--at", at), 31),
}


@pytest.fixture
def season_start(env: Env) -> Env:
    """The 2015 cohort, selected on 1 September 2015 (cases 1 to 30)."""
    env.ok("cohort", "import", str(COHORT_2015), "--workflow", "kansen-in-kaart",
           "--at", SELECTED)
    return env


def _prepare(env: Env, name: str) -> tuple[Command, int]:
    setup, command, case_id = COMMANDS[name]
    if setup is not None:
        setup(env)
    return command, case_id


def _events(env: Env, case_id: int) -> list[dict[str, Any]]:
    result = env.run("case", "show", str(case_id), "--json")
    if result.exit_code != 0:
        return []  # not opened
    return json.loads(result.stdout)["timeline"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", [*COMMANDS, "cohort import"])
def test_a_moment_in_the_future_is_refused(env: Env, name: str) -> None:
    tomorrow = (datetime.now(AMS) + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    if name == "cohort import":
        result = env.run("cohort", "import", str(COHORT_2015), "--workflow", "kansen-in-kaart",
                         "--at", tomorrow)
        assert result.exit_code == 1
        assert f"the moment {tomorrow} lies in the future" in result.stderr
        assert env.json("case", "list")["total"] == 0
        return
    env.ok("cohort", "import", str(COHORT_2015), "--workflow", "kansen-in-kaart",
           "--at", SELECTED)
    command, case_id = _prepare(env, name)
    before = _events(env, case_id)
    result = env.run(*command(env, tomorrow))
    assert result.exit_code == 1, result.output
    assert f"the moment {tomorrow} lies in the future" in result.stderr
    assert "Traceback" not in result.output
    assert _events(env, case_id) == before


@pytest.mark.parametrize("name", [n for n in COMMANDS if n != "case open"])
def test_a_moment_before_the_case_s_last_event_is_refused(season_start: Env, name: str) -> None:
    env = season_start
    command, case_id = _prepare(env, name)
    before = _events(env, case_id)
    last = datetime.fromisoformat(before[-1]["at"]).astimezone(AMS)
    result = env.run(*command(env, "2015-08-31 10:00"))
    assert result.exit_code == 1, result.output
    assert (f"the moment 2015-08-31 10:00 is before case {case_id}'s last event "
            f"({last:%Y-%m-%d %H:%M}); record events in the order they happened"
            in result.stderr)
    assert _events(env, case_id) == before


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_event_is_dated_at_and_keeps_when_it_was_recorded(season_start: Env,
                                                              name: str) -> None:
    env = season_start
    command, case_id = _prepare(env, name)
    env.ok(*command(env, "15-09-2015 14:30"))
    event = _events(env, case_id)[-1]
    assert datetime.fromisoformat(event["at"]) == local("2015-09-15 14:30")
    recorded = datetime.fromisoformat(event["recorded_at"])
    assert abs(datetime.now(UTC) - recorded) < timedelta(minutes=5)
    shown = env.ok("case", "show", str(case_id), env={"COLUMNS": "200"}).stdout
    assert "2015-09-15 14:30" in shown
    assert f"vastgelegd {recorded.astimezone(AMS):%d-%m-%Y %H:%M}" in shown


def test_an_event_recorded_now_shows_one_moment(season_start: Env) -> None:
    season_start.ok("case", "assign", "1", "bert")
    shown = season_start.ok("case", "show", "1", env={"COLUMNS": "200"}).stdout
    assert shown.count("vastgelegd") == 1  # the opening, dated at the selection


def test_budget_spend_date_must_be_the_day_of_at(season_start: Env) -> None:
    _budget(season_start)
    result = season_start.run("budget", "spend", "1", "250", "--purpose", "cursus",
                              "--at", "2015-09-15 14:30", "--date", "2015-09-14")
    assert result.exit_code == 1
    assert "--date 2015-09-14 is not the day of --at (2015-09-15)" in result.stderr
    season_start.ok("budget", "spend", "1", "250", "--purpose", "cursus",
                    "--at", "2015-09-15 14:30", "--date", "15-09-2015")
    [spend] = [e for e in _events(season_start, 1) if e["trigger"] == "spend"]
    assert spend["data"]["spent_on"] == "2015-09-15"


def test_a_bad_at_is_a_usage_error(season_start: Env) -> None:
    result = season_start.run("case", "assign", "1", "bert", "--at", "gisteren")
    assert result.exit_code == 2
    assert "'gisteren' is not a date and time" in result.stderr


def test_an_engine_made_with_one_clock_records_by_it_too(env: Env) -> None:
    early = datetime(2015, 9, 1, 7, 0, tzinfo=UTC)
    assert env.engine(clock=lambda: early).recorded_now() == early


def test_a_training_clock_dates_steps_and_recorded_at_stays_the_real_time(
        tmp_path: Path, database_url: str) -> None:
    training = Env(tmp_path, write_config(tmp_path, database_url), database_url, CliRunner())
    training.ok("init", "--training")
    add_anna(training)
    training.ok("--clock", SELECTED, "cohort", "import", str(COHORT_2015),
                "--workflow", "kansen-in-kaart")
    training.ok("--clock", "2015-09-07 10:00", "case", "advance", "1", "invite",
                "--set", "appointment=2015-09-21 10:00")
    for event, clock in zip(_events(training, 1), (SELECTED, "2015-09-07 10:00"), strict=True):
        assert timedelta(0) <= datetime.fromisoformat(event["at"]) - local(clock) < timedelta(
            minutes=1)
        assert abs(datetime.fromisoformat(event["recorded_at"]) - datetime.now(UTC)) < timedelta(
            minutes=5)
