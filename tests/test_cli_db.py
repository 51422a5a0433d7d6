"""casework init, casework db upgrade|current, and the schema the migration creates;
on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import WORKFLOWS, Env, write_config
from helpers import clean_failure

from casework.cli import cli
from casework.db import head_revision, make_engine


@pytest.fixture
def blank(tmp_path: Path, database_url: str) -> Iterator[Env]:
    """A configured installation whose database is still empty (no 'casework init')."""
    config = write_config(tmp_path, database_url)
    yield Env(tmp_path, config, database_url, CliRunner())
    make_engine(database_url).dispose()


def test_init_on_empty_database_creates_it_and_says_so(blank: Env) -> None:
    result = blank.ok("init")
    assert "Created database" in result.output
    assert head_revision() in result.output
    assert re.search(r"schema:\s+" + head_revision(), blank.ok("db", "current").output)


def test_init_again_says_already_initialised(env: Env) -> None:
    result = env.ok("init")
    assert "already initialised" in result.output
    assert "Created" not in result.output


def test_db_current_shows_the_newest_revision(env: Env) -> None:
    output = env.ok("db", "current").output
    assert re.search(r"schema:\s+" + head_revision(), output), output
    assert re.search(r"needed:\s+" + head_revision(), output), output


def test_db_current_on_empty_database_says_to_run_init(blank: Env) -> None:
    output = blank.ok("db", "current").output
    assert "empty" in output
    assert "casework init" in output


def test_case_list_on_uninitialised_database_says_to_run_init(blank: Env) -> None:
    result = blank.run("case", "list")
    clean_failure(result, "not initialised", "casework init")


def test_cohort_import_on_uninitialised_database_says_to_run_init(blank: Env) -> None:
    cohort = WORKFLOWS.parent / "examples" / "cohort.csv"
    result = blank.run("cohort", "import", str(cohort), "--workflow", "kansen-in-kaart")
    clean_failure(result, "casework init")


def test_db_upgrade_on_empty_database_says_to_run_init(blank: Env) -> None:
    result = blank.run("db", "upgrade")
    clean_failure(result, "casework init")
    # and it did not quietly create the schema
    assert "empty" in blank.ok("db", "current").output


def test_db_upgrade_on_current_database_says_up_to_date(env: Env) -> None:
    result = env.ok("db", "upgrade")
    assert "up to date" in result.output
    assert head_revision() in result.output


def test_migration_creates_exactly_the_schema_of_the_models(env: Env) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from casework.models import Base
    from casework.name_index import of_the_models

    engine = make_engine(env.database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_object": of_the_models})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_sqlite_engine_connections_use_wal_and_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'casework.db'}"
    config = write_config(tmp_path, url)
    result = CliRunner().invoke(cli, ["init"], env={"CASEWORK_CONFIG": str(config),
                                                    "CASEWORK_DATABASE_URL": None},
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            # The log is copied into the file less often than SQLite's default (1,000 pages).
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 10_000
    finally:
        engine.dispose()


def test_sqlite_database_is_left_in_wal_mode_by_init(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "casework.db"
    config = write_config(tmp_path, f"sqlite:///{path}")
    result = CliRunner().invoke(cli, ["init"], env={"CASEWORK_CONFIG": str(config),
                                                    "CASEWORK_DATABASE_URL": None},
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    plain = sqlite3.connect(path)
    try:
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        plain.close()


def test_sqlite_database_in_missing_folder_gives_clear_message(tmp_path: Path) -> None:
    folder = tmp_path / "no" / "such" / "folder"
    config = write_config(tmp_path, f"sqlite:///{folder / 'casework.db'}")
    result = CliRunner().invoke(cli, ["init"], env={"CASEWORK_CONFIG": str(config),
                                                    "CASEWORK_DATABASE_URL": None},
                                catch_exceptions=False)
    clean_failure(result, str(folder), "does not exist")
    assert not folder.exists()


def test_init_refuses_database_with_foreign_tables_of_the_same_name(blank: Env) -> None:
    from sqlalchemy import text

    engine = make_engine(blank.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE cases (id INTEGER PRIMARY KEY)"))
    finally:
        engine.dispose()
    result = blank.run("init")
    clean_failure(result, "casework init")


def test_the_schema_commands_need_is_the_newest_migration_alembic_knows() -> None:
    from alembic.script import ScriptDirectory

    from casework.db import MIGRATIONS

    assert head_revision() == ScriptDirectory(str(MIGRATIONS)).get_current_head()
