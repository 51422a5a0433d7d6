"""Typos are errors: a filter given a value nothing is known by is refused (exit 2) with the
known values, a close match first, instead of answering '0 cases'."""

from __future__ import annotations

import pytest
from conftest import Env

WORKFLOW = "kansen-in-kaart"

# (command, the option, a typo, the value it should have been)
TYPOS = [
    (["case", "list"], "--state", "invted", "invited"),
    (["case", "list"], "--wijk", "Oosterpark", "Oosterparkwijk"),
    (["case", "list"], "--wijk", "beijum", "Beijum"),
    (["case", "list"], "--assigned", "ana", "anna"),
    (["case", "list"], "--workflow", "kansen-in-kaar", WORKFLOW),
    (["task", "list"], "--kind", "reminder", "reminder_call"),
    (["referral", "export"], "--partner", "coach", "coach_meedoen"),
    (["cohort", "excluded", "--workflow", WORKFLOW], "--reason", "moveed", "moved"),
    (["cohort", "excluded", "--workflow", WORKFLOW], "--wijk", "Vinkhuize", "Vinkhuizen"),
    (["cohort", "plan", "--workflow", WORKFLOW, "--from", "2099-01-05", "--specialists", "1"],
     "--wijk", "Selverd", "Selwerd"),
    (["report", "outcomes"], "--workflow", "kansen", WORKFLOW),
    (["report", "outcomes"], "--wijk", "De Hogte", "De Hoogte"),
    (["staff", "add", "piet", "--role", "case_worker"], "--wijk", "Lewenburg", "Lewenborg"),
    (["staff", "add", "piet", "--role", "coordinator"], "--project", "meedoen", "meedoen-werkt"),
    (["case", "open", "--bsn", "123456782"], "--workflow", "participatie-coach",
     "participatiecoach"),
]


@pytest.mark.parametrize(("command", "option", "typo", "meant"), TYPOS,
                         ids=[f"{' '.join(c[:2])} {o}" for c, o, _, _ in TYPOS])
def test_a_typo_in_a_filter_is_refused_with_the_known_values(
    cohort: Env, command: list[str], option: str, typo: str, meant: str,
) -> None:
    result = cohort.run(*command, option, typo)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"Error: {option}: '{typo}' is not a known ")
    assert f"did you mean {meant}?" in line
    assert line.index(f"Known: {meant}") > 0  # the close match first, then the others


def test_known_values_still_filter(cohort: Env) -> None:
    listed = cohort.json("case", "list", "--wijk", "Beijum", "--state", "selected",
                         "--workflow", WORKFLOW, "--assigned", "-", "--limit", "0")
    assert listed["total"] > 0
    assert {c["wijk"] for c in listed["cases"]} == {"Beijum"}
    assert cohort.json("task", "list", "--kind", "reminder_call")["total"] == 0
    assert cohort.json("cohort", "excluded", "--workflow", WORKFLOW, "--reason",
                       "deceased")["cases"] == []


def test_a_refusal_never_repeats_a_bsn(cohort: Env) -> None:
    result = cohort.run("case", "list", "--wijk", "123456782")
    assert result.exit_code == 2
    assert "123456782" not in result.output and "'*********'" in result.output


def test_staff_wijken_pass_before_any_cohort_is_imported(env: Env) -> None:
    # Staff are added before the first import: no wijk is known yet, so none is refused.
    env.ok("staff", "add", "piet", "--role", "case_worker", "--wijk", "Beijum")
    assert env.run("staff", "add", "kees", "--role", "coordinator", "--project",
                   "kansen").exit_code == 2


def test_a_state_only_stored_cases_are_in_is_known(cohort: Env) -> None:
    from conftest import tamper
    from sqlalchemy import update

    from casework.models import Case

    # A state of an older route version, kept by a case that was never migrated.
    tamper(cohort, update(Case).where(Case.id == 1).values(state="uitgenodigd_oud"))
    listed = cohort.json("case", "list", "--state", "uitgenodigd_oud")
    assert [c["id"] for c in listed["cases"]] == [1]
