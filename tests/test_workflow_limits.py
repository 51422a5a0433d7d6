"""Route files that would load but crash later are refused by 'casework workflow validate' and
at load alike, in the same words: versions beyond what the database holds, periods beyond 100
years, work repeated every zero days, letter names that are paths or have no template. And no
route file, however mangled, makes validate or load fail with anything but its own message."""

from __future__ import annotations

import copy
import json
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from conftest import TEMPLATES, WORKFLOWS, write_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_workflow_validation import FINISH, GO, HEAD, STATES, has_line, validate, write

from casework.errors import WorkflowError
from casework.rules import Rules
from casework.workflow import Registry, load_route

MIDDLE = 'label = "Middle"'


def with_task(task: str) -> str:
    """The mini route with one task planned in state 'middle'."""
    return HEAD + STATES.replace(MIDDLE, f"{MIDDLE}\ntasks = [{task}]") + GO + FINISH


def with_state_letter(name: str) -> str:
    return HEAD + STATES.replace(MIDDLE, f"{MIDDLE}\nletter = {name}") + GO + FINISH


def config_for(tmp_path: Path) -> Path:
    """A config whose paths.templates is the project's letter templates."""
    return write_config(tmp_path, f"sqlite:///{tmp_path / 'casework.db'}")


LIMITS = [
    pytest.param(HEAD.replace("version = 1", "version = 2147483648"),
                 ("[workflow]", "'version'", "2147483647"), id="version-beyond-2-31"),
    pytest.param(HEAD.replace("version = 1", "version = 99999999999999999999999"),
                 ("[workflow]", "'version'"), id="version-huge"),
    pytest.param(HEAD.replace("version = 1", "version = 0"),
                 ("[workflow]", "'version'", "from 1"), id="version-zero"),
    pytest.param(HEAD.replace("version = 1", "version = -3"),
                 ("[workflow]", "'version'"), id="version-negative"),
    pytest.param(HEAD.replace("version = 1", 'version = "2"'),
                 ("[workflow]", "'version'", "whole number"), id="version-text"),
    pytest.param(HEAD.replace("version = 1", "version = 1.5"),
                 ("[workflow]", "'version'", "whole number"), id="version-fraction"),
]
LIMITS = [pytest.param(p.values[0] + STATES + GO + FINISH, p.values[1], id=p.id)
          for p in LIMITS]
LIMITS += [
    pytest.param(with_task('{ kind = "call", after = "P200Y" }'),
                 ("state 'middle'", "'after'", "P200Y", "100 years"), id="after-200-years"),
    pytest.param(with_task('{ kind = "call", after = "P99999D" }'),
                 ("state 'middle'", "'after'", "P99999D", "100 years"), id="after-99999-days"),
    pytest.param(with_task('{ kind = "call", before = "P1" }'),
                 ("state 'middle'", "'before'", "ISO 8601"), id="before-malformed"),
    pytest.param(with_task('{ kind = "call", after = "-P1D" }'),
                 ("state 'middle'", "'after'", "-P1D", "ISO 8601"), id="after-negative"),
    pytest.param(with_task('{ kind = "call", after = "P1D", repeat = "P0D" }'),
                 ("state 'middle'", "'repeat'", "at least one day"), id="repeat-zero"),
    pytest.param(with_task('{ kind = "call", after = "P1D", repeat = "PT2H" }'),
                 ("state 'middle'", "'repeat'", "at least one day"), id="repeat-hours-only"),
    pytest.param(with_task('{ kind = "call", after = "P1D", repeat = "P1000Y" }'),
                 ("state 'middle'", "'repeat'", "100 years"), id="repeat-1000-years"),
    pytest.param(with_task('{ kind = "call", after = "P1D", repeat = "P6W", for = "P0D" }'),
                 ("state 'middle'", "'for'", "at least one day"), id="repeat-for-zero"),
    pytest.param(with_task('{ kind = "call", after = "P1D", rounds = 2, every = "P0D" }'),
                 ("state 'middle'", "'every'", "at least one day"), id="every-zero"),
    pytest.param(with_task('{ kind = "call", after = "P1D", rounds = 0 }'),
                 ("state 'middle'", "'rounds'", "from 1"), id="rounds-zero"),
    pytest.param(with_task('{ kind = "call", after = "P1D", rounds = -2 }'),
                 ("state 'middle'", "'rounds'", "from 1"), id="rounds-negative"),
    pytest.param(with_task('{ kind = "call", after = "P1D", rounds = 100000, every = "P1D" }'),
                 ("state 'middle'", "'rounds'", "100"), id="rounds-huge"),
    pytest.param(HEAD + STATES + GO + "max = 0\n" + FINISH,
                 ("'go'", "'max'", "from 1"), id="max-zero"),
    pytest.param(HEAD + STATES + GO + "max = 9223372036854775807\n" + FINISH,
                 ("'go'", "'max'", "1000"), id="max-huge"),
]

LETTERS = [
    pytest.param(with_state_letter('"../../etc/passwd"'),
                 ("state 'middle'", "../../etc/passwd", "not a path"), id="state-parent-path"),
    pytest.param(with_state_letter('"/etc/passwd"'),
                 ("state 'middle'", "/etc/passwd", "not a path"), id="state-absolute-path"),
    pytest.param(with_state_letter('"brieven/uitnodiging"'),
                 ("state 'middle'", "brieven/uitnodiging", "not a path"), id="state-slash"),
    pytest.param(with_state_letter("'brieven\\uitnodiging'"),
                 ("state 'middle'", "not a path"), id="state-backslash"),
    pytest.param(with_state_letter('"uitnodiging.typ.j2"'),
                 ("state 'middle'", "uitnodiging.typ.j2", "plain name"), id="state-file-name"),
    pytest.param(with_state_letter('"_base"'),
                 ("state 'middle'", "_base", "plain name"), id="state-layout"),
    pytest.param(with_state_letter("3"),
                 ("state 'middle'", "letter template"), id="state-not-text"),
    pytest.param(with_state_letter('"bestaat_niet"'),
                 ("state 'middle'", "'bestaat_niet'", "not found", "add the template"),
                 id="state-no-template"),
    pytest.param(HEAD + STATES + GO + 'letter = "../afmelding"\n' + FINISH,
                 ("'go'", "../afmelding", "not a path"), id="transition-path"),
    pytest.param(HEAD + STATES + GO + 'letter = "geen_brief"\n' + FINISH,
                 ("transition 'go' from 'start'", "'geen_brief'", "not found"),
                 id="transition-no-template"),
    pytest.param(with_task('{ kind = "call", after = "P1D", letters = { not_reached = '
                           '"C:\\\\brieven\\\\x" } }'),
                 ("state 'middle'", "not_reached", "not a path"), id="task-windows-path"),
    pytest.param(with_task('{ kind = "check_call", after = "P1D", letters = { not_reached = '
                           '"ontbreekt" } }'),
                 ("state 'middle'", "task check_call", "'ontbreekt'", "not found"),
                 id="task-no-template"),
]


@pytest.mark.parametrize(("text", "fragments"), LIMITS + LETTERS)
def test_what_would_crash_later_is_refused_at_validate_and_load_in_the_same_words(
    tmp_path: Path, text: str, fragments: tuple[str, ...]
) -> None:
    path = write(tmp_path, text)

    with pytest.raises(WorkflowError) as info:
        load_route(path, Rules(), templates_dir=TEMPLATES)
    problems = info.value.problems
    assert has_line(problems, str(path), *fragments), problems

    result = validate(str(path), config=config_for(tmp_path))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "ok (" not in result.output
    lines = result.output.splitlines()
    assert set(problems) <= set(lines), (problems, result.output)


@pytest.mark.parametrize(("text", "fragments"), [LIMITS[0], LETTERS[0], LETTERS[7]])
def test_the_engine_refuses_the_folder_with_the_same_line(
    tmp_path: Path, text: str, fragments: tuple[str, ...]
) -> None:
    folder = tmp_path / "routes"
    folder.mkdir()
    path = write(folder, text)
    with pytest.raises(WorkflowError) as info:
        Registry.from_dir(folder, Rules(), TEMPLATES)
    assert has_line(info.value.problems, str(path), *fragments), info.value.problems
    config = config_for(tmp_path)
    config.write_text(config.read_text(encoding="utf-8").replace(
        WORKFLOWS.as_posix(), folder.as_posix()), encoding="utf-8")
    result = validate(config=config)
    assert result.exit_code == 1
    assert set(info.value.problems) <= set(result.output.splitlines()), result.output


def test_limits_themselves_are_allowed(tmp_path: Path) -> None:
    text = (HEAD.replace("version = 1", "version = 2147483647")
            + STATES.replace(MIDDLE, f'{MIDDLE}\nletter = "uitnodiging"\ntasks = [{{ kind = '
                             '"call", after = "P100Y", repeat = "P1D", for = "P36525D" }]')
            + GO + "max = 1000\n" + FINISH)
    path = write(tmp_path, text)
    route = load_route(path, Rules(), templates_dir=TEMPLATES)
    assert route.version == 2**31 - 1
    result = validate(str(path), config=config_for(tmp_path))
    assert result.exit_code == 0, result.output
    assert "ok (mini version 2147483647" in result.output


# --- any mangled route file: one clear message, never a crash ------------------------------

RICH = (HEAD.replace('initial = "start"', 'initial = "start"\nrules = ["voluntary", "consent"]')
        + '\n[fields.partner]\ntype = "choice"\nchoices = ["wij_team"]\n'
        + STATES.replace(MIDDLE, MIDDLE + '\nletter = "uitnodiging"\ntasks = [{ kind = "call", '
                         'after = "P3M", rounds = 2, every = "P2W", calendar = "workdays", '
                         'letters = { not_reached = "nabellen" }, expire = "finish", '
                         'outcomes = { reached = { trigger = "finish" } } }]')
        + GO + 'needs = ["partner"]\nconsent = "share:{partner}"\nletter = "verwijzing"\n'
        + FINISH + 'reason = "done"\n'
        + '\n[[transitions]]\ntrigger = "decline"\nsource = "*"\ndest = "done"\n')
BASES = [tomllib.loads(RICH), tomllib.loads((WORKFLOWS / "participatiecoach.toml")
                                            .read_text(encoding="utf-8"))]
WORDS = st.sampled_from([
    "start", "middle", "done", "go", "finish", "*", "partner", "uitnodiging", "../../etc/passwd",
    "/etc/passwd", "a\\b", "P0D", "P200Y", "P99999D", "PT1H", "P3M", "entry", "workdays", "",
    "staff", "reached", "share:{partner}", "choice", "notes", "text", "x" * 300,
])
SCALARS = st.one_of(
    WORDS, st.text(st.characters(exclude_categories=("Cs",)), max_size=12),
    st.integers(-3, 3), st.sampled_from([2**31, 2**63 - 1, 10**30, -(10**30)]),
    st.booleans(), st.floats(allow_nan=True, allow_infinity=True), st.dates(),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(WORDS, inner, max_size=3)), max_leaves=6)


def toml_value(value: Any) -> str:
    """Return value as a TOML inline value (no writer in the standard library)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(value), repr(value))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"


def places(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Return the path of every value under node."""
    found = [at] if at else []
    items = node.items() if isinstance(node, dict) else enumerate(node) \
        if isinstance(node, list) else ()
    for key, child in items:
        found.extend(places(child, (*at, key)))
    return found


def mutate(doc: dict[str, Any], data: st.DataObject) -> None:
    """Replace, delete or add one value somewhere in the route."""
    spots = places(doc)
    if not spots:
        doc["workflow"] = data.draw(VALUES)
        return
    spot = data.draw(st.sampled_from(spots))
    parent: Any = doc
    for key in spot[:-1]:
        parent = parent[key]
    action = data.draw(st.sampled_from(["replace", "replace", "delete", "add"]))
    if action == "replace":
        parent[spot[-1]] = data.draw(VALUES)
    elif action == "delete":
        del parent[spot[-1]]
    elif isinstance(parent, dict):
        parent[data.draw(WORDS)] = data.draw(VALUES)
    else:
        parent.append(data.draw(VALUES))


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_mangled_route_file_gets_one_line_per_problem_and_never_a_traceback(
    tmp_path: Path, data: st.DataObject
) -> None:
    doc = copy.deepcopy(data.draw(st.sampled_from(BASES)))
    for _ in range(data.draw(st.integers(1, 3))):
        mutate(doc, data)
    path = write(tmp_path, "\n".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in doc.items())
                 + "\n")

    try:
        load_route(path, Rules(), templates_dir=TEMPLATES)
        loaded = True
    except WorkflowError as exc:
        loaded = False
        assert exc.problems
        assert all(line.startswith(str(path)) and "\n" not in line for line in exc.problems)

    result = validate(str(path), config=config_for(tmp_path))  # an exception fails the test
    assert result.exit_code == (0 if loaded else 1), result.output
    assert "Traceback" not in result.output
