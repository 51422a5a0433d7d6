"""Employers, Meedoenpleinen and matches (Meedoen Werkt!) through the CLI."""

from __future__ import annotations

import pytest
from conftest import EXAMPLES, Env, lift_exclusions
from helpers import advance, today

BAKERY = "Bakkerij De Korenschoof"


@pytest.fixture
def meedoen(env: Env) -> Env:
    """The sample cohort on meedoen-werkt, an employer and a Meedoenplein."""
    env.ok("cohort", "import", str(EXAMPLES / "cohort.csv"), "--workflow", "meedoen-werkt")
    lift_exclusions(env)  # case 2 is in contact with the WIJ-team
    env.ok("employer", "add", BAKERY, "--sector", "horeca", "--contact", "Mw. Bos")
    env.ok("event", "add", "--date", "2026-11-02", "--place", "Wijkcentrum De Kast",
           "--title", "Meedoenplein november")
    return env


def test_employers_are_added_listed_and_shown(meedoen: Env) -> None:
    meedoen.ok("employer", "add", "Zorggroep Noord", "--sector", "zorg")
    listed = meedoen.json("employer", "list")
    assert [(e["name"], e["sector"], e["matches"]) for e in listed] == [
        (BAKERY, "horeca", 0), ("Zorggroep Noord", "zorg", 0)]
    twice = meedoen.run("employer", "add", BAKERY.upper())
    assert twice.exit_code == 1 and "already known" in twice.stderr
    assert len(meedoen.json("employer", "list")) == 2
    shown = meedoen.json("employer", "show", "bakkerij de korenschoof")
    assert (shown["name"], shown["contact"], shown["matches"]) == (BAKERY, "Mw. Bos", [])
    unknown = meedoen.run("employer", "show", "Nergens BV")
    assert unknown.exit_code == 1 and "casework employer add" in unknown.stderr


def test_attending_a_meedoenplein_moves_candidates_on_and_shows_in_the_timeline(
    meedoen: Env,
) -> None:
    for case_id in (1, 2):
        advance(meedoen, case_id, "approach")
    advance(meedoen, 1, "get_to_know")
    result = meedoen.json("event", "attend", "1", "--case", "1", "--case", "2",
                          "--employer", BAKERY)
    one, two = result["candidates"]
    assert (one["advanced"], one["to"]) == (True, "attended")
    # Case 2 has not had its first conversation yet: present, but it stays where it is.
    assert two["advanced"] is False and "not a step from state 'approached'" in two["why_not"]
    assert result["employers"] == [BAKERY]
    shown = meedoen.json("case", "show", "1")
    assert shown["meetings"] == [{"id": 1, "date": "2026-11-02", "kind": "meedoenplein",
                                  "title": "Meedoenplein november",
                                  "place": "Wijkcentrum De Kast"}]
    assert [e["data"] for e in shown["timeline"] if e["trigger"] == "attend_meedoenplein"] == [
        {"meeting": 1}]
    assert meedoen.json("case", "show", "2")["state"] == "approached"
    text = meedoen.ok("case", "show", "1").stdout
    assert "attended Meedoenplein november on 2026-11-02 at Wijkcentrum De Kast" in text
    listed = meedoen.json("event", "list")
    assert [(m["candidates"], m["employers"]) for m in listed] == [(2, 1)]
    # Recording the same people again adds nobody.
    again = meedoen.json("event", "attend", "1", "--case", "1", "--employer", BAKERY)
    assert again["candidates"][0]["why_not"] == "already recorded as present"
    assert [(m["candidates"], m["employers"]) for m in meedoen.json("event", "list")] == [
        (2, 1)]
    assert meedoen.json("employer", "show", BAKERY)["meetings"][0]["id"] == 1


def test_the_meeting_step_taken_by_hand_records_the_attendance_of_a_meeting_that_exists(
    meedoen: Env,
) -> None:
    """The step `event attend` takes, taken with `case advance` or a `case apply` line, names
    a Meedoenplein that exists and counts as attending it; a number of no meeting (or of
    another kind of meeting) is refused and nothing is stored."""
    meedoen.ok("event", "add", "--date", "2026-11-09", "--place", "Stadhuis", "--kind", "other")
    for case_id in (1, 3):
        advance(meedoen, case_id, "approach")
        advance(meedoen, case_id, "get_to_know")
    for number, message in (("9", "no meeting 9; see 'casework event list'"),
                            ("2", "meeting 2 is not a Meedoenplein")):
        refused = meedoen.run("case", "advance", "1", "attend_meedoenplein", "--set",
                              f"meeting={number}")
        assert refused.exit_code == 1 and message in refused.stderr, refused.output
        assert "Traceback" not in refused.output
    assert meedoen.json("case", "show", "1")["state"] == "getting_to_know"
    advance(meedoen, 1, "attend_meedoenplein", "--set", "meeting=1")
    assert [m["id"] for m in meedoen.json("case", "show", "1")["meetings"]] == [1]
    steps = meedoen.root / "steps.csv"
    steps.write_text("case,trigger,meeting\n3,attend_meedoenplein,1\n"
                     "3,attend_meedoenplein,1\n", encoding="utf-8")  # twice: counted once
    meedoen.ok("case", "apply", str(steps))
    listed = meedoen.json("event", "list")
    assert [(m["id"], m["candidates"]) for m in listed] == [(1, 2), (2, 0)]
    again = meedoen.json("event", "attend", "1", "--case", "1")
    assert again["candidates"][0]["why_not"] == "already recorded as present"
    assert [m["candidates"] for m in meedoen.json("event", "list")] == [2, 0]


def test_nobody_is_recorded_at_a_meeting_still_to_come(meedoen: Env) -> None:
    meedoen.ok("event", "add", "--date", "2099-03-05", "--place", "Stadhuis")
    advance(meedoen, 1, "approach")
    advance(meedoen, 1, "get_to_know")
    day = today().isoformat()
    for command in (("event", "attend", "2", "--case", "1"),
                    ("case", "advance", "1", "attend_meedoenplein", "--set", "meeting=2")):
        refused = meedoen.run(*command)
        assert refused.exit_code == 1, refused.output
        assert (f"meeting 2 is on 2099-03-05, after {day}: record who came on the day itself "
                "or later") in refused.stderr
    assert meedoen.json("case", "show", "1")["meetings"] == []
    assert [m["candidates"] for m in meedoen.json("event", "list")] == [0, 0]
    assert meedoen.json("case", "show", "1")["state"] == "getting_to_know"


def test_a_match_links_the_case_to_a_known_employer(meedoen: Env) -> None:
    advance(meedoen, 1, "approach")
    advance(meedoen, 1, "get_to_know")
    refused = meedoen.run("case", "advance", "1", "match", "--set", "employer=Nergens BV",
                          "--set", "hours_per_week=24", "--set", "fte=0,67")
    assert refused.exit_code == 1 and "no employer 'Nergens BV'" in refused.stderr
    shown = meedoen.json("case", "show", "1")
    assert shown["state"] == "getting_to_know" and shown["matches"] == []
    advance(meedoen, 1, "match", "--set", f"employer={BAKERY.lower()}",
            "--set", "hours_per_week=24", "--set", "fte=0,67", "--set", "job=bakkershulp")
    [match] = meedoen.json("case", "show", "1")["matches"]
    assert (match["employer"], match["job"], match["hours_per_week"], match["fte"]) == (
        BAKERY, "bakkershulp", 24.0, 0.67)
    employer = meedoen.json("employer", "show", BAKERY)
    assert [(m["case_id"], m["fte"]) for m in employer["matches"]] == [(1, 0.67)]
    assert meedoen.json("employer", "list")[0]["matches"] == 1


def test_bulk_apply_refuses_a_match_with_an_unknown_employer_by_line(meedoen: Env) -> None:
    steps = meedoen.root / "steps.csv"
    steps.write_text(
        "case,trigger,employer,hours_per_week,fte\n"
        "3,approach,,,\n3,get_to_know,,,\n"
        f"3,match,{BAKERY},32,0.89\n"
        "4,approach,,,\n4,get_to_know,,,\n"
        "4,match,Nergens BV,32,0.89\n", encoding="utf-8")
    result = meedoen.run("case", "apply", str(steps))
    assert result.exit_code == 1
    assert "line 7" in result.output and "no employer 'Nergens BV'" in result.output
    assert meedoen.json("case", "show", "3")["matches"][0]["employer"] == BAKERY
    assert meedoen.json("case", "show", "4")["matches"] == []


@pytest.mark.parametrize(("args", "message"), [
    (("event", "add", "--date", "morgen", "--place", "X"), "not a date"),
    (("event", "add", "--date", "2026-11-02", "--place", " "), "give the place"),
    (("event", "attend", "9", "--case", "1"), "no meeting 9"),
    (("event", "attend", "1", "--case", "999"), "no case 999"),
    (("event", "attend", "1", "--employer", "Nergens BV"), "no employer 'Nergens BV'"),
    (("event", "attend", "1"), "say who attended"),
])
def test_bad_input_gets_a_clear_message(meedoen: Env, args: tuple[str, ...],
                                        message: str) -> None:
    result = meedoen.run(*args)
    assert result.exit_code in (1, 2), result.output
    assert message in result.output and "Traceback" not in result.output
    assert [(m["candidates"], m["employers"]) for m in meedoen.json("event", "list")] == [
        (0, 0)]
