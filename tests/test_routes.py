"""The other routes end to end through the CLI: participatiecoach (people open one at a time,
a work budget, kept in view), dienstencentrum (peer activation) and recurring work."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

import pytest
from conftest import Env
from helpers import advance
from sqlalchemy import select

from casework.models import Task

PERSON = ("--surname", "Jansen", "--initials", "P.", "--street", "Hoofdweg",
          "--house-number", "12", "--postcode", "9711 AB", "--city", "Groningen",
          "--wijk", "Oosterparkwijk")
BSNS = ("111222333", "123456782", "100000009", "100000010", "730000011")


def open_case(env: Env, workflow: str, bsn: str, *extra: str) -> dict[str, Any]:
    return env.json("case", "open", "--workflow", workflow, "--bsn", bsn, *PERSON, *extra)


def state_of(env: Env, case_id: int) -> str:
    return str(env.json("case", "show", str(case_id))["state"])


def open_tasks(env: Env, case_id: int) -> list[Any]:
    engine = env.engine()
    try:
        with engine.db.connect() as conn:
            return list(conn.execute(select(Task).where(
                Task.case_id == case_id, Task.status == "open").order_by(Task.id)).all())
    finally:
        engine.db.dispose()


def later(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


# --- participatiecoach ---------------------------------------------------------------------

def test_case_open_for_a_new_and_a_known_person(env: Env) -> None:
    first = open_case(env, "participatiecoach", BSNS[0], "--source",
                      "school_attendance_officer")
    assert first["state"] == "signalled" and first["new_person"] is True
    assert first["workflow_version"] == 2 and first["source"] == "school_attendance_officer"
    # The same person again while the case is open: refused, nothing added.
    again = env.run("case", "open", "--workflow", "participatiecoach", "--bsn", BSNS[0],
                    "--source", "self_report")
    assert again.exit_code == 1 and "already has open case 1" in again.stderr
    assert BSNS[0] not in again.output
    advance(env, 1, "close", "--set", "reason=other")
    # People come back: after the first case closed a new one opens for the known person.
    result = env.ok("case", "open", "--workflow", "participatiecoach", "--bsn", BSNS[0],
                    "--source", "self_report")
    assert "Case 2 opened on participatiecoach version 2 in state signalled (known person)" \
        in result.stdout
    timeline = env.json("case", "show", "2")["timeline"]
    assert timeline[0]["trigger"] == "open" and timeline[0]["data"]["source"] == "self_report"


@pytest.mark.parametrize(("args", "message"), [
    (("--source", "self_report"), "no case opened: give --surname"),
    (("--source", "gossip", *PERSON), "field 'source' must be one of"),
    ((*PERSON,), "needs --source"),
    (("--source", "self_report", *PERSON[:-2], "--wijk", ""), "--wijk"),
])
def test_case_open_says_what_is_missing_or_wrong(env: Env, args: tuple[str, ...],
                                                 message: str) -> None:
    result = env.run("case", "open", "--workflow", "participatiecoach", "--bsn", BSNS[1],
                     *args)
    assert result.exit_code == 1, result.output
    assert message in result.stderr and "Traceback" not in result.output
    assert env.json("case", "list")["total"] == 0


def test_case_open_never_repeats_a_wrong_bsn(env: Env) -> None:
    result = env.run("case", "open", "--workflow", "participatiecoach", "--bsn", "123456789",
                     "--source", "self_report", *PERSON)
    assert result.exit_code == 1 and "elfproef" in result.stderr
    assert "123456789" not in result.output


def test_participatiecoach_end_to_end(env: Env) -> None:
    """Every state: signalled, intake, coaching, outcome, kept_in_view (relapse and back),
    closed by the year in view running out, and declined."""
    for bsn, source in zip(BSNS[:3], ("school_attendance_officer", "social_network",
                                      "partner"), strict=True):
        open_case(env, "participatiecoach", bsn, "--source", source)
    step = advance(env, 1, "plan_intake", "--set", f"appointment={later(7)} 10:00")
    assert (step["from"], step["to"]) == ("signalled", "intake")
    letters = env.json("letters", "list", "--case", "1")
    assert [x["template"] for x in letters["letters"]] == ["participatiecoach_intake"]
    advance(env, 1, "start_coaching", "--set", "goal=weer naar school")
    advance(env, 1, "record_outcome", "--set", "outcome=school")
    assert state_of(env, 1) == "outcome"
    advance(env, 1, "keep_in_view")
    assert state_of(env, 1) == "kept_in_view"
    kinds = {t.kind: t for t in open_tasks(env, 1)}
    assert set(kinds) == {"check_in", "kept_in_view_ends"}
    check_in = kinds["check_in"]
    assert date.fromisoformat(check_in.spec["until"]) > date.today() + timedelta(days=360)
    # The quarterly check finds a relapse: back to coaching; the year in view ends.
    done = env.json("task", "done", str(check_in.id), "--outcome", "reached",
                    "--set", "result=relapse")
    assert done["transition"]["to"] == "coaching"
    assert {t.kind for t in open_tasks(env, 1)} == set()
    advance(env, 1, "record_outcome", "--set", "outcome=work")
    advance(env, 1, "keep_in_view")
    # Case 2 starts coaching without a planned intake and declines.
    advance(env, 2, "start_coaching")
    step = advance(env, 2, "decline")
    assert step["close_reason"] == "declined"
    # A year later the daily run closes case 1: kept in view long enough.
    result = env.run("daily", "--date", later(370), "--json")
    assert result.exit_code == 0, result.output
    shown = env.json("case", "show", "1")
    assert shown["state"] == "closed" and shown["close_reason"] == "completed"
    assert state_of(env, 3) == "signalled"


def test_work_budget_is_spent_per_case_refused_over_it_and_reported(env: Env) -> None:
    open_case(env, "participatiecoach", BSNS[0], "--source", "self_report")
    open_case(env, "participatiecoach", BSNS[1], "--source", "partner")
    year = str(date.today().year)
    env.ok("budget", "set", "participatiecoach", "1.000,00", "--year", year)
    spent = env.json("budget", "spend", "1", "250,50", "--purpose", "fiets")
    assert spent["left"] == 749.5
    env.ok("budget", "spend", "2", "400", "--purpose", "cursus")
    env.ok("budget", "spend", "1", "99.50", "--purpose", "cursus")
    over = env.run("budget", "spend", "2", "300", "--purpose", "laptop")
    assert over.exit_code == 1
    assert "over budget: € 300,00 asked, € 250,00 left" in over.stderr
    report = env.json("budget", "show", "participatiecoach", "--year", year)
    assert (report["budget"], report["spent"], report["left"], report["cases"]) == (
        1000.0, 750.0, 250.0, 2)
    assert report["per_purpose"] == [
        {"purpose": "cursus", "amount": 499.5, "cases": 2},
        {"purpose": "fiets", "amount": 250.5, "cases": 1}]
    # The spending shows in the case's timeline; the budget cannot drop below what is spent.
    spends = [e for e in env.json("case", "show", "1")["timeline"] if e["trigger"] == "spend"]
    assert [(e["data"]["amount"], e["data"]["purpose"]) for e in spends] == [
        (250.5, "fiets"), (99.5, "cursus")]
    lower = env.run("budget", "set", "participatiecoach", "500", "--year", year)
    assert lower.exit_code == 1 and "cannot be lower" in lower.stderr
    for amount in ("-5", "abc", "1,234"):
        bad = env.run("budget", "spend", "1", amount, "--purpose", "x")
        assert bad.exit_code in (1, 2) and "Traceback" not in bad.output, amount
    none = env.run("budget", "spend", "1", "10", "--purpose", "x", "--date", "2031-01-02")
    assert none.exit_code == 1 and "no 2031 budget for 'participatiecoach'" in none.stderr


# --- dienstencentrum ---------------------------------------------------------------------

def test_dienstencentrum_end_to_end(env: Env) -> None:
    """recruited -> trained -> active_in_centre (activities recorded, the development talk
    keeps its date) -> development_step -> closed; and one who stops."""
    for bsn in BSNS[:2]:
        open_case(env, "dienstencentrum", bsn)
    assert state_of(env, 1) == "recruited"
    advance(env, 1, "train", "--set", "training=gastvrouw")
    assert [x["template"] for x in env.json("letters", "list", "--case", "1")["letters"]] == [
        "dienstencentrum_welkom"]
    # The letter is signed by the route's own contact, not the municipality-wide one.
    env.ok("letters", "render")
    [letter] = env.json("letters", "list", "--case", "1")["letters"]
    from pypdf import PdfReader

    text = " ".join(page.extract_text() for page in PdfReader(letter["file"]).pages)
    assert "Welkom als activeringswerker" in text and "Dienstencentrum Heusden" in text
    assert "Team Kansen in Kaart" not in text
    advance(env, 1, "start_in_centre")
    [talk] = open_tasks(env, 1)
    assert talk.kind == "development_talk"
    advance(env, 1, "record_activity", "--set", "activity=koffieochtend", "--set", "hours=3,5")
    advance(env, 1, "record_activity", "--set", "activity=computerles", "--set", "hours=2")
    [same] = open_tasks(env, 1)
    assert (same.id, same.due) == (talk.id, talk.due)  # recording activity keeps the talk
    activities = [e["data"] for e in env.json("case", "show", "1")["timeline"]
                  if e["trigger"] == "record_activity"]
    assert activities == [{"activity": "koffieochtend", "hours": 3.5},
                          {"activity": "computerles", "hours": 2.0}]
    step = advance(env, 1, "take_step", "--set", "step=education")
    assert step["to"] == "development_step" and open_tasks(env, 1) == []
    advance(env, 1, "close", "--set", "reason=completed")
    assert state_of(env, 1) == "closed"
    advance(env, 2, "train")
    assert advance(env, 2, "decline")["close_reason"] == "declined"
    bad = env.run("case", "advance", "1", "record_activity", "--set", "activity=x")
    assert bad.exit_code == 1


# --- recurring work ------------------------------------------------------------------------

def test_recurring_work_comes_back_until_its_time_is_up(env: Env) -> None:
    """The development talk comes back every 3 months for as long as the person is active;
    the check-in of participatiecoach stops after the year in view."""
    open_case(env, "dienstencentrum", BSNS[0])
    advance(env, 1, "train")
    advance(env, 1, "start_in_centre")
    dues = []
    for _ in range(4):
        [talk] = open_tasks(env, 1)
        dues.append(talk.due)
        done = env.json("task", "done", str(talk.id), "--outcome", "done")
        assert done["next_round"] is not None
    assert all(b - a >= timedelta(days=85) for a, b in itertools.pairwise(dues))
    open_case(env, "participatiecoach", BSNS[1], "--source", "self_report")
    for trigger, sets in (("start_coaching", ()), ("record_outcome", ("--set", "outcome=care")),
                          ("keep_in_view", ())):
        advance(env, 2, trigger, *sets)
    rounds, last = 0, {}
    while check := [t for t in open_tasks(env, 2) if t.kind == "check_in"]:
        last = env.json("task", "done", str(check[0].id), "--outcome", "done")
        rounds += 1
        assert rounds <= 5, "the check-ins never stop"
    # Every 3 months within the year: 3 or 4 (a due date moved past a weekend may fall out).
    assert 3 <= rounds <= 4 and last["series_ended"] is True
    assert state_of(env, 2) == "kept_in_view"


# --- Meedoen Werkt! ------------------------------------------------------------------------

def done_task(env: Env, case_id: int, kind: str, *args: str) -> dict[str, Any]:
    [task] = [t for t in open_tasks(env, case_id) if t.kind == kind]
    return env.json("task", "done", str(task.id), *args)


def test_meedoen_werkt_end_to_end(env: Env) -> None:
    """Every state of the route with four candidates: matched and two years of aftercare,
    outflow and the sustainability check; volunteer work and not yet able; found work on
    their own and came back on benefit; declined at once. Then the outflow report."""
    from conftest import EXAMPLES, lift_exclusions

    env.ok("cohort", "import", str(EXAMPLES / "cohort.csv"), "--workflow", "meedoen-werkt")
    lift_exclusions(env)  # case 2 of the sample is in contact with the WIJ-team
    env.ok("employer", "add", "Bakkerij De Korenschoof", "--sector", "horeca",
           "--contact", "Mw. Bos, 050-1234567")
    meeting = env.json("event", "add", "--date", later(-3), "--place", "Wijkcentrum De Kast",
                       "--kind", "meedoenplein", "--title", "Meedoenplein november")
    for case_id in (1, 2, 3):
        advance(env, case_id, "approach")
    assert [x["template"] for x in env.json("letters", "list", "--case", "1")["letters"]] == [
        "meedoen_kennismaking"]
    advance(env, 1, "get_to_know", "--set", "sessions=3")
    advance(env, 2, "get_to_know")
    env.ok("event", "attend", str(meeting["id"]), "--case", "1",
           "--employer", "Bakkerij De Korenschoof")
    assert state_of(env, 1) == "attended"
    unknown = env.run("case", "advance", "1", "match", "--set", "employer=Nergens BV",
                      "--set", "hours_per_week=24", "--set", "fte=0,67")
    assert unknown.exit_code == 1 and "Nergens BV" in unknown.stderr
    assert state_of(env, 1) == "attended"
    advance(env, 1, "match", "--set", "employer=Bakkerij De Korenschoof",
            "--set", "hours_per_week=24", "--set", "fte=0,67", "--set", "job=bakkershulp")
    advance(env, 1, "start_work")
    assert state_of(env, 1) == "aftercare"
    first = done_task(env, 1, "aftercare_contact", "--outcome", "done")
    assert first["next_round"] is not None  # aftercare goes on
    advance(env, 1, "record_outflow", "--set", f"outflow_date={date.today().year}-01-15",
            "--set", "fte=0,67")
    assert state_of(env, 1) == "outflow"
    assert {t.kind for t in open_tasks(env, 1)} == {"aftercare_contact",
                                                    "sustainability_check"}
    checked = done_task(env, 1, "sustainability_check", "--outcome", "reached",
                        "--set", "result=still_off_benefit")
    assert checked["transition"]["to"] == "closed"
    assert open_tasks(env, 1) == []  # closing ends the aftercare too
    shown = env.json("case", "show", "1")
    assert shown["close_reason"] == "sustainability_checked"
    assert [e["data"]["still_off_benefit"] for e in shown["timeline"]
            if e["trigger"] == "check_sustainability"] == [True]
    # Case 2: volunteer work, not yet able (kept in contact), back to preparation, declines.
    advance(env, 2, "start_volunteering", "--set", "organisation=Voedselbank")
    assert state_of(env, 2) == "volunteer_work"
    advance(env, 2, "not_yet_able")
    again = done_task(env, 2, "keep_in_contact", "--outcome", "done")
    assert again["next_round"] is not None
    advance(env, 2, "resume")
    assert state_of(env, 2) == "getting_to_know" and open_tasks(env, 2) == []
    assert advance(env, 2, "decline")["close_reason"] == "declined"
    # Case 3 found work on their own, and was back on benefit six months later.
    advance(env, 3, "found_work_self", "--set", "employer=Eigen zaak", "--set", "fte=1")
    assert state_of(env, 3) == "found_own_work"
    advance(env, 3, "record_outflow", "--set", f"outflow_date={date.today().year}-01-20",
            "--set", "fte=1")
    advance(env, 3, "check_sustainability", "--set", "still_off_benefit=no")
    assert state_of(env, 3) == "closed"
    assert advance(env, 4, "decline")["to"] == "closed"
    report = json_report(env)
    assert (report["persons"], report["fte"]) == (2, 1.67)
    assert report["sustainability"] == {"checked": 2, "still_off_benefit": 1,
                                        "back_on_benefit": 1}
    load = env.run("report", "caseload", "--workflow", "meedoen-werkt", "--format", "json")
    assert load.exit_code == 0
    import json as json_lib

    assert json_lib.loads(load.stdout)["open"] == env.json(
        "case", "list", "--workflow", "meedoen-werkt", "--open")["total"]


def json_report(env: Env) -> Any:
    import json as json_lib

    result = env.run("report", "outflow", "--workflow", "meedoen-werkt", "--format", "json")
    assert result.exit_code == 0, result.output
    return json_lib.loads(result.stdout)
