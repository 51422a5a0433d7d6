"""What a command imports: an everyday command (a listing, a case file, a dry run) loads
neither the letters' machinery (Jinja2, Typst, pypdf), nor charts (matplotlib), the web front
(Flask), migrations (Alembic), the scheduler, python-stdnum (it imports pydoc) or SQLAlchemy's
ORM (babel comes in for a report's numbers: Dutch numbers are its job); and ``casework
--help`` not even SQLAlchemy or rich. Each command runs in a fresh process, as a user starts it
(README "Start-up"; bench/bench_startup.py times them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Env

# Packages (and SQLAlchemy's parts) that no everyday command needs.
HEAVY = ("alembic", "apscheduler", "argon2", "authlib", "flask", "holidays", "jinja2",
         "matplotlib", "numpy", "pydoc", "pypdf", "requests", "sqlalchemy.ext", "sqlalchemy.orm",
         "stdnum", "transitions", "typst", "waitress", "werkzeug")

EVERYDAY = (
    ("case", "list"),
    ("case", "show", "1"),
    ("task", "list"),
    ("daily", "--status"),
    ("report", "outcomes"),
    ("letters", "list"),
)


def imported(env: Env, *args: str) -> set[str]:
    """Run casework with args in a fresh process; return the modules it imported."""
    variables = {k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")}
    variables.update(CASEWORK_CONFIG=str(env.config), CASEWORK_USER="anna")
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "casework", *args],
                            cwd=env.root, env=variables, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines()
            if line.startswith("import time:") and "self [us]" not in line}


def heavy(modules: set[str]) -> list[str]:
    return sorted(name for name in modules
                  if any(name == top or name.startswith(top + ".") for top in HEAVY))


@pytest.mark.long
def test_everyday_commands_import_only_what_they_use(cohort: Env, tmp_path: Path) -> None:
    apply = tmp_path / "apply.csv"
    apply.write_text("case,trigger,appointment\n3,invite,2099-01-05 10:00\n", encoding="utf-8")
    for args in (*EVERYDAY, ("case", "apply", "--dry-run", str(apply))):
        modules = imported(cohort, *args)
        assert "casework.engine" in modules, args  # the check sees what the command ran
        assert heavy(modules) == [], args
        assert "casework.letters" not in modules or args[0] == "letters", args


def test_help_imports_no_database_or_table_code(env: Env) -> None:
    modules = imported(env, "--help")
    assert not {name for name in modules if name.split(".")[0] in ("sqlalchemy", "rich")}
    assert heavy(modules) == []
