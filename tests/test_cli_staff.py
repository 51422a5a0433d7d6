"""`casework staff add NAME --role ROLE [--full-name]` and `casework staff list` (the test
installation starts with anna, its first admin)."""

from __future__ import annotations

import pytest
from conftest import COLLEAGUES, Env

ROLES = ["back_office", "case_worker", "coordinator", "admin"]
WIDE = {"COLUMNS": "200"}  # a wide terminal, so rich tables do not wrap


def others(env: Env) -> list[dict[str, object]]:
    """The staff list without anna, in the keys this file checks."""
    return [{k: m[k] for k in ("name", "full_name", "role", "active")}
            for m in env.json("staff", "list") if m["name"] not in ("anna", *COLLEAGUES)]


def test_new_installation_has_only_its_first_admin(env: Env) -> None:
    listed = {m["name"]: m for m in env.json("staff", "list")}
    assert set(listed) == {"anna", *COLLEAGUES}  # the test installation's colleagues
    assert "admin" in listed["anna"]["roles"]


def test_added_staff_member_is_listed_with_role_and_full_name(env: Env) -> None:
    result = env.ok("staff", "add", "piet", "--role", "case_worker",
                    "--full-name", "Piet de Boer")
    assert "Added piet (case_worker)" in result.stdout
    assert others(env) == [
        {"name": "piet", "full_name": "Piet de Boer", "role": "case_worker", "active": True},
    ]


def test_full_name_is_optional(env: Env) -> None:
    env.ok("staff", "add", "sara", "--role", "coordinator")
    assert others(env) == [
        {"name": "sara", "full_name": None, "role": "coordinator", "active": True},
    ]


@pytest.mark.parametrize("role", ROLES)
def test_every_role_can_be_given(env: Env, role: str) -> None:
    env.ok("staff", "add", "wim", "--role", role)
    assert [m["role"] for m in others(env)] == [role]


def test_list_is_sorted_by_name(env: Env) -> None:
    for name in ("zoe", "anouk", "mehmet"):
        env.ok("staff", "add", name, "--role", "case_worker")
    names = [m["name"] for m in env.json("staff", "list")]
    assert names == sorted(names) and {"anouk", "mehmet", "zoe"} <= set(names)


def test_list_as_table_shows_name_full_name_role_and_active(env: Env) -> None:
    env.ok("staff", "add", "piet", "--role", "case_worker", "--full-name", "Piet de Boer")
    env.ok("staff", "add", "j.de-vries_2", "--role", "back_office")
    out = env.ok("staff", "list", env=WIDE).stdout
    assert "Piet de Boer" in out and "case_worker" in out
    assert "j.de-vries_2" in out and "back_office" in out
    assert "yes" in out


def test_duplicate_name_is_a_clear_error_and_keeps_the_first(env: Env) -> None:
    env.ok("staff", "add", "piet", "--role", "case_worker", "--full-name", "Piet de Boer")
    result = env.run("staff", "add", "piet", "--role", "admin", "--full-name", "Iemand Anders")
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: staff member 'piet' already exists"
    assert others(env) == [
        {"name": "piet", "full_name": "Piet de Boer", "role": "case_worker", "active": True},
    ]


def test_unknown_role_is_a_clear_error_naming_the_roles(env: Env) -> None:
    result = env.run("staff", "add", "piet", "--role", "boss")
    assert result.exit_code == 2
    assert "'boss' is not one of" in result.stderr
    for role in ROLES:
        assert role in result.stderr
    assert "Traceback" not in result.output
    assert others(env) == []


def test_role_is_required(env: Env) -> None:
    result = env.run("staff", "add", "piet")
    assert result.exit_code == 2
    assert "--role" in result.stderr
    assert others(env) == []


@pytest.mark.parametrize("name", ["piet jansen", "piet!", "   ", "p@gemeente"])
def test_name_must_be_a_login_name(env: Env, name: str) -> None:
    result = env.run("staff", "add", name, "--role", "case_worker")
    assert result.exit_code == 1
    assert "login name" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert others(env) == []


def test_name_is_stored_without_surrounding_spaces(env: Env) -> None:
    env.ok("staff", "add", "  piet ", "--role", "case_worker")
    assert [m["name"] for m in others(env)] == ["piet"]
    result = env.run("staff", "add", "piet", "--role", "case_worker")
    assert "already exists" in result.stderr


def test_added_case_worker_can_be_assigned_a_case(cohort: Env) -> None:
    cohort.ok("staff", "add", "piet", "--role", "case_worker")
    cohort.ok("case", "assign", "1", "piet")
    listed = cohort.json("case", "list", "--assigned", "piet")
    assert [c["id"] for c in listed["cases"]] == [1]
