"""`casework daily [--date D] [--dry-run] [--json]` and `casework daily --status`, via the CLI.

Timer transitions run on a small route written into the test's folder ('wachtrij': a case waits
for an answer and gives up by itself after a week); escalations on the Kansen in Kaart route.
The cases are planned with the real clock, so run dates are counted from today.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import EXAMPLES, Env, add_anna, lift_exclusions
from helpers import advance, show, today
from sqlalchemy import select

from casework.models import Case, DailyRun, Event, Task

WORKFLOW = """\
[workflow]
id = "wachtrij"
version = 1
label = "Wachten op antwoord"
initial = "new"

[fields.reason]
type = "choice"
label = "Reden"
choices = ["unreachable", "answered"]

[states.new]
label = "Nieuw"

# A plain system timer after 3 days and one that gives up after a week (both end with the state).
[states.waiting]
label = "Wacht op antwoord"

[[states.waiting.tasks]]
kind = "check_in"
after = "P3D"
by = "system"

[[states.waiting.tasks]]
kind = "timeout"
after = "P7D"
by = "system"
expire = "give_up"
expire_data = { reason = "unreachable" }

# A hard deadline that stays with the case (scope case) when it is moved by hand.
[states.waiting_hard]
label = "Wacht, met harde termijn"

[[states.waiting_hard.tasks]]
kind = "hard_deadline"
after = "P7D"
by = "system"
scope = "case"
expire = "give_up"
expire_data = { reason = "unreachable" }

# Work for a person: look at the held case the next day, or the coordinator hears of it.
[states.on_hold]
label = "Aangehouden"

[[states.on_hold.tasks]]
kind = "review_hold"
label = "Aangehouden zaak bekijken"
after = "P1D"
escalate = "coordinator"

[states.closed]
label = "Afgesloten"
final = true

[[transitions]]
trigger = "wait"
source = "new"
dest = "waiting"

[[transitions]]
trigger = "wait_hard"
source = "new"
dest = "waiting_hard"

[[transitions]]
trigger = "give_up"
source = ["waiting", "waiting_hard"]
dest = "closed"
needs = ["reason"]

[[transitions]]
trigger = "hold"
source = ["waiting", "waiting_hard"]
dest = "on_hold"

[[transitions]]
trigger = "resume"
source = "on_hold"
dest = "waiting"

[[transitions]]
trigger = "close"
source = "*"
dest = "closed"
needs = ["reason"]
"""

SUMMARY_KEYS = {"run_date", "dry_run", "status", "started_at", "finished_at", "done", "failed",
                "timer_transitions", "escalations", "timers_done", "skipped", "failures",
                "due_work", "planned", "letters", "anchor_problem", "to_pull",
                "stale_cancelled"}
INVITE = ("invite", "--set", "appointment=2099-01-05 10:00")
# The person agrees in the conversation to be referred to the social team.
CONVERSATION = ("hold_conversation", "--set", "classification=work_potential",
                "--set", "participation_potential=supported", "--set", "consent=share:wij_team")


def day(offset: int) -> str:
    return (today() + timedelta(days=offset)).isoformat()


@pytest.fixture
def timers(tmp_path: Path, database_url: str) -> Iterator[Env]:
    """An installation with only the 'wachtrij' route and the sample cohort in it."""
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "wachtrij.toml").write_text(WORKFLOW, encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{database_url}"\n\n'
                      f'[paths]\nworkflows = "{folder.as_posix()}"\n', encoding="utf-8")
    env = Env(tmp_path, config, database_url, CliRunner())
    env.ok("init")
    add_anna(env)
    env.ok("cohort", "import", str(EXAMPLES / "cohort.csv"), "--workflow", "wachtrij")
    yield env


def daily(env: Env, *args: str) -> tuple[int, dict[str, Any]]:
    """Run `casework daily ARGS --json`; return its exit code and its summary."""
    result = env.run("daily", *args, "--json")
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def timeline(env: Env, case_id: int, trigger: str) -> list[dict[str, Any]]:
    return [e for e in show(env, case_id)["timeline"] if e["trigger"] == trigger]


def tasks_of(env: Env, **where: Any) -> list[Any]:
    engine = env.engine()
    try:
        with engine.db.connect() as conn:
            query = select(Task).where(*(getattr(Task, k) == v for k, v in where.items()))
            return list(conn.execute(query.order_by(Task.id)).all())
    finally:
        engine.db.dispose()


def snapshot(env: Env) -> tuple[Any, ...]:
    """Everything a daily run may change."""
    engine = env.engine()
    try:
        with engine.db.connect() as conn:
            return tuple(
                [tuple(row) for row in conn.execute(select(table).order_by(table.c.id)).all()]
                for table in (Task.__table__, Case.__table__, Event.__table__,
                              DailyRun.__table__)
            )
    finally:
        engine.db.dispose()


# --- timer transitions ------------------------------------------------------------------------


def test_timer_moves_the_case_by_itself_on_its_due_date_and_not_before(timers: Env) -> None:
    advance(timers, 1, "wait")
    advance(timers, 2, "wait")

    code, early = daily(timers, "--date", day(6))
    assert code == 0
    assert early["timers_done"] == 2  # the 3-day check-ins
    assert early["timer_transitions"] == {}
    assert show(timers, 1)["state"] == "waiting"

    code, summary = daily(timers, "--date", day(7))
    assert code == 0
    assert summary["timer_transitions"] == {"give_up": 2}
    assert (summary["done"], summary["failed"], summary["status"]) == (2, 0, "ok")
    for case_id in (1, 2):
        case = show(timers, case_id)
        assert (case["state"], case["close_reason"]) == ("closed", "unreachable")
        [event] = timeline(timers, case_id, "give_up")
        assert (event["actor"], event["from"], event["to"]) == ("daily-run", "waiting", "closed")
        assert event["data"] == {"reason": "unreachable"}
    assert show(timers, 3)["state"] == "new"  # no timer, nothing happens to it


def test_the_run_gives_the_planner_statistics_of_what_the_day_before_wrote(
        timers: Env) -> None:
    """Without statistics SQLite's planner read every open task of the municipality to find
    a few cases' open tasks (a web form's close, a flag): the daily run refreshes them."""
    from sqlalchemy import text

    advance(timers, 1, "wait")
    assert daily(timers, "--date", day(6))[0] == 0
    if timers.database_url.startswith("postgresql"):
        return  # PostgreSQL analyses the tables named; its views may lag behind
    engine = timers.engine()
    try:
        with engine.db.connect() as conn:
            assert {"cases", "tasks", "events"} <= set(conn.execute(text(
                "SELECT tbl FROM sqlite_stat1")).scalars())
    finally:
        engine.db.dispose()


def test_a_refused_refresh_of_the_statistics_costs_nothing_that_was_done(
        timers: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process writing for longer than the timeout stops the refresh, not the run."""
    from sqlalchemy.exc import OperationalError

    import casework.db

    run = casework.db.Connection.exec_driver_sql

    def busy(conn: Any, statement: str, *args: Any, **kwargs: Any) -> Any:
        if statement.startswith("ANALYZE"):
            raise OperationalError(statement, {}, Exception("database is locked"))
        return run(conn, statement, *args, **kwargs)

    advance(timers, 1, "wait")
    monkeypatch.setattr(casework.db.Connection, "exec_driver_sql", busy)
    code, summary = daily(timers, "--date", day(7))
    assert (code, summary["status"], summary["timer_transitions"]) == (
        0, "ok", {"give_up": 1})


def test_work_due_on_a_day_without_a_run_is_done_by_the_next_run(timers: Env) -> None:
    advance(timers, 1, "wait")
    code, summary = daily(timers, "--date", day(12))  # the timer was due 5 days earlier
    assert code == 0
    assert summary["timer_transitions"] == {"give_up": 1}
    assert summary["timers_done"] == 1
    assert show(timers, 1)["state"] == "closed"


def test_json_summary_reports_each_part_of_the_run(timers: Env) -> None:
    advance(timers, 1, "wait")
    advance(timers, 2, "wait_hard")
    advance(timers, 2, "hold")  # by hand: the hard deadline's give_up cannot happen from here
    [deadline] = tasks_of(timers, case_id=2, kind="hard_deadline")

    code, summary = daily(timers, "--date", day(7))

    assert code == 1
    assert set(summary) == SUMMARY_KEYS
    assert summary["run_date"] == day(7)
    assert (summary["dry_run"], summary["status"]) == (False, "failed")
    assert datetime.fromisoformat(summary["started_at"]) <= datetime.fromisoformat(
        summary["finished_at"])
    assert summary["timer_transitions"] == {"give_up": 1}
    assert summary["escalations"] == {"review_hold": 1}
    assert (summary["timers_done"], summary["skipped"]) == (1, 0)
    assert (summary["done"], summary["failed"]) == (3, 1)
    assert summary["planned"] == {"timers": 3, "escalations": 1, "letters": 0, "stale": 0}
    [failure] = summary["failures"]
    assert set(failure) == {"task", "kind", "case_id", "attempts", "error"}
    assert (failure["task"], failure["kind"], failure["case_id"], failure["attempts"]) == (
        deadline.id, "hard_deadline", 2, 1)
    assert "give_up" in failure["error"] and "on_hold" in failure["error"]
    assert all(set(row) == {"worker", "kind", "due", "overdue"} for row in summary["due_work"])
    assert {"worker": "role coordinator", "kind": "escalation", "due": 1,
            "overdue": 0} in summary["due_work"]
    assert {"worker": "unassigned", "kind": "review_hold", "due": 1,
            "overdue": 1} in summary["due_work"]


def test_text_summary_names_what_the_run_did(timers: Env) -> None:
    advance(timers, 1, "wait")
    advance(timers, 2, "wait")
    advance(timers, 2, "hold")
    result = timers.run("daily", "--date", day(7), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"Daily run for {day(7)}: ok" in out
    assert re.search(r"timer transitions\s+give_up\s+1", out)
    assert re.search(r"escalated\s+review_hold\s+1", out)
    assert "Work due for people" in out and "role coordinator" in out
    again = timers.ok("daily", "--date", day(7))
    assert "nothing was due" in again.stdout


# --- failures and retries -----------------------------------------------------------------------


def test_failed_item_gives_exit_1_and_is_retried_by_the_next_run(timers: Env) -> None:
    advance(timers, 1, "wait")
    advance(timers, 2, "wait_hard")
    advance(timers, 2, "hold")

    code, first = daily(timers, "--date", day(7))
    assert code == 1
    assert first["timer_transitions"] == {"give_up": 1}  # the other case is not held up
    assert show(timers, 1)["state"] == "closed"
    [deadline] = tasks_of(timers, case_id=2, kind="hard_deadline")
    assert (deadline.status, deadline.attempts) == ("open", 1)
    assert "give_up" in deadline.last_error

    result = timers.run("daily", "--date", day(7), env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert (f"FAILED task {deadline.id} (hard_deadline, case 2), attempt 2"
            in result.stdout)
    assert "retried by the next run" in result.stdout
    [deadline] = tasks_of(timers, id=deadline.id)
    assert (deadline.status, deadline.attempts) == ("open", 2)
    assert show(timers, 2)["state"] == "on_hold"

    advance(timers, 2, "resume")  # staff fix the case; the deadline can now expire
    code, fixed = daily(timers, "--date", day(7))
    assert code == 0
    assert (fixed["status"], fixed["failures"]) == ("ok", [])
    case = show(timers, 2)
    assert (case["state"], case["close_reason"]) == ("closed", "unreachable")
    assert [e["actor"] for e in timeline(timers, 2, "give_up")] == ["daily-run"]
    statuses = [r["status"] for r in timers.json("daily", "--status")]
    assert statuses == ["ok", "failed", "failed"]


# --- Kansen in Kaart: escalations ---------------------------------------------------------------


def test_late_report_and_unanswered_referral_go_to_the_coordinator_once(cohort: Env) -> None:
    cohort.ok("staff", "add", "cora", "--role", "coordinator")
    lift_exclusions(cohort)  # case 2 is in contact with the WIJ-team
    advance(cohort, 1, *INVITE)
    advance(cohort, 1, *CONVERSATION)  # report due in 5 workdays
    advance(cohort, 2, *INVITE)
    advance(cohort, 2, *CONVERSATION)
    advance(cohort, 2, "refer", "--set", "partner=wij_team")  # partner answers within 4 weeks

    code, soon = daily(cohort, "--date", day(1))
    assert (code, soon["escalations"], soon["done"]) == (0, {}, 0)

    code, late = daily(cohort, "--date", day(60))
    assert code == 0
    assert late["escalations"] == {"report_due": 2, "referral_answer": 1}
    assert late["done"] == 3
    work = cohort.json("task", "list", "--mine", "--kind", "escalation", user="cora")
    assert sorted(t["case_id"] for t in work["tasks"]) == [1, 2, 2]
    assert {t["due"] for t in work["tasks"]} == {day(60)}
    labels = " ".join(t["label"] for t in work["tasks"])
    assert "Verslag versturen" in labels and "Antwoord partner op verwijzing" in labels

    for again in (day(60), day(90)):
        code, rerun = daily(cohort, "--date", again)
        assert (code, rerun["escalations"], rerun["done"]) == (0, {}, 0)
    assert cohort.json("task", "list", "--kind", "escalation", user="cora")["total"] == 3


# --- dry run, status, log ---------------------------------------------------------------------


def test_dry_run_changes_nothing_and_plans_what_the_real_run_does(timers: Env) -> None:
    for case_id in (1, 2, 3):
        advance(timers, case_id, "wait")
    advance(timers, 4, "wait")
    advance(timers, 4, "hold")
    before = snapshot(timers)

    code, plan = daily(timers, "--date", day(7), "--dry-run")
    text = timers.ok("daily", "--date", day(7), "--dry-run").stdout

    assert code == 0
    assert (plan["dry_run"], plan["status"], plan["done"]) == (True, "dry-run", 0)
    assert plan["planned"] == {"timers": 6, "escalations": 1, "letters": 0, "stale": 0}
    assert {"worker": "unassigned", "kind": "review_hold", "due": 1,
            "overdue": 1} in plan["due_work"]
    assert ("would fire or close 6 timer(s), escalate 1 overdue task(s) and render 0 queued "
            "letter(s)") in text
    assert snapshot(timers) == before
    assert not (timers.root / "logs").exists()
    assert timers.json("daily", "--status") == []

    code, real = daily(timers, "--date", day(7))
    assert code == 0
    assert real["planned"] == plan["planned"]
    assert real["done"] == 7
    assert real["timer_transitions"] == {"give_up": 3}


def test_status_lists_the_last_runs_newest_first(timers: Env) -> None:
    assert "no runs yet" in timers.ok("daily", "--status").stdout
    advance(timers, 1, "wait")
    daily(timers, "--date", day(3))
    daily(timers, "--date", day(7))
    runs = timers.json("daily", "--status")
    assert [(r["run_date"], r["status"], r["done"], r["failed"]) for r in runs] == [
        (day(7), "ok", 1, 0), (day(3), "ok", 1, 0)]
    assert all(r["finished_at"] for r in runs)
    text = timers.ok("daily", "--status", env={"COLUMNS": "200"}).stdout
    assert day(7) in text and day(3) in text


def test_run_log_of_the_day_names_items_by_id_and_no_person(timers: Env) -> None:
    advance(timers, 1, "wait")
    advance(timers, 2, "wait_hard")
    advance(timers, 2, "hold")
    daily(timers, "--date", day(7))
    log = timers.root / "logs" / f"daily-{day(7)}.log"
    text = log.read_text(encoding="utf-8")
    for task in tasks_of(timers, case_id=1) + tasks_of(timers, case_id=2):
        if task.kind != "escalation":
            assert f"task {task.id} ({task.kind}, case {task.case_id})" in text
    assert "FAILED" in text
    with (EXAMPLES / "cohort.csv").open(encoding="utf-8-sig", newline="") as fh:
        people = list(csv.DictReader(fh))
    for person in people:
        assert person["bsn"] not in text
        for key in ("surname", "street", "phone", "email"):
            if person[key]:
                assert not re.search(rf"\b{re.escape(person[key])}\b", text), key


# --- the command line ---------------------------------------------------------------------------


def test_date_that_is_not_a_date_is_refused(timers: Env) -> None:
    result: Result = timers.run("daily", "--date", "2030-13-01")
    assert result.exit_code == 2
    assert "is not a date" in result.stderr


def test_run_broken_off_by_ctrl_c_is_not_listed_as_ok(
    timers: Env, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C after two of six timers: the ledger must not say the day's run went fine."""
    import casework.daily

    for case_id in (1, 2, 3):
        advance(timers, case_id, "wait")
    real_fire = casework.daily._fire_timer
    calls: list[int] = []

    def fire_then_interrupt(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real_fire(*args, **kwargs)

    monkeypatch.setattr(casework.daily, "_fire_timer", fire_then_interrupt)
    result = timers.run("daily", "--date", day(7))
    assert result.exit_code == 130
    assert "interrupted" in result.stderr
    monkeypatch.undo()
    assert len(tasks_of(timers, performer="system", status="open")) == 4
    [run] = timers.json("daily", "--status")
    assert run["status"] != "ok", "an interrupted run is listed as a complete, ok run"

