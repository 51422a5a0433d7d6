"""What a command imports: an everyday command (a listing, a case file, a dry run) loads
neither the letters' machinery (Jinja2, Typst, pypdf), nor charts (matplotlib), the web front
(Flask), migrations (Alembic), the scheduler, python-stdnum (it imports pydoc) or SQLAlchemy's
ORM (babel comes in for a report's numbers: Dutch numbers are its job), nor, when it only
reads, the effects of a step; it takes the route and config files already parsed from the
cache (no tomllib); and ``casework --help`` not even SQLAlchemy or rich. Each command runs in
a fresh process, as a user starts it (README "Start-up"; bench/bench_startup.py times them)."""

from __future__ import annotations

import gc
import json
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


# Run as the console script does (casework.cli.main), then say what the process made: the
# tables, and the garbage collector's thresholds while the command's own work ran.
AFTER = """
import atexit, gc, json, sys
def said():
    from casework.models import _METADATA
    print(json.dumps({"tables": sorted(_METADATA.tables), "gc": gc.get_threshold()}),
          file=sys.stderr)
atexit.register(said)
sys.argv[0] = "casework"
from casework.cli import main
main()
"""


def made(env: Env, *args: str) -> dict[str, object]:
    """Run casework with args in a fresh process; return the tables it made and the garbage
    collector's thresholds at its end."""
    variables = {k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")}
    variables.update(CASEWORK_CONFIG=str(env.config), CASEWORK_USER="anna")
    result = subprocess.run([sys.executable, "-c", AFTER, *args], cwd=env.root, env=variables,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    said: dict[str, object] = json.loads(result.stderr.strip().splitlines()[-1])
    return said


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
        # A step's effects and their writer (and the tables only they name) are for commands
        # that change cases: a listing or a case file does without them.
        writing = args[:2] == ("case", "apply")
        assert writing or not {"casework.effects", "casework.steps"} & modules, args


def test_a_script_applying_a_file_imports_no_progress_bar(cohort: Env, tmp_path: Path) -> None:
    """The progress bar is drawn on a terminal only: a script's apply (output to a file or a
    pipe, as here) or one with --json does without rich's console and progress bar, which
    were most of its start-up beyond SQLAlchemy's."""
    apply = tmp_path / "apply.csv"
    apply.write_text("case,trigger,appointment\n3,invite,2099-01-05 10:00\n", encoding="utf-8")
    for args in (("case", "apply", "--dry-run", str(apply)),
                 ("case", "apply", "--dry-run", "--json", str(apply))):
        modules = imported(cohort, *args)
        assert "casework.bulk" in modules, args
        assert not {name for name in modules if name.split(".")[0] == "rich"}, args


def test_a_command_takes_parsed_route_and_config_files_from_the_cache(env: Env) -> None:
    """The route and config files a command parsed are kept (casework.tomlcache): the next
    command reads them back without tomllib."""
    imported(env, "task", "list")
    assert "tomllib" not in imported(env, "task", "list")


def test_help_imports_no_database_or_table_code(env: Env) -> None:
    modules = imported(env, "--help")
    assert not {name for name in modules if name.split(".")[0] in ("sqlalchemy", "rich")}
    assert heavy(modules) == []


@pytest.mark.long
def test_everyday_commands_make_only_the_tables_they_use(cohort: Env) -> None:
    """SQLAlchemy's Table is made when a command first uses it (casework.models), so a case
    file does not pay for the budgets, the waves or the mail-house batches; the command's
    own work runs with the garbage collector's usual thresholds (a larger young generation
    is only for start-up, casework.cli.main); and the database connections are closed at
    exit although the collector leaves the process's objects alone then."""
    unused = {"applied_lines", "batches", "budgets", "seals", "spendings", "waves"}
    for args in (("case", "show", "1"), ("case", "list"), ("task", "list")):
        said = made(cohort, *args)
        tables = set(said["tables"])  # type: ignore[call-overload]
        assert {"cases", "participants"} <= tables, args
        assert not tables & unused, args
        assert said["gc"] == list(gc.get_threshold()), args
        if args == ("case", "list"):  # nor, for a listing, the tables only a step's effects name
            assert not tables & {"appointments", "consents", "events", "letters", "matches",
                                 "meeting_attendance", "referrals", "tasks"}, tables
    if cohort.database_url.startswith("sqlite:///"):
        # The connections were closed at exit (casework.cli.main), not left to the garbage
        # collector: SQLite folded its write-ahead log into the file and removed it.
        assert not Path(cohort.database_url.removeprefix("sqlite:///") + "-wal").exists()


def test_the_schema_is_whole_when_asked_for() -> None:
    """Base.metadata (DDL, migrations, autogenerate) has every table, made on the spot."""
    code = ("from casework.models import Base, _METADATA, Case\n"
            "before = len(_METADATA.tables)\n"
            "Case.state\n"
            "print(before, len(_METADATA.tables), len(Base.metadata.tables),"
            " sorted(Base.metadata.tables) == sorted(c.__tablename__"
            " for c in Base.__subclasses__()))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)
    before, one, every, same = result.stdout.split()
    assert (before, one, same) == ("0", "1", "True")
    assert int(every) > 20


def test_start_up_is_frozen_once_the_engine_is_made(env: Env) -> None:
    """In a process main() started (the start-up threshold set), the objects start-up made are
    frozen once the engine is made, so the command's collections leave them out; a command run
    inside another program (a test's CliRunner) leaves that program's objects alone."""
    from casework.cli.common import STARTUP_GC_THRESHOLD, CliState

    default = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    engines = [CliState(config_path=str(env.config)).engine()]
    assert gc.get_freeze_count() == 0
    try:
        gc.set_threshold(STARTUP_GC_THRESHOLD)
        engines.append(CliState(config_path=str(env.config)).engine())
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == default
    finally:
        gc.unfreeze()
        gc.set_threshold(*default)
        for engine in engines:
            engine.db.dispose()
