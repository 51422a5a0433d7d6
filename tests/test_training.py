"""Training databases: 'casework init --training' marks a database for rehearsal; there, and
only there, --clock (or $CASEWORK_CLOCK) sets "now" for one command: steps, the daily run and
letters (dated by the clock, OEFENING in the page header). A normal database refuses a clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from conftest import EXAMPLES, Env, add_anna, write_config
from helpers import pdf_text

REFUSED = ("Error: --clock only works on a training database (casework init --training); "
           "this database is not one")
HEADER = "OEFENDATABASE (training)"


@pytest.fixture
def training(tmp_path: Path, database_url: str) -> Iterator[Env]:
    """A new training database with anna and the sample cohort, selected on Monday 5
    October 2026."""
    environment = Env(tmp_path, write_config(tmp_path, database_url), database_url, CliRunner())
    result = environment.ok("init", "--training")
    assert "Created training database" in result.stdout
    add_anna(environment)
    environment.ok("--clock", "2026-10-05 09:00", "cohort", "import",
                   str(EXAMPLES / "cohort.csv"), "--workflow", "kansen-in-kaart")
    yield environment


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def local(text: str) -> datetime:
    """Return a moment on the clock in Groningen (the configured timezone)."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Europe/Amsterdam"))


def test_db_current_says_it_is_a_training_database(training: Env) -> None:
    result = training.ok("db", "current")
    assert "training: yes" in result.stdout
    assert HEADER in result.stderr
    assert training.json("db", "current")["training"] is True


def test_db_current_says_a_normal_database_is_not_one(env: Env) -> None:
    normal = env.ok("db", "current")
    assert "training: no" in normal.stdout
    assert HEADER not in normal.output
    assert env.json("db", "current")["training"] is False


def test_the_clock_is_now_for_steps_the_daily_run_and_letters(training: Env) -> None:
    clock = ("--clock", "2026-10-05 10:00")
    result = training.ok(*clock, "case", "advance", "1", "invite",
                         "--set", "appointment=2026-10-13 10:00")
    # One header line on stderr; stdout holds the command's own output only.
    assert result.stderr.splitlines()[0] == f"{HEADER} — klok: 2026-10-05 10:00"
    assert HEADER not in result.stdout

    [opened, invited] = training.json("case", "show", "1")["timeline"]
    assert moment(opened["at"]) - local("2026-10-05 09:00") < timedelta(minutes=1)
    at = moment(invited["at"]) - local("2026-10-05 10:00")
    assert timedelta(0) <= at < timedelta(minutes=1)

    # The daily run's day is the clock's day ($CASEWORK_CLOCK does what --clock does); its
    # JSON stays pure (parsed from stdout). It renders the invitation, dated by the clock.
    run = training.run("daily", "--json", env={"CASEWORK_CLOCK": "2026-10-06 07:30"})
    assert run.exit_code == 0, run.output
    assert HEADER in run.stderr
    assert json.loads(run.stdout)["run_date"] == "2026-10-06"  # no header mixed in

    [letter] = training.json("letters", "list", "--case", "1")["letters"]
    text = pdf_text(letter["file"])
    assert "OEFENING" in text
    assert "Datum 6 oktober 2026" in text
    assert "dinsdag 13 oktober 2026 om 10.00 uur" in text

    training.ok("audit", "verify")


def test_letters_of_a_normal_database_do_not_say_oefening(cohort: Env) -> None:
    cohort.ok("case", "advance", "1", "invite", "--set", "appointment=2100-01-04 10:00")
    cohort.ok("letters", "render")
    [letter] = cohort.json("letters", "list", "--case", "1")["letters"]
    assert "OEFENING" not in pdf_text(letter["file"])


@pytest.mark.parametrize("how", ["option", "environment"])
def test_a_clock_is_refused_on_a_normal_database(cohort: Env, how: str) -> None:
    before = cohort.json("case", "show", "1")
    args = ["case", "advance", "1", "invite", "--set", "appointment=2100-01-04 10:00"]
    if how == "option":
        result = cohort.run("--clock", "2026-03-02 09:00", *args)
    else:
        result = cohort.run(*args, env={"CASEWORK_CLOCK": "2026-03-02 09:00"})
    assert result.exit_code == 2
    assert result.output.splitlines() == [REFUSED]
    assert cohort.json("case", "show", "1") == before
    assert cohort.json("letters", "list", "--case", "1")["letters"] == []
    daily = cohort.run("--clock", "2026-03-02 09:00", "daily")
    assert (daily.exit_code, daily.output.splitlines()) == (2, [REFUSED])
    assert cohort.json("daily", "--status") == []  # no daily run was made


def test_training_marks_only_a_new_database(env: Env) -> None:
    result = env.run("init", "--training")
    assert result.exit_code == 2
    assert len(result.output.splitlines()) == 1
    assert "not a training database" in result.output
    assert env.json("db", "current")["training"] is False


def test_a_clock_that_is_not_a_moment_is_one_line(training: Env) -> None:
    result = training.run("--clock", "morgen", "case", "list")
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        "Error: --clock: not a date and time from 1900 to 2100; use '2026-12-07 09:00', "
        "'2026-12-07T09:00' or '07-12-2026 9:00'"]
