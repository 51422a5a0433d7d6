"""Staff and roles: every command runs as a known, active staff member; each role may do its
own work and is refused the rest, with the role it would need."""

from __future__ import annotations

import getpass

import pytest
from conftest import EXAMPLES, Env


@pytest.fixture
def team(cohort: Env) -> Env:
    """Piet works cases in Beijum, Kees coordinates participatiecoach, Bo is back office,
    Pia is an admin."""
    cohort.ok("staff", "add", "piet", "--role", "case_worker", "--wijk", "Beijum")
    cohort.ok("staff", "add", "kees", "--role", "coordinator", "--project", "participatiecoach")
    cohort.ok("staff", "add", "bo", "--role", "back_office")
    cohort.ok("staff", "add", "pia", "--role", "admin")
    return cohort


def refused(env: Env, user: str, *args: str) -> str:
    result = env.run(*args, user=user)
    assert result.exit_code == 1, (args, result.output)
    assert "Traceback" not in result.output
    return result.stderr


def beijum_and_other(env: Env) -> tuple[int, int]:
    cases = env.json("case", "list", "--limit", "200")["cases"]
    beijum = next(c["id"] for c in cases if c["wijk"] == "Beijum")
    other = next(c["id"] for c in cases if c["wijk"] != "Beijum")
    return beijum, other


def test_an_unknown_or_disabled_actor_is_refused(team: Env) -> None:
    assert "'nobody' is not a staff member" in refused(team, "nobody", "case", "list")
    team.ok("staff", "disable", "piet", user="pia")
    assert "staff member 'piet' is disabled" in refused(team, "piet", "case", "list")
    listed = {m["name"]: m["active"] for m in team.json("staff", "list", user="pia")}
    assert listed["piet"] is False


def test_a_case_worker_sees_and_changes_their_own_cases_only(team: Env) -> None:
    beijum, other = beijum_and_other(team)
    listed = team.json("case", "list", "--limit", "200", user="piet")["cases"]
    assert listed and {c["wijk"] for c in listed} == {"Beijum"}
    team.ok("case", "show", str(beijum), user="piet")
    message = refused(team, "piet", "case", "show", str(other))
    assert "piet may only see cases assigned to them or in their wijken" in message
    refused(team, "piet", "case", "advance", str(other), "decline")
    assert team.json("case", "show", str(other))["state"] == "selected"
    # Assigned to piet by a coordinator: now piet may work on it.
    team.ok("case", "assign", str(other), "piet")
    team.ok("case", "advance", str(other), "decline", user="piet")
    assert "needs the role back_office" in refused(
        team, "piet", "cohort", "import", str(EXAMPLES / "cohort.csv"), "--workflow",
        "kansen-in-kaart")
    assert "needs the role admin" in refused(team, "piet", "staff", "add", "x",
                                             "--role", "admin")


def test_a_change_is_checked_against_the_reach_of_changing_not_of_reading(
        team: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each core call checks a case against the capability it needs. No role of today reads
    further than it changes, so a made-up one that reads every project's cases is added to a
    case worker: they may read a case outside their wijken, not change it."""
    from casework import permissions
    from casework.cases import case_triggers, flag_person
    from casework.consents import grant_consent, list_consents
    from casework.permissions import NotAllowed

    monkeypatch.setitem(permissions.ROLE_TABLE, "reader", ("case.list", "case.read"))
    monkeypatch.setitem(permissions.ROLE_SCOPE, "reader", "projects")
    for capability in ("case.list", "case.read"):
        monkeypatch.setitem(permissions.PERMISSIONS, capability,
                            (*permissions.PERMISSIONS[capability], "reader"))
    beijum, other = beijum_and_other(team)
    engine = team.engine()
    try:
        piet = permissions.Actor("piet", ("case_worker", "reader"), wijken=("Beijum",))
        assert case_triggers(engine, piet, other)["id"] == other
        assert list_consents(engine, piet, other) is not None
        for change in (lambda: engine.advance(other, "decline", piet),
                       lambda: flag_person(engine, piet, other, "moved"),
                       lambda: grant_consent(engine, piet, other, "record_report",
                                             "conversation")):
            with pytest.raises(NotAllowed, match=f"piet may only see cases assigned to them or "
                                                 f"in their wijken; case {other} is not"):
                change()
        engine.advance(beijum, "decline", piet)
    finally:
        engine.db.dispose()
    assert team.json("case", "show", str(other))["state"] == "selected"


def test_a_coordinator_sees_the_cases_of_their_project(team: Env) -> None:
    opened = team.json("case", "open", "--workflow", "participatiecoach", "--bsn",
                       "111222333", "--source", "self_report", "--surname", "Jansen",
                       "--street", "Hoofdweg", "--house-number", "1", "--postcode", "9711 AA",
                       "--city", "Groningen", "--wijk", "Beijum", user="kees")
    listed = team.json("case", "list", user="kees")["cases"]
    assert [c["id"] for c in listed] == [opened["id"]]
    assert "of their projects" in refused(team, "kees", "case", "show", "1")
    team.ok("case", "assign", str(opened["id"]), "piet", user="kees")
    assert "needs the role back_office" in refused(team, "kees", "daily")


def test_back_office_runs_imports_letters_and_the_daily_run_but_reads_no_files(
    team: Env,
) -> None:
    team.ok("daily", user="bo")
    team.ok("letters", "render", user="bo")
    team.ok("report", "outcomes", user="bo")
    message = refused(team, "bo", "case", "show", "1")
    assert ("bo (back_office) may not read a case file: that needs the role case_worker or "
            "coordinator (back_office may: list cases; import a cohort; plan waves;") in message
    assert "needs the role admin" in refused(team, "bo", "audit", "--case", "1")


def test_an_admin_manages_staff_and_privacy_but_reads_no_files(team: Env) -> None:
    team.ok("staff", "add", "nina", "--role", "case_worker", user="pia")
    team.ok("audit", "verify", user="pia")
    assert "may not list cases: that needs the role back_office, case_worker or coordinator" \
        in refused(team, "pia", "case", "list")
    assert "needs the role back_office" in refused(team, "pia", "letters", "render")


def test_the_os_login_can_stand_for_a_staff_member(team: Env) -> None:
    config = team.config.read_text(encoding="utf-8")
    team.config.write_text(config + f'\n[staff.logins]\n"{getpass.getuser()}" = "piet"\n',
                           encoding="utf-8")
    listed = team.json("case", "list", user=None)["cases"]
    assert {c["wijk"] for c in listed} == {"Beijum"}


def test_the_first_staff_member_must_be_an_admin(env: Env, tmp_path: object) -> None:
    from click.testing import CliRunner
    from conftest import write_config

    from casework.cli import cli

    folder = env.root / "fresh"
    folder.mkdir()
    config = write_config(folder, "sqlite:///" + str(folder / "c.db"))
    runner = CliRunner()
    variables = {"CASEWORK_CONFIG": str(config), "CASEWORK_USER": "x",
                 "CASEWORK_DATABASE_URL": None}
    assert runner.invoke(cli, ["init"], env=variables).exit_code == 0
    first = runner.invoke(cli, ["case", "list"], env=variables)
    assert first.exit_code == 1 and "no staff yet" in first.stderr
    wrong = runner.invoke(cli, ["staff", "add", "x", "--role", "case_worker"], env=variables)
    assert wrong.exit_code == 1 and "must be an admin" in wrong.stderr
    assert runner.invoke(cli, ["staff", "add", "x", "--role", "admin"],
                         env=variables).exit_code == 0
