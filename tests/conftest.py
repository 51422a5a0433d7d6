"""Fixtures: a fresh database per test, on SQLite always and on PostgreSQL when
CASEWORK_TEST_DATABASE_URL (or --database-url) names a server.

Each PostgreSQL test gets its own schema, dropped afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import gc
import os
import shutil
import sqlite3
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
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


class Clock:
    """A clock for ``Env.engine(clock=...)`` that only moves when a test moves it."""

    def __init__(self, now: Any) -> None:
        self.now = now

    def __call__(self) -> Any:
        return self.now

    def set(self, moment: Any) -> None:
        assert moment >= self.now, "the clock only moves forward"
        self.now = moment


def dated_today() -> str:
    """The date line of a letter rendered now: letters are dated the (local) day they are made."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from casework.letters import dutch_date

    return f"Datum {dutch_date(datetime.now(ZoneInfo('Europe/Amsterdam')).date())}"


def lift_exclusions(env: Env) -> Env:
    """Clear the exclusion marks the sample cohort's import set (social-team contact, recent
    guidance), for tests about something else that invite whichever cases they like by hand:
    a marked case is refused an invitation (tests/test_exclusion.py). The import's exclude
    events stay in the timelines; a wave asks the rules again, so planning still leaves those
    people out."""
    from sqlalchemy import update

    from casework.models import Case

    tamper(env, update(Case).values(excluded=None))
    return env


class Templates:
    """Databases built once per test session (initialised with the project's staff, and with
    the sample cohort imported) and copied for each test: a SQLite file copy, or on
    PostgreSQL a database created from a template database (a file copy in the server)."""

    def __init__(self, folder: Path, base_url: str | None) -> None:
        self.folder = folder
        self.base_url = base_url
        self.built: dict[tuple[str, str], str] = {}
        self.made: list[str] = []
        # PostgreSQL: one thread makes the next copy of each template while a test runs and
        # drops the copies tests are done with, so the server's work overlaps the tests.
        self.worker = ThreadPoolExecutor(max_workers=1)
        self.ready: dict[str, deque[Future[str]]] = {}
        self.pending: list[Future[Any]] = []
        self.admin_engine: Any = None

    def source(self, backend: str, kind: str) -> str:
        key = (backend, kind)
        if key not in self.built:
            self.built[key] = self._build(backend, kind)
        return self.built[key]

    def _build(self, backend: str, kind: str) -> str:
        folder = self.folder / f"{backend}-{kind}"
        folder.mkdir()
        if backend == "sqlite":
            url = f"sqlite:///{folder / 'casework.db'}"
        else:
            name = f"cw_tpl_{kind}_{uuid.uuid4().hex[:8]}"
            if kind == "env":
                self._admin(f'CREATE DATABASE "{name}"')
            self.made.append(name)
            url = self._url(name)
        environment = Env(folder, write_config(folder, url), url, CliRunner())
        if kind == "env":
            environment.ok("init")
            add_anna(environment)
            add_people(environment, *COLLEAGUES)
        else:
            self._copy(backend, self.source(backend, "env"), url)
            environment.ok("cohort", "import", str(EXAMPLES / "cohort.csv"), "--workflow",
                           "kansen-in-kaart")
        self._release(backend, url)
        return str(folder / "casework.db") if backend == "sqlite" else name

    def copy(self, backend: str, kind: str, tmp_path: Path) -> str:
        """Return the URL of a fresh copy of the template for one test."""
        source = self.source(backend, kind)
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path / 'casework.db'}"
            self._copy(backend, source, url)
            return url
        queue = self.ready.setdefault(kind, deque())
        if not queue:
            queue.append(self.worker.submit(self._new_copy, source))
        url = queue.popleft().result()
        queue.append(self.worker.submit(self._new_copy, source))
        return url

    def _new_copy(self, source: str) -> str:
        url = self._url(f"t_{uuid.uuid4().hex[:12]}")
        self._copy("postgresql", source, url)
        return url

    def _copy(self, backend: str, source: str, url: str) -> None:
        if backend == "sqlite":
            shutil.copy2(source, url[len("sqlite:///"):])
        else:
            from sqlalchemy.engine import make_url

            target = make_url(url).database
            self._admin(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')

    def drop(self, backend: str, url: str) -> None:
        if backend != "sqlite":
            from sqlalchemy.engine import make_url

            statement = f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'
            self.pending.append(self.worker.submit(self._admin, statement))

    def _release(self, backend: str, url: str) -> None:
        """Close every connection to the template so it can be copied whole."""
        gc.collect()
        if backend == "sqlite":
            with sqlite3.connect(url[len("sqlite:///"):]) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return
        from sqlalchemy.engine import make_url

        self._admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                    f"'{make_url(url).database}' AND pid <> pg_backend_pid()")

    def _url(self, database: str) -> str:
        from sqlalchemy.engine import make_url

        base = self.base_url or ""
        if base.startswith("postgresql://"):
            base = "postgresql+psycopg://" + base[len("postgresql://"):]
        # Test databases need not survive a server crash: commits do not wait for the disk.
        return (make_url(base).set(database=database)
                .update_query_dict({"options": "-csynchronous_commit=off"})
                .render_as_string(hide_password=False))

    def _admin(self, statement: str) -> None:
        from sqlalchemy import create_engine, text

        if self.admin_engine is None:
            self.admin_engine = create_engine(self._url(_base_database(self.base_url or "")),
                                              isolation_level="AUTOCOMMIT")
        with self.admin_engine.connect() as conn:
            conn.execute(text(statement))

    def close(self) -> None:
        for future in self.pending:
            future.result()
        for queue in self.ready.values():
            for future in queue:
                self.drop("postgresql", future.result())
        for future in self.pending:
            future.result()
        self.worker.shutdown()
        for name in self.made:
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if self.admin_engine is not None:
            self.admin_engine.dispose()


def _base_database(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url.replace("postgresql://", "postgresql+psycopg://", 1)).database or "test"


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory,
              request: pytest.FixtureRequest) -> Iterator[Templates]:
    made = Templates(tmp_path_factory.mktemp("templates"),
                     request.config.getoption("--database-url"))
    yield made
    made.close()


def _environment(kind: str, tmp_path: Path, backend: str,
                 templates: Templates) -> Iterator[Env]:
    url = templates.copy(backend, kind, tmp_path)
    environment = Env(tmp_path, write_config(tmp_path, url), url, CliRunner())
    yield environment
    templates.drop(backend, url)


@pytest.fixture
def env(tmp_path: Path, backend: str, templates: Templates) -> Iterator[Env]:
    """An initialised, empty casework database with the project's routes and staff (anna
    and her colleagues), copied from a template built once per session."""
    yield from _environment("env", tmp_path, backend, templates)


@pytest.fixture
def cohort(tmp_path: Path, backend: str, templates: Templates) -> Iterator[Env]:
    """The environment with the 200-person sample cohort imported into kansen-in-kaart
    (imported once per session, when the template was built)."""
    yield from _environment("cohort", tmp_path, backend, templates)
