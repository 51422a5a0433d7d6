"""Workflow files: every mistake is reported with the file and the state or transition it is in,
both by 'casework workflow validate FILE' and by casework.workflow.load_route."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import WORKFLOWS, write_config

from casework.cli import cli
from casework.errors import WorkflowError
from casework.workflow import Registry, load_route, task_dict

HEAD = """\
[workflow]
id = "mini"
version = 1
label = "Mini route"
initial = "start"

[fields.note]
type = "text"
"""

STATES = """
[states.start]
label = "Start"

[states.middle]
label = "Middle"

[states.done]
label = "Done"
final = true
"""

GO = """
[[transitions]]
trigger = "go"
source = "start"
dest = "middle"
"""

FINISH = """
[[transitions]]
trigger = "finish"
source = "middle"
dest = "done"
"""

VALID = HEAD + STATES + GO + FINISH


def write(folder: Path, text: str, name: str = "mini.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def validate(*args: str, config: Path | None = None) -> Result:
    env: dict[str, str | None] = {"CASEWORK_DATABASE_URL": None,
                                  "CASEWORK_CONFIG": str(config) if config else None}
    return CliRunner().invoke(cli, ["workflow", "validate", *args], env=env,
                              catch_exceptions=False)


def problems_of(path: Path) -> list[str]:
    with pytest.raises(WorkflowError) as info:
        load_route(path)
    return info.value.problems


def has_line(lines: list[str], *fragments: str) -> bool:
    return any(all(fragment in line for fragment in fragments) for line in lines)


def test_shipped_workflows_validate_ok() -> None:
    files = sorted(WORKFLOWS.glob("*.toml"))
    assert files
    for path in files:
        route = load_route(path)
        assert route.path == path
        result = validate(str(path))
        assert result.exit_code == 0, result.output
        assert f"{path}: ok ({route.id} version {route.version}" in result.output


def test_small_valid_file_loads_and_validates(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    route = load_route(path)
    assert (route.id, route.version, route.initial) == ("mini", 1, "start")
    assert list(route.states) == ["start", "middle", "done"]
    assert route.triggers == ["go", "finish"]
    result = validate(str(path))
    assert result.exit_code == 0, result.output
    assert "ok (mini version 1, 3 states, 2 triggers)" in result.output


BROKEN = [
    pytest.param(
        HEAD + STATES + GO + FINISH.replace('dest = "done"', 'dest = "finished"'),
        ("'finish'", "'finished'"), id="unknown-dest-state"),
    pytest.param(
        HEAD + STATES + GO.replace('source = "start"', 'source = "begin"')
        + FINISH + '\n[[transitions]]\ntrigger = "stop"\nsource = "start"\ndest = "done"\n',
        ("'begin'",), id="unknown-source-state"),
    pytest.param(
        HEAD + STATES + '\n[states.orphan]\nlabel = "Nobody gets here"\n' + GO + FINISH
        + '\n[[transitions]]\ntrigger = "wander"\nsource = "orphan"\ndest = "done"\n',
        ("'orphan'", "unreachable"), id="unreachable-state"),
    pytest.param(
        VALID + '\n[[transitions]]\ntrigger = "reopen"\nsource = "done"\ndest = "start"\n',
        ("'done'", "'reopen'", "final"), id="exit-from-final-state"),
    pytest.param(
        VALID + '\n[[transitions]]\ntrigger = "go"\nsource = "start"\ndest = "done"\n',
        ("'start'", "'go'", "twice"), id="duplicate-trigger-from-same-source"),
    pytest.param(
        HEAD + STATES.replace(
            'label = "Middle"',
            'label = "Middle"\ntasks = [{ kind = "follow_up_call", after = "3 months" }]',
        ) + GO + FINISH,
        ("'middle'", "'after'", "3 months"), id="malformed-timer"),
    pytest.param(
        HEAD + STATES.replace(
            'label = "Middle"',
            'label = "Middle"\ntasks = [{ kind = "follow_up_call", after = "P3M", rounds = 2 }]',
        ) + GO + FINISH,
        ("'middle'", "rounds", "every"), id="rounds-without-every"),
    pytest.param(
        HEAD + STATES + GO + 'needs = ["notes"]\n' + FINISH,
        ("'go'", "'notes'"), id="unknown-data-field-in-needs"),
    pytest.param(
        HEAD + STATES + GO + FINISH.replace("source =", "sorce ="),
        ("'finish'", "'sorce'"), id="unknown-key-typo"),
    pytest.param(
        HEAD + STATES + GO
        + '\n[[transitions]]\ntrigger = "stop"\nsource = "start"\ndest = "done"\n',
        ("'middle'", "way out"), id="open-state-without-way-out"),
    pytest.param(
        HEAD + STATES.replace("final = true", "") + GO + FINISH
        + '\n[[transitions]]\ntrigger = "again"\nsource = "done"\ndest = "start"\n',
        ("final",), id="no-final-state"),
    pytest.param(
        VALID.replace('id = "mini"\n', ""),
        ("[workflow]", "'id'"), id="missing-workflow-id"),
    pytest.param(
        VALID.replace('[states.middle]', '[states.middle'),
        ("TOML",), id="invalid-toml-syntax"),
    pytest.param(
        HEAD + STATES + GO + 'then = ["finish"]\n' + FINISH,
        ("'start'", "'go'", "'finish'", "then"), id="then-names-trigger-not-from-state"),
    pytest.param(
        HEAD + STATES.replace(
            'label = "Middle"',
            'label = "Middle"\ntasks = [{ kind = "report_due", after = "P5D", '
            'letters = { reached = "verslag" } }]',
        ) + GO + FINISH,
        ("'middle'", "report_due", "'reached'", "done"), id="letter-for-an-outcome-never-had"),
    pytest.param(
        HEAD + STATES.replace(
            'label = "Middle"',
            'label = "Middle"\ntasks = [{ kind = "report_due", after = "P5D", scope = "person", '
            'expire = "finish" }]',
        ) + GO + FINISH,
        ("'middle'", "'expire'", "scope \"person\"", "closes"),
        id="work-owed-to-the-person-cannot-take-a-step"),
]


@pytest.mark.parametrize(("text", "fragments"), BROKEN)
def test_broken_file_is_rejected_naming_file_and_place(
    tmp_path: Path, text: str, fragments: tuple[str, ...]
) -> None:
    path = write(tmp_path, text)

    problems = problems_of(path)
    assert has_line(problems, str(path), *fragments), problems

    result = validate(str(path))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert has_line(result.output.splitlines(), str(path), *fragments), result.output
    assert "ok (" not in result.output


def test_several_problems_in_one_file_are_all_listed(tmp_path: Path) -> None:
    text = (
        HEAD
        + STATES.replace(
            'label = "Middle"',
            'label = "Middle"\ntasks = [{ kind = "follow_up_call", after = "3 months" }]',
        )
        + GO + 'needs = ["notes"]\n'
        + FINISH.replace('dest = "done"', 'dest = "done"\nsorce = "start"')
        + '\n[[transitions]]\ntrigger = "reopen"\nsource = "done"\ndest = "start"\n'
    )
    path = write(tmp_path, text)
    expected = [
        (str(path), "'middle'", "3 months"),
        (str(path), "'go'", "'notes'"),
        (str(path), "'finish'", "'sorce'"),
        (str(path), "'done'", "'reopen'"),
    ]

    problems = problems_of(path)
    for fragments in expected:
        assert has_line(problems, *fragments), (fragments, problems)

    result = validate(str(path))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.output.splitlines()
    for fragments in expected:
        assert has_line(lines, *fragments), (fragments, result.output)
    assert f"{len(problems)} problems found" in result.output


def test_several_problems_in_one_transition_are_all_listed(tmp_path: Path) -> None:
    # A typo in 'dest' must not hide the other mistakes of the same transition: otherwise the
    # user fixes one, validates again, and only then learns about the next.
    go = GO.replace('dest = "middle"', 'dest = "midle"\nneeds = ["notes"]')
    text = HEAD + STATES + go + FINISH
    path = write(tmp_path, text)
    expected = [(str(path), "'go'", "'midle'"), (str(path), "'go'", "'notes'")]

    problems = problems_of(path)
    for fragments in expected:
        assert has_line(problems, *fragments), (fragments, problems)

    result = validate(str(path))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    for fragments in expected:
        assert has_line(result.output.splitlines(), *fragments), (fragments, result.output)


def test_missing_workflow_section_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, STATES + GO + FINISH)
    assert has_line(problems_of(path), str(path), "[workflow]")
    result = validate(str(path))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert has_line(result.output.splitlines(), str(path), "[workflow]")


def test_validate_missing_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    result = validate(str(path))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert str(path) in result.output


def test_same_id_and_version_in_two_files_names_both(tmp_path: Path) -> None:
    folder = tmp_path / "routes"
    folder.mkdir()
    first = write(folder, VALID, "a_mini.toml")
    second = write(folder, VALID.replace('label = "Mini route"', 'label = "Copy"'), "b_mini.toml")
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'casework.db'}")
    config.write_text(
        config.read_text(encoding="utf-8").replace(str(WORKFLOWS.as_posix()), folder.as_posix()),
        encoding="utf-8",
    )

    with pytest.raises(WorkflowError) as info:
        Registry.from_dir(folder)
    assert has_line(info.value.problems, first.name, second.name, "mini"), info.value.problems

    result = validate(config=config)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert has_line(result.output.splitlines(), str(first), str(second)), result.output

    listed = CliRunner().invoke(cli, ["workflow", "list"],
                                env={"CASEWORK_CONFIG": str(config),
                                     "CASEWORK_DATABASE_URL": None},
                                catch_exceptions=False)
    assert listed.exit_code == 1, listed.output
    assert "Traceback" not in listed.output
    assert first.name in listed.output and second.name in listed.output


def test_two_versions_of_one_route_in_a_folder_load_side_by_side(tmp_path: Path) -> None:
    write(tmp_path, VALID, "mini_v1.toml")
    write(tmp_path, VALID.replace("version = 1", "version = 2"), "mini_v2.toml")
    registry = Registry.from_dir(tmp_path)
    assert [(r.id, r.version) for r in registry] == [("mini", 1), ("mini", 2)]
    assert registry.get("mini").version == 2


def test_valid_timer_with_rounds_every_and_workdays_loads(tmp_path: Path) -> None:
    timer = ('tasks = [{ kind = "follow_up_call", after = "P3M", rounds = 2, every = "P2W", '
             'calendar = "workdays" }]')
    path = write(tmp_path, HEAD + STATES.replace('label = "Middle"',
                                                 'label = "Middle"\n' + timer) + GO + FINISH)
    route = load_route(path)
    (task,) = route.states["middle"].tasks
    assert task_dict(task) | {"kind": "follow_up_call", "after": "P3M", "rounds": 2,
                              "every": "P2W", "calendar": "workdays"} == task_dict(task)
    result = validate(str(path))
    assert result.exit_code == 0, result.output
    assert f"{path}: ok" in result.output
