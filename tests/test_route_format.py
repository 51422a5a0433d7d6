"""The route file format: declared once, documented from the declaration, and the route (not
the core) says which step does what: appointments a step replaces, calls, what the reports
count, the wave and meeting steps, and the voluntary rule's own keys."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, WORKFLOWS, Env

from casework import route_format
from casework.durations import Duration, parse_duration
from casework.errors import WorkflowError
from casework.rules import Rules
from casework.workflow import load_route, task_outcomes

ROUTE = "kansen-in-kaart"
PERSON = ("--surname", "Visser", "--street", "Hoofdweg", "--house-number", "3",
          "--postcode", "9711 AB", "--city", "Groningen", "--wijk", "Beijum")
MINI = """
[workflow]
id = "mini"
version = 1
initial = "start"

[states.start]
[states.middle]
{task}
[states.done]
final = true

[[transitions]]
trigger = "go"
source = "start"
dest = "middle"

[[transitions]]
trigger = "finish"
source = "middle"
dest = "done"
"""


def mini(tmp_path: Path, task: str = "", extra: str = "") -> Path:
    path = tmp_path / "mini.toml"
    path.write_text(MINI.format(task=task) + extra, encoding="utf-8")
    return path


def problems_of(path: Path, rules: Any = None) -> list[str]:
    with pytest.raises(WorkflowError) as caught:
        load_route(path, rules)
    return caught.value.problems


# --- the documentation is the declaration --------------------------------------------------


def test_the_route_format_doc_is_written_from_the_key_tables() -> None:
    shipped = (ROOT / "docs" / "route-format.md").read_text(encoding="utf-8")
    assert shipped == route_format.route_format_doc(), (
        "docs/route-format.md is out of date: run python -m casework.route_format")


def test_every_key_a_shipped_route_uses_is_documented() -> None:
    doc = route_format.route_format_doc()
    for path in sorted(WORKFLOWS.glob("*.toml")):
        route = tomllib.loads(path.read_text(encoding="utf-8"))
        used = set(route["workflow"])
        for transition in route["transitions"]:
            used.update(transition)
        for state in route["states"].values():
            used.update(state)
            for task in state.get("tasks", []):
                used.update(task)
        used.update(route.get("reports", {}))
        for key in used:
            assert f"| `{key}` |" in doc, f"{path.name}: key {key} is not in the doc"


# --- durations ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("3 maanden", Duration(months=3)), ("1 maand", Duration(months=1)),
    ("2 weken", Duration(weeks=2)), ("1 week", Duration(weeks=1)),
    ("10 dagen", Duration(days=10)), ("1 dag", Duration(days=1)),
    ("5 werkdagen", Duration(days=5, workdays=True)),
    ("1 werkdag", Duration(days=1, workdays=True)), ("2 jaar", Duration(years=2)),
    ("3  Maanden", Duration(months=3)), ("P3M", Duration(months=3)),
])
def test_durations_read_in_dutch_words_next_to_iso_8601(text: str, expected: Duration) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["3 months", "drie maanden", "-1 dag", "3 maanden en 2 dagen",
                                  "2000 jaar", "maand"])
def test_other_duration_words_are_refused_with_the_forms_that_work(text: str) -> None:
    with pytest.raises(ValueError, match=r"3 maanden|100 years"):
        parse_duration(text)


def test_a_task_due_in_werkdagen_is_planned_on_workdays(tmp_path: Path) -> None:
    route = load_route(mini(tmp_path, 'tasks = [{ kind = "check", after = "5 werkdagen" }]'))
    task = route.states["middle"].tasks[0]
    assert task.calendar == "workdays" and task.offset == Duration(days=5, workdays=True)
    monthly = load_route(mini(tmp_path, 'tasks = [{ kind = "check", after = "3 maanden", '
                                        'rounds = 2, every = "2 weken" }]'))
    assert monthly.states["middle"].tasks[0].calendar == "days"


def test_werkdagen_on_a_calendar_of_days_is_a_problem(tmp_path: Path) -> None:
    path = mini(tmp_path, 'tasks = [{ kind = "check", after = "5 werkdagen", '
                          'calendar = "days" }]')
    [line] = problems_of(path)
    assert line.startswith(str(path)) and "state 'middle'" in line and "werkdagen" in line


# --- keys the route declares ------------------------------------------------------------------


@pytest.mark.parametrize(("task", "outcomes"), [
    ('{ kind = "check_in", after = "P1D", call = true }',
     ("reached", "not_reached", "wrong_number")),
    ('{ kind = "check_call", after = "P1D", call = false }', ("done",)),
    ('{ kind = "check_call", after = "P1D" }', ("reached", "not_reached", "wrong_number")),
    ('{ kind = "check_in", after = "P1D" }', ("done",)),
])
def test_a_task_is_a_call_when_the_route_says_call_true(tmp_path: Path, task: str,
                                                        outcomes: tuple[str, ...]) -> None:
    """A route without the key keeps the older convention: a kind ending in _call."""
    spec = load_route(mini(tmp_path, f"tasks = [{task}]")).states["middle"].tasks[0]
    assert task_outcomes(spec.kind, spec.spec()) == outcomes


@pytest.mark.parametrize(("extra", "fragments"), [
    ('\n[reports]\nspoken = "talk"\n', ("[reports]", "'spoken'", "'talk'")),
    ('\n[reports]\nfollow_up_state = "later"\n', ("[reports]", "state 'later'")),
    ('\n[reports]\nfollow_up_task = "ring"\n', ("[reports]", "task kind 'ring'")),
    ('\n[reports]\nspoken = 3\n', ("[reports]", "'spoken'")),
    ('\n[reports]\nheard = "go"\n', ("[reports]", "unknown key 'heard'")),
    ('\n[fields.reason]\ntype = "choice"\nchoices = ["done", "gone"]\n'
     '[reports]\nunreachable_reasons = ["gone", "away"]\n',
     ("[reports]", "'unreachable_reasons'", "closing reason 'away'")),
    ('\n[fields.partner]\ntype = "choice"\nchoices = ["coach"]\n'
     '[reports]\ncare_partners = "wijkteam"\n', ("[reports]", "partner 'wijkteam'")),
])
def test_reports_name_only_what_the_route_has(tmp_path: Path, extra: str,
                                               fragments: tuple[str, ...]) -> None:
    problems = problems_of(mini(tmp_path, extra=extra))
    assert any(all(f in line for f in fragments) for line in problems), problems


def test_wave_and_meeting_steps_must_be_triggers_of_the_route(tmp_path: Path) -> None:
    path = mini(tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace(
        'initial = "start"', 'initial = "start"\nwave_step = "finish"\nmeeting_step = "meet"'),
        encoding="utf-8")
    problems = problems_of(path)
    assert any("'wave_step'" in p and "'finish'" in p and "'start'" in p for p in problems)
    assert any("'meeting_step'" in p and "'meet'" in p for p in problems)


def test_the_voluntary_rule_reads_its_decline_step_from_the_route(tmp_path: Path) -> None:
    text = MINI.format(task="").replace('initial = "start"',
                                        'initial = "start"\nrules = ["voluntary"]')
    text += '\n[[transitions]]\ntrigger = "afmelden"\nsource = "*"\ndest = "done"\n'
    path = tmp_path / "mini.toml"
    path.write_text(text, encoding="utf-8")
    assert any("'decline'" in p and "rule voluntary" in p for p in problems_of(path, Rules()))
    path.write_text(text + '\n[voluntary]\ndecline = "afmelden"\n', encoding="utf-8")
    assert load_route(path, Rules()).rule_options["voluntary"]["decline"] == "afmelden"
    path.write_text(text + '\n[voluntary]\nweigeren = "afmelden"\n', encoding="utf-8")
    assert any("[voluntary]" in p and "'weigeren'" in p for p in problems_of(path, Rules()))


# --- the route decides, through the whole program --------------------------------------------


@pytest.fixture
def routes(env: Env, tmp_path: Path) -> Path:
    """The env reading its routes from a folder of its own, holding Kansen in Kaart."""
    folder = tmp_path / "routes"
    folder.mkdir()
    (folder / "kansen_in_kaart.toml").write_text(
        (WORKFLOWS / "kansen_in_kaart.toml").read_text(encoding="utf-8"), encoding="utf-8")
    config = env.config.read_text(encoding="utf-8")
    env.config.write_text(config.replace(WORKFLOWS.as_posix(), folder.as_posix()),
                          encoding="utf-8")
    return folder


def change_route(folder: Path, old: str, new: str) -> None:
    path = folder / "kansen_in_kaart.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def advance(env: Env, case_id: int, trigger: str, *sets: str) -> Any:
    args = [part for item in sets for part in ("--set", item)]
    return env.json("case", "advance", str(case_id), trigger, *args)


def test_the_route_names_the_status_of_an_appointment_a_step_replaces(
        env: Env, routes: Path) -> None:
    change_route(routes, 'label = "Afspraak verzetten"\n',
                 'label = "Afspraak verzetten"\nold_appointment = "verzet"\n')
    change_route(routes, 'old_appointment = "not_home"\n', 'old_appointment = "gemist"\n')
    env.json("case", "open", "--workflow", ROUTE, "--bsn", "111222333", *PERSON)
    advance(env, 1, "invite", "appointment=2099-01-05 10:00")
    advance(env, 1, "reschedule", "appointment=2099-01-12 10:00")
    advance(env, 1, "not_home", "appointment=2099-01-19 10:00")
    statuses = [a["status"] for a in env.json("case", "show", "1")["appointments"]]
    assert statuses == ["verzet", "gemist", "planned"]


def test_reports_count_the_steps_the_route_declares(env: Env, routes: Path) -> None:
    # Kansen in Kaart with its conversation counted as approaching, and its invitation not.
    change_route(routes, 'approached = "invite"\n', 'approached = "hold_conversation"\n')
    env.json("case", "open", "--workflow", ROUTE, "--bsn", "111222333", *PERSON)
    advance(env, 1, "invite", "appointment=2099-01-05 10:00")
    report = ("report", "outcomes", "--workflow", ROUTE, "--as-of", "2099-12-31")
    assert env.json(*report)["approached"] == 0
    advance(env, 1, "hold_conversation", "classification=not_active",
            "participation_potential=none")
    assert env.json(*report)["approached"] == 1


def test_a_route_without_a_wave_step_is_not_planned_in_waves(env: Env, routes: Path) -> None:
    change_route(routes, 'wave_step = "invite"\n', "")
    env.json("case", "open", "--workflow", ROUTE, "--bsn", "111222333", *PERSON)
    result = env.run("cohort", "plan", "--workflow", ROUTE, "--wijk", "Beijum", "--size", "1",
                     "--from", "2099-01-05", "--specialists", "1")
    assert result.exit_code == 1
    assert "wave step" in result.stderr and "Traceback" not in result.output


# --- the core names no route word ----------------------------------------------------------


def _route_words() -> set[str]:
    """Trigger and task kind names of the shipped routes that are not also words of the
    format itself (records = "match" is the format's, the trigger 'match' the route's).
    State names are left out: "active", "closed", "outcome" are also the core's own words
    (a staff member is active, a task has an outcome)."""
    words: set[str] = set()
    for path in WORKFLOWS.glob("*.toml"):
        route = tomllib.loads(path.read_text(encoding="utf-8"))
        words.update(t["trigger"] for t in route["transitions"])
        words.update(task["kind"] for state in route["states"].values()
                     for task in state.get("tasks", []))
    format_words = {choice for _, _, keys in route_format.SECTIONS for key in keys
                    for choice in key.choices}
    return words - format_words


def _core_files() -> list[Path]:
    """The core: casework/ outside the rules (which own their words), the season simulation
    (which plays Kansen in Kaart's people) and the format module (whose examples are routes)."""
    package = ROOT / "casework"
    skip = {package / "rules", package / "simulation", package / "migrations"}
    return [path for path in sorted(package.rglob("*.py"))
            if not any(folder in path.parents for folder in skip)
            and path.name != "route_format.py"]


def test_the_core_names_no_trigger_or_task_kind_of_a_route() -> None:
    # The follow-up report and its key in the council page share the word with the route.
    words = _route_words() - {"follow_up"}
    found = []
    for path in _core_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and (
                    node.value in words):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert not found, "route words in the core:\n" + "\n".join(found)


def test_the_core_matches_no_task_kind_by_its_name() -> None:
    pattern = re.compile(r"""\.(endswith|startswith)\(["']_?call""")
    for path in _core_files():
        assert not pattern.search(path.read_text(encoding="utf-8")), path
