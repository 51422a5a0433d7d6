"""Versions of a route: kept in the database, new cases on the newest, and moving open cases
to a newer version with a state mapping."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import EXAMPLES, WORKFLOWS, Env, lift_exclusions
from helpers import advance, show, staff, task_of

from casework.route_versions import migrate_cases

ROUTE = "kansen-in-kaart"
PERSON = ("--surname", "Visser", "--street", "Hoofdweg", "--house-number", "3",
          "--postcode", "9711 AB", "--city", "Groningen", "--wijk", "Beijum")


def version_2(text: str) -> str:
    """Kansen in Kaart version 2: the state 'spoken' is called 'talked'."""
    text = text.replace("version = 1", "version = 2", 1)
    text = re.sub(r"states\.spoken\b", "states.talked", text)
    return text.replace('"spoken"', '"talked"')


@pytest.fixture
def routes(env: Env, tmp_path: Path) -> Path:
    """The env reading its routes from a folder of its own, holding Kansen in Kaart v1."""
    folder = tmp_path / "routes"
    folder.mkdir()
    # Whatever version the shipped file has, these tests start from a version 1 of their own.
    shipped = (WORKFLOWS / "kansen_in_kaart.toml").read_text(encoding="utf-8")
    (folder / "kansen_in_kaart.toml").write_text(
        re.sub(r"^version = \d+.*$", "version = 1", shipped, count=1, flags=re.M),
        encoding="utf-8")
    config = env.config.read_text(encoding="utf-8")
    env.config.write_text(config.replace(WORKFLOWS.as_posix(), folder.as_posix()),
                          encoding="utf-8")
    return folder


def add_version_2(folder: Path) -> None:
    text = (folder / "kansen_in_kaart.toml").read_text(encoding="utf-8")
    (folder / "kansen_in_kaart_v2.toml").write_text(version_2(text), encoding="utf-8")


def test_a_changed_route_file_keeping_a_version_that_cases_use_is_refused(
    env: Env, routes: Path,
) -> None:
    path = routes / "kansen_in_kaart.toml"
    # No cases yet: the file may still change under its version.
    path.write_text(path.read_text(encoding="utf-8").replace(
        'label = "Kansen in Kaart"', 'label = "Kansen in Kaart 2026"'), encoding="utf-8")
    env.ok("cohort", "import", str(EXAMPLES / "cohort.csv"), "--workflow", ROUTE)
    path.write_text(path.read_text(encoding="utf-8").replace(
        'label = "Kansen in Kaart 2026"', 'label = "Kansen in Kaart 2027"'), encoding="utf-8")
    result = env.run("case", "advance", "1", "invite", "--set",
                     "appointment=2099-01-05 10:00")
    assert result.exit_code == 1
    assert str(path) in result.stderr
    assert "changed but keeps version 1, which cases use; give it version 2" in result.stderr
    assert "Traceback" not in result.output


def test_new_cases_start_on_the_newest_and_old_ones_keep_theirs_without_the_file(
    env: Env, routes: Path,
) -> None:
    env.ok("cohort", "import", str(EXAMPLES / "cohort.csv"), "--workflow", ROUTE)
    add_version_2(routes)
    opened = env.json("case", "open", "--workflow", ROUTE, "--bsn", "111222333", *PERSON)
    assert opened["workflow_version"] == 2
    assert env.json("case", "show", "1")["workflow_version"] == 1
    # The version 1 file goes; its cases keep working from the copy in the database.
    (routes / "kansen_in_kaart.toml").unlink()
    advance(env, 1, "invite", "--set", "appointment=2099-01-05 10:00")
    step = advance(env, 1, "hold_conversation", "--set", "classification=not_active",
                   "--set", "participation_potential=none")
    assert step["to"] == "spoken"  # version 1's name for it
    talked = advance(env, opened["id"], "invite", "--set", "appointment=2099-01-05 10:00")
    assert talked["to"] == "invited"
    step = advance(env, opened["id"], "hold_conversation", "--set", "classification=not_active",
                   "--set", "participation_potential=none")
    assert step["to"] == "talked"


@pytest.fixture
def every_state(env: Env, routes: Path) -> Env:
    """Cases on version 1 in every state: 1 invited, 2 spoken, 3 referred, 4 active,
    5 follow_up, 6 closed, the rest selected; then version 2 is added."""
    env.ok("cohort", "import", str(EXAMPLES / "cohort.csv"), "--workflow", ROUTE)
    lift_exclusions(env)  # case 2 is in contact with the social team
    for case_id in range(1, 7):
        advance(env, case_id, "invite", "--set", "appointment=2099-01-05 10:00")
    for case_id in (2, 3, 4, 5):
        advance(env, case_id, "hold_conversation", "--set", "classification=socially_active",
                "--set", "participation_potential=self", "--set", "consent=share:coach_meedoen")
    for case_id in (3, 4):
        advance(env, case_id, "refer", "--set", "partner=coach_meedoen")
    advance(env, 4, "start_activity", "--set", "activity=volunteering")
    advance(env, 5, "self_action")
    advance(env, 6, "decline")
    add_version_2(routes)
    return env


def states(env: Env) -> dict[int, tuple[str, int]]:
    cases = env.json("case", "list", "--limit", "0")["total"]
    listed = env.json("case", "list", "--limit", str(cases))["cases"]
    return {c["id"]: (c["state"], c["workflow_version"]) for c in listed}


def test_migrate_refuses_an_open_state_without_a_place(every_state: Env) -> None:
    before = states(every_state)
    result = every_state.run("workflow", "migrate", ROUTE, "--from", "1", "--to", "2")
    assert result.exit_code == 1
    assert "no place for state 'spoken' (1 open case)" in result.stderr
    assert "--map OLD=NEW" in result.stderr
    assert states(every_state) == before


@pytest.mark.parametrize(("maps", "message"), [
    (("spoken=praten",), "version 2 has no state 'praten'"),
    (("spoken=closed",), "'closed' is a final state"),
    (("gesproken=talked",), "version 1 has no state 'gesproken'"),
    (("spoken",), "is not OLD=NEW"),
])
def test_migrate_refuses_a_bad_mapping(every_state: Env, maps: tuple[str, ...],
                                       message: str) -> None:
    args = [part for item in maps for part in ("--map", item)]
    result = every_state.run("workflow", "migrate", ROUTE, "--from", "1", "--to", "2", *args)
    assert result.exit_code in (1, 2) and message in result.output
    assert "Traceback" not in result.output


def test_migrate_dry_run_shows_the_moves_and_changes_nothing(every_state: Env) -> None:
    before = states(every_state)
    plan = every_state.json("workflow", "migrate", ROUTE, "--from", "1", "--to", "2",
                            "--map", "spoken=talked", "--dry-run")
    assert plan["dry_run"] is True and plan["moved"] == 0
    assert {m["from_state"]: (m["to_state"], m["cases"]) for m in plan["moves"]} == {
        "active": ("active", 1), "follow_up": ("follow_up", 1), "invited": ("invited", 1),
        "referred": ("referred", 1), "selected": ("selected", 194), "spoken": ("talked", 1)}
    assert states(every_state) == before


def test_migrate_moves_every_open_case_with_an_event_each(every_state: Env) -> None:
    result = every_state.run("workflow", "migrate", ROUTE, "--from", "1", "--to", "2",
                             "--map", "spoken=talked")
    assert result.exit_code == 0, result.output
    assert "199 open cases of kansen-in-kaart moved from version 1 to 2" in result.stdout
    after = states(every_state)
    assert after[1] == ("invited", 2) and after[2] == ("talked", 2)
    assert after[3] == ("referred", 2) and after[4] == ("active", 2)
    assert after[5] == ("follow_up", 2) and after[7] == ("selected", 2)
    assert after[6] == ("closed", 1)  # closed cases stay on their version
    [event] = [e for e in every_state.json("case", "show", "2")["timeline"]
               if e["trigger"] == "migrate_workflow"]
    assert event["data"] == {"from_version": 1, "to_version": 2, "from_state": "spoken",
                             "to_state": "talked"}
    assert (event["from"], event["to"]) == ("spoken", "talked")
    # The moved case goes on along version 2.
    assert advance(every_state, 2, "refer", "--set", "partner=coach_meedoen")["to"] == "referred"
    again = every_state.json("workflow", "migrate", ROUTE, "--from", "1", "--to", "2")
    assert again["moved"] == 0 and again["moves"] == []


def test_migrate_to_a_version_that_is_not_there(every_state: Env) -> None:
    result = every_state.run("workflow", "migrate", ROUTE, "--from", "1", "--to", "3")
    assert result.exit_code == 1 and "version 3 is not loaded" in result.stderr
    same = every_state.run("workflow", "migrate", ROUTE, "--from", "1", "--to", "1")
    assert same.exit_code == 1 and "the same version" in same.stderr


def without_the_route_keys_of_version_4(text: str) -> str:
    """A Kansen in Kaart file as it was before the route said what the core used to know (no
    [reports], wave_step, call or old_appointment): what a database upgraded from holds."""
    text = text[:text.index("\n[reports]\n")]
    return re.sub(r"^(wave_step|call|old_appointment) = .*\n", "", text, flags=re.M)


def test_cases_on_a_version_before_the_new_route_keys_keep_working_and_counting(
    routes: Env, env: Env,
) -> None:
    path = routes / "kansen_in_kaart.toml"
    shipped = path.read_text(encoding="utf-8")
    path.write_text(without_the_route_keys_of_version_4(shipped), encoding="utf-8")
    env.ok("cohort", "import", str(EXAMPLES / "cohort.csv"), "--workflow", ROUTE)
    lift_exclusions(env)
    advance(env, 1, "invite", "--set", "appointment=2099-01-05 10:00")
    advance(env, 1, "hold_conversation", "--set", "classification=not_active",
            "--set", "participation_potential=none")
    # Nobody home: the appointment is marked so, as the core did before the route said it.
    advance(env, 3, "invite", "--set", "appointment=2099-01-05 10:00")
    advance(env, 3, "not_home", "--set", "appointment=2099-01-12 10:00")
    assert [a["status"] for a in env.json("case", "show", "3")["appointments"]] == [
        "not_home", "planned"]
    # The upgrade: the file now says version 2 with the new keys; cases stay on version 1.
    path.write_text(shipped.replace("version = 1", "version = 2", 1), encoding="utf-8")
    assert env.json("case", "show", "1")["workflow_version"] == 1
    outcomes = env.json("report", "outcomes", "--workflow", ROUTE)
    assert (outcomes["approached"], outcomes["spoken"]) == (2, 1)  # counted by version 2's words
    assert env.json("task", "list", "--kind", "reminder_call", "--status", "cancelled")["tasks"]
    moved = env.json("workflow", "migrate", ROUTE, "--from", "1", "--to", "2")
    assert moved["moved"] == 200 and env.json("case", "show", "1")["workflow_version"] == 2


def test_cases_on_a_version_whose_closing_ends_the_report_keep_that_and_new_ones_keep_the_report(
    routes: Path, env: Env,
) -> None:
    """Version 6 of Kansen in Kaart keeps the report owed to a person when the case closes
    (report_due scope "person"); a case on an earlier version closes as it always did."""
    path = routes / "kansen_in_kaart.toml"
    shipped = path.read_text(encoding="utf-8")
    assert 'kind = "report_due"' in shipped and 'scope = "person"' in shipped
    path.write_text(shipped.replace('scope = "person"', 'scope = "case"'), encoding="utf-8")
    env.ok("cohort", "import", str(EXAMPLES / "cohort.csv"), "--workflow", ROUTE)
    lift_exclusions(env)
    path.write_text(shipped.replace("version = 1", "version = 2", 1), encoding="utf-8")
    opened = env.json("case", "open", "--workflow", ROUTE, "--bsn", "111222333", *PERSON)
    for case_id in (1, opened["id"]):
        advance(env, case_id, "invite", "--set", "appointment=2099-01-05 10:00")
        advance(env, case_id, "hold_conversation", "--set", "classification=not_active",
                "--set", "participation_potential=none")
        advance(env, case_id, "close", "--set", "reason=no_support_needed")
    reports = {t["case_id"]: t["status"] for t in env.json(
        "task", "list", "--kind", "report_due", "--status", "all")["tasks"]}
    assert reports == {1: "cancelled", opened["id"]: "open"}
    assert env.json("case", "show", "1")["workflow_version"] == 1


REMINDER = re.compile(r"\[\[states\.invited\.tasks\]\]\nkind = \"reminder_call\".*?\n\n", re.S)


@pytest.mark.long
def test_migrated_cases_work_follows_the_new_versions_task_spec(routes: Path, env: Env) -> None:
    """A case moved to version 6 of Kansen in Kaart gets the report owed to the person (scope
    "person"): closing it leaves the report and the daily run sends it. A task whose kind the
    new version no longer plans keeps what it had, and the migration says so."""
    path = routes / "kansen_in_kaart.toml"
    shipped = path.read_text(encoding="utf-8")
    path.write_text(shipped.replace('scope = "person"', 'scope = "case"')
                    .replace('label = "Verslag versturen"', 'label = "Verslag sturen"'),
                    encoding="utf-8")
    env.ok("cohort", "import", str(EXAMPLES / "cohort.csv"), "--workflow", ROUTE)
    lift_exclusions(env)
    for case_id in (1, 2):
        advance(env, case_id, "invite", "--set", "appointment=2099-01-05 10:00")
    advance(env, 1, "hold_conversation", "--set", "classification=not_active",
            "--set", "participation_potential=none", "--set", "consent=record_report",
            "--set", "themes.health=Rug")
    assert task_of(env, 1, "report_due")["label"] == "Verslag sturen"
    (routes / "kansen_in_kaart_v2.toml").write_text(
        REMINDER.sub("", shipped.replace("version = 1", "version = 2", 1)), encoding="utf-8")
    engine = env.engine()
    try:
        moved = migrate_cases(engine, staff(engine, "anna"), ROUTE, 1, 2, {})
    finally:
        engine.db.dispose()
    assert moved["moved"] == 200
    assert moved["tasks_updated"] == 1 and moved["tasks_kept"] == {"reminder_call": 1}
    report = task_of(env, 1, "report_due")
    assert report["label"] == "Verslag versturen"
    kept = task_of(env, 2, "reminder_call")  # still on the work list, as planned
    assert kept["label"] == "Herinnering bellen (dag voor de afspraak)"
    advance(env, 1, "close", "--set", "reason=no_support_needed")
    assert task_of(env, 1, "report_due")["id"] == report["id"]  # owed to the person now
    assert [t["status"] for t in show(env, 1)["tasks"] if t["kind"] == "report_due"] == ["open"]
