"""Every command explains itself, and the README names every command."""

from __future__ import annotations

import subprocess
import sys

import click
from click.testing import CliRunner
from conftest import ROOT

from casework.cli import cli


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        found.append(path)
        if isinstance(command, click.Group):
            found.extend(_commands(command, path))
    return found


def test_every_command_has_help_text() -> None:
    runner = CliRunner()
    for path in _commands(cli):
        result = runner.invoke(cli, [*path, "--help"], catch_exceptions=False)
        assert result.exit_code == 0, path
        command = cli
        for name in path:
            command = command.commands[name]  # type: ignore[attr-defined]
        assert command.help, f"casework {' '.join(path)} has no help text"


def test_readme_names_every_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in _commands(cli):
        assert path[-1] in readme, f"README does not mention casework {' '.join(path)}"


def test_help_runs_as_a_program_without_a_database(tmp_path: object) -> None:
    result = subprocess.run([sys.executable, "-m", "casework", "--help"], capture_output=True,
                            text=True, cwd=str(tmp_path), check=False)
    assert result.returncode == 0
    assert "cohort" in result.stdout and "case" in result.stdout
