"""casework workflow list|show|diagram|validate against the shipped routes."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import WORKFLOWS, write_config

from casework.cli import cli

# The triggers of the Kansen in Kaart route as the README names them.
README_TRIGGERS = [
    "invite", "reschedule", "not_home", "hold_conversation", "refer", "self_action",
    "start_activity", "follow_up", "record_outflow", "decline", "close",
]
STATES = ["selected", "invited", "spoken", "referred", "active", "follow_up", "closed"]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A config using the project's workflows folder (the database is never touched)."""
    return write_config(tmp_path, f"sqlite:///{tmp_path / 'casework.db'}")


def run(config: Path, *args: str) -> Result:
    # COLUMNS=80: what a standard terminal shows, and what rich uses when output is piped.
    env: dict[str, str | None] = {"CASEWORK_CONFIG": str(config), "CASEWORK_DATABASE_URL": None,
                                  "COLUMNS": "80"}
    return CliRunner().invoke(cli, ["workflow", *args], env=env, catch_exceptions=False)


def ok(config: Path, *args: str) -> Result:
    result = run(config, *args)
    assert result.exit_code == 0, result.output
    return result


def test_workflow_list_json_gives_each_route_with_stable_keys(config: Path) -> None:
    routes = json.loads(ok(config, "list", "--json").stdout)
    assert routes == [
        {"id": "dienstencentrum", "version": 3, "label": "Activering in het dienstencentrum",
         "file": "dienstencentrum.toml", "states": 5, "triggers": 6},
        {"id": "kansen-in-kaart", "version": 6, "label": "Kansen in Kaart",
         "file": "kansen_in_kaart.toml", "states": 7, "triggers": 11},
        {"id": "meedoen-werkt", "version": 3, "label": "Meedoen Werkt!",
         "file": "meedoen_werkt.toml", "states": 11, "triggers": 13},
        {"id": "participatiecoach", "version": 2, "label": "Participatiecoach",
         "file": "participatiecoach.toml", "states": 6, "triggers": 7},
    ]


def test_workflow_list_shows_the_route_id_in_full(config: Path) -> None:
    output = ok(config, "list").stdout
    assert "kansen-in-kaart" in output
    assert "Kansen in Kaart" in output


def test_workflow_list_does_not_touch_the_database(config: Path, tmp_path: Path) -> None:
    ok(config, "list")
    assert not (tmp_path / "casework.db").exists()


def test_workflow_list_with_missing_folder_names_the_folder(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'casework.db'}")
    missing = tmp_path / "no_routes"
    config.write_text(config.read_text(encoding="utf-8")
                      .replace(WORKFLOWS.as_posix(), missing.as_posix()), encoding="utf-8")
    result = run(config, "list")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert str(missing) in result.output


def test_workflow_show_lists_every_trigger_named_in_the_readme(config: Path) -> None:
    output = ok(config, "show", "kansen-in-kaart").stdout
    for trigger in README_TRIGGERS:
        assert trigger in output, f"{trigger} missing from:\n{output}"
    for state in STATES:
        assert state in output


def test_readme_names_every_trigger_of_the_route() -> None:
    doc = tomllib.loads((WORKFLOWS / "kansen_in_kaart.toml").read_text(encoding="utf-8"))
    assert sorted({t["trigger"] for t in doc["transitions"]}) == sorted(README_TRIGGERS)


def test_workflow_show_json_has_states_transitions_and_fields(config: Path) -> None:
    data = json.loads(ok(config, "show", "kansen-in-kaart", "--json").stdout)
    assert data["id"] == "kansen-in-kaart"
    assert data["version"] == 6
    assert data["initial"] == "selected"
    assert [s["name"] for s in data["states"]] == STATES
    assert [s["name"] for s in data["states"] if s["final"]] == ["closed"]
    assert {t["trigger"] for t in data["transitions"]} == set(README_TRIGGERS)
    invite = next(t for t in data["transitions"] if t["trigger"] == "invite")
    assert (invite["source"], invite["dest"]) == ("selected", "invited")
    assert invite["needs"] == ["appointment"]
    not_home = next(t for t in data["transitions"] if t["trigger"] == "not_home")
    assert not_home["max"] == 3
    assert set(not_home["then"]) == {"close", "decline"}
    assert {"appointment", "classification", "partner", "activity", "reason"} <= set(
        data["fields"])
    assert data["fields"]["partner"]["type"] == "choice"
    assert "wij_team" in data["fields"]["partner"]["choices"]


def test_workflow_show_unknown_id_lists_known_ids(config: Path) -> None:
    result = run(config, "show", "nope")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "nope" in result.output
    assert "kansen-in-kaart" in result.output


def test_workflow_show_unknown_version_names_id_and_version(config: Path) -> None:
    result = run(config, "show", "kansen-in-kaart", "--version", "9")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "kansen-in-kaart" in result.output
    assert "9" in result.output


def test_workflow_diagram_prints_mermaid(config: Path) -> None:
    output = ok(config, "diagram", "kansen-in-kaart").stdout
    assert "stateDiagram-v2" in output
    assert "selected --> invited: invite" in output
    assert "[*] --> selected" in output


def test_workflow_diagram_unknown_id_is_a_clear_error(config: Path) -> None:
    result = run(config, "diagram", "nope")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "nope" in result.output
    assert "kansen-in-kaart" in result.output


def test_workflow_validate_without_file_validates_the_folder(config: Path) -> None:
    output = ok(config, "validate").stdout
    for path in sorted(WORKFLOWS.glob("*.toml")):
        assert f"{path}: ok" in output


def test_workflow_validate_without_file_reports_the_broken_file(tmp_path: Path) -> None:
    folder = tmp_path / "routes"
    folder.mkdir()
    good = folder / "kansen_in_kaart.toml"
    good.write_text((WORKFLOWS / "kansen_in_kaart.toml").read_text(encoding="utf-8"),
                    encoding="utf-8")
    broken = folder / "broken.toml"
    broken.write_text('[workflow]\nid = "broken"\nversion = 1\ninitial = "start"\n',
                      encoding="utf-8")
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'casework.db'}")
    config.write_text(config.read_text(encoding="utf-8")
                      .replace(WORKFLOWS.as_posix(), folder.as_posix()), encoding="utf-8")
    result = run(config, "validate")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert str(broken) in result.output
    assert str(good) not in result.output
