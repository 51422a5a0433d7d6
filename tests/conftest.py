"""Fixtures: a fresh database per test, on SQLite always and on PostgreSQL when
CASEWORK_TEST_DATABASE_URL (or --database-url) names a server.

Each PostgreSQL test gets its own schema, dropped afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from casework.cli import cli

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / "workflows"
EXAMPLES = ROOT / "examples"
TEMPLATES = ROOT / "templates" / "letters"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database-url",
        default=os.environ.get("CASEWORK_TEST_DATABASE_URL"),
        help="Also run the database tests on this PostgreSQL URL.",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        backends = ["sqlite"]
        if metafunc.config.getoption("--database-url"):
            backends.append("postgresql")
        metafunc.parametrize("backend", backends, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh schema on the PostgreSQL server."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'casework.db'}"
        return
    from sqlalchemy import create_engine, text

    base = request.config.getoption("--database-url")
    if base.startswith("postgresql://"):
        base = "postgresql+psycopg://" + base[len("postgresql://"):]
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def write_config(folder: Path, database_url: str, extra: str = "") -> Path:
    """Write a config.toml using the project's workflows; return its path."""
    path = folder / "config.toml"
    path.write_text(
        f'[database]\nurl = "{database_url}"\n\n'
        f'[paths]\nworkflows = "{WORKFLOWS.as_posix()}"\n'
        f'templates = "{TEMPLATES.as_posix()}"\nlogs = "{(folder / "logs").as_posix()}"\n'
        f'\n[letters]\noutput_dir = "{(folder / "letters-out").as_posix()}"\n' + extra,
        encoding="utf-8",
    )
    return path


def add_anna(env: Env) -> None:
    """Anna, the first staff member, may do everything (admin, back office, coordinator of
    every project, case worker); tests of roles add people with less."""
    env.ok("staff", "add", "anna", "--role", "admin", "--role", "back_office",
           "--role", "coordinator", "--role", "case_worker")


# Staff the tests act as besides anna (tests add piet, sara, kees themselves, with one role).
COLLEAGUES = ("bert", "carla", "dirk", "erik", "bram", "coordinator1")


def add_people(env: Env, *names: str) -> None:
    """Colleagues of anna who may work on every case (not admins)."""
    for name in names:
        env.ok("staff", "add", name, "--role", "back_office", "--role", "coordinator",
               "--role", "case_worker")


@dataclass
class Env:
    """A configured casework installation in a temp folder, driven through the CLI."""

    root: Path
    config: Path
    database_url: str
    runner: CliRunner

    def run(self, *args: str, user: str | None = "anna", input: str | None = None,
            env: dict[str, str] | None = None) -> Result:
        variables: dict[str, str | None] = {
            "CASEWORK_CONFIG": str(self.config), "CASEWORK_DATABASE_URL": None,
            "CASEWORK_USER": user,
        }
        variables.update(env or {})
        return self.runner.invoke(cli, list(args), env=variables, input=input,
                                  catch_exceptions=False)

    def ok(self, *args: str, **kwargs: Any) -> Result:
        result = self.run(*args, **kwargs)
        assert result.exit_code == 0, result.output
        return result

    def json(self, *args: str, **kwargs: Any) -> Any:
        import json

        return json.loads(self.ok(*args, "--json", **kwargs).stdout)

    def engine(self, clock: Callable[[], Any] | None = None) -> Any:
        from casework.config import load_settings
        from casework.engine import Engine

        return Engine.from_config(load_settings(self.config), clock=clock)


def tamper(env: Env, *statements: Any) -> None:
    """Edit the database directly, the way someone with access to it could (audit tests)."""
    engine = env.engine()
    try:
        with engine.db.begin() as conn:
            for statement in statements:
                conn.execute(statement)
    finally:
        engine.db.dispose()


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> Iterator[Env]:
    """An initialised, empty casework database with the project's routes."""
    config = write_config(tmp_path, database_url)
    runner = CliRunner()
    environment = Env(tmp_path, config, database_url, runner)
    environment.ok("init")
    add_anna(environment)
    add_people(environment, *COLLEAGUES)
    yield environment
    from casework.db import make_engine

    make_engine(database_url).dispose()


@pytest.fixture
def cohort(env: Env) -> Env:
    """The environment with the 200-person sample cohort imported into kansen-in-kaart."""
    env.ok("cohort", "import", str(EXAMPLES / "cohort.csv"), "--workflow", "kansen-in-kaart")
    return env
