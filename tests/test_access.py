"""Access held by the core, deny by default: opening a case never widens what someone sees or
tells whether a person is known, a core call without a known actor's rights is refused, the
daily run acts as a named system actor, and with [staff.logins] a login cannot act as another."""

from __future__ import annotations

import getpass
from typing import Any

import pytest
from conftest import Env
from sqlalchemy import func, select

from casework.models import Case, Participant

# In the sample cohort: El Amrani lives in Oosterparkwijk and has open case 1.
KNOWN_ELSEWHERE = "764132520"
UNKNOWN = "111222333"  # passes the 11-proof, in no file
DETAILS = ("--surname", "Jansen", "--initials", "P.", "--street", "Hoofdweg",
           "--house-number", "12", "--postcode", "9711 AB", "--city", "Groningen")


@pytest.fixture
def team(cohort: Env) -> Env:
    """Piet works cases in Beijum; Kees coordinates participatiecoach only."""
    cohort.ok("staff", "add", "piet", "--role", "case_worker", "--wijk", "Beijum")
    cohort.ok("staff", "add", "kees", "--role", "coordinator", "--project", "participatiecoach")
    return cohort


def counts(env: Env) -> tuple[int, int]:
    engine = env.engine()
    try:
        with engine.db.connect() as conn:
            return (conn.execute(select(func.count()).select_from(Participant)).scalar_one(),
                    conn.execute(select(func.count()).select_from(Case)).scalar_one())
    finally:
        engine.db.dispose()


def open_as(env: Env, user: str, bsn: str, *extra: str) -> Any:
    return env.run("case", "open", "--workflow", "kansen-in-kaart", "--bsn", bsn, *extra,
                   user=user)


def test_opening_a_case_for_someone_outside_ones_wijken_reveals_nothing(team: Env) -> None:
    before = counts(team)
    # The same questions and the same refusal, whether or not the BSN is known.
    for extra in ((), ("--wijk", "Oosterparkwijk"), (*DETAILS, "--wijk", "Oosterparkwijk")):
        known = open_as(team, "piet", KNOWN_ELSEWHERE, *extra)
        unknown = open_as(team, "piet", UNKNOWN, *extra)
        assert known.exit_code == unknown.exit_code == 1, (known.output, unknown.output)
        assert known.stderr == unknown.stderr, extra
        for result in (known, unknown):
            assert "case 1" not in result.output and "already" not in result.output
            assert KNOWN_ELSEWHERE not in result.output and "Traceback" not in result.output
    # Giving one's own wijk for a person known elsewhere is refused too: no second person,
    # no case assigned to piet that would show him El Amrani's file.
    refused = open_as(team, "piet", KNOWN_ELSEWHERE, *DETAILS, "--wijk", "Beijum")
    assert refused.exit_code == 1 and "may not open this case" in refused.stderr
    assert counts(team) == before
    assert team.run("case", "show", "1", user="piet").exit_code == 1


def test_a_case_worker_opens_cases_in_their_own_wijk(team: Env) -> None:
    opened = open_as(team, "piet", UNKNOWN, *DETAILS, "--wijk", "Beijum", "--json")
    assert opened.exit_code == 0, opened.output
    case_id = team.json("case", "list", "--wijk", "Beijum", "--limit", "0", user="piet")[
        "cases"][-1]["id"]
    assert team.json("case", "show", str(case_id), user="piet")["assigned_to"] == "piet"
    # A second case for the same person: piet may see the first, so he is told which.
    again = open_as(team, "piet", UNKNOWN, *DETAILS, "--wijk", "Beijum")
    assert again.exit_code == 1 and f"already has open case {case_id}" in again.stderr


def test_a_coordinator_opens_cases_of_their_projects_only(team: Env) -> None:
    refused = open_as(team, "kees", UNKNOWN, *DETAILS, "--wijk", "Beijum")
    assert refused.exit_code == 1 and "may not open this case" in refused.stderr
    opened = team.run("case", "open", "--workflow", "participatiecoach", "--bsn", UNKNOWN,
                      "--source", "self_report", *DETAILS, "--wijk", "Beijum", user="kees")
    assert opened.exit_code == 0, opened.output
    # Anna coordinates every project: the known person's open case is named to her.
    told = open_as(team, "anna", KNOWN_ELSEWHERE)
    assert told.exit_code == 1 and "already has open case 1" in told.stderr


def test_core_calls_without_a_known_actor_are_refused(cohort: Env) -> None:
    """Only a known, active staff member becomes an actor (the daily run's name is no staff
    member), and an actor is refused every call their roles do not give them."""
    from casework.bulk import Line, apply_lines
    from casework.cases import CaseFilter, list_cases, show_case
    from casework.permissions import Actor, NotAllowed, resolve
    from casework.tasks import TaskFilter, list_tasks

    engine = cohort.engine()
    try:
        for name in ("nobody", "daily-run"):
            with pytest.raises(NotAllowed, match="not a staff member"):
                resolve(engine, name)
        nobody = Actor("nobody", ())
        for call in (lambda: engine.advance(1, "decline", nobody),
                     lambda: show_case(engine, nobody, 1),
                     lambda: list_cases(engine, nobody, CaseFilter()),
                     lambda: list_tasks(engine, nobody, TaskFilter())):
            with pytest.raises(NotAllowed):
                call()
        line = Line(number=1, case_id=1, bsn=None, workflow=None, trigger="decline", at=None,
                    data={}, note=None)
        with pytest.raises(NotAllowed):
            apply_lines(engine, [(1, line)], nobody)
    finally:
        engine.db.dispose()
    assert "not a staff member" in cohort.run("case", "show", "1", user="daily-run").stderr
    assert cohort.json("case", "show", "1")["state"] == "selected"


def test_the_daily_run_is_a_system_actor_no_one_can_be(cohort: Env) -> None:
    taken = cohort.run("staff", "add", "daily-run", "--role", "back_office")
    assert taken.exit_code == 1 and "daily run" in taken.stderr
    assert "'daily-run' is not a staff member" in cohort.run("case", "list",
                                                             user="daily-run").stderr


def with_logins(env: Env, mapping: str) -> None:
    env.config.write_text(env.config.read_text(encoding="utf-8")
                          + f"\n[staff.logins]\n{mapping}\n", encoding="utf-8")


def test_with_mapped_logins_no_one_acts_as_someone_else(cohort: Env) -> None:
    login = getpass.getuser()
    with_logins(cohort, f'"{login}" = "bert"')
    assert cohort.json("case", "list", user=None)["total"] == 200
    assert cohort.json("case", "list", user="bert")["total"] == 200
    for how in ({"user": "anna"}, {"user": None, "args": ("--as", "anna")}):
        args = how.get("args", ())
        result = cohort.run(*args, "staff", "list", user=how["user"])
        assert result.exit_code == 1 and "Traceback" not in result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "acting as 'anna' is refused" in lines[0]
        assert f"'{login}'" in lines[0]


def test_an_unmapped_login_is_refused_when_logins_are_set(cohort: Env) -> None:
    with_logins(cohort, '"someone-else" = "bert"')
    result = cohort.run("case", "list", user="bert")
    assert result.exit_code == 1
    assert "is not mapped to a staff member under [staff.logins]" in result.stderr
