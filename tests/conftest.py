"""Fixtures: a fresh database per test, on SQLite always and on PostgreSQL when
CASEWORK_TEST_DATABASE_URL (or --database-url) names a server.

Each PostgreSQL test gets its own schema, dropped afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import atexit
import functools
import gc
import os
import re
import shutil
import sqlite3
import tempfile
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner, Result

from casework.cli import cli

if TYPE_CHECKING:
    from identity_provider import FakeProvider

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / "workflows"
EXAMPLES = ROOT / "examples"
TEMPLATES = ROOT / "templates" / "letters"

# Commands keep parsed route and config files in the user's cache folder (casework.tomlcache);
# the suite keeps its own (one per worker), so it neither reads nor fills the developer's.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="casework-tests-cache-")
atexit.register(shutil.rmtree, os.environ["XDG_CACHE_HOME"], True)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database-url",
        default=os.environ.get("CASEWORK_TEST_DATABASE_URL"),
        help="Also run the database tests on this PostgreSQL URL.",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each database test on SQLite and, given a server, on PostgreSQL; a test about one
    of them (``pytest.mark.backends("postgresql")``) only there, never as a skipped test on
    the other (without the server: one skip naming the variable)."""
    if "backend" in metafunc.fixturenames:
        backends: list[Any] = ["sqlite"]
        if metafunc.config.getoption("--database-url"):
            backends.append("postgresql")
        only = metafunc.definition.get_closest_marker("backends")
        if only is not None:
            backends = [b for b in backends if b in only.args] or [pytest.param(
                name, marks=pytest.mark.skip(reason=f"a test of {name} only: set "
                                                    "CASEWORK_TEST_DATABASE_URL"))
                for name in only.args]
        metafunc.parametrize("backend", backends, indirect=True)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long tests (``pytest.mark.long``: a season, killed daily runs, a browser) first, so
    that with pytest-xdist the run does not end on one worker still playing a season while
    the other has nothing left to do. The order is otherwise the files' (a stable sort); the
    shared-fixture groups (``xdist_group``) are sent first by the scheduler anyway.

    pytest-xdist 3.8 puts a test in its group by appending ``@group`` to ``item._nodeid``,
    which pytest 9.2 no longer reads (the id is ``item._id``): every group was split over the
    workers and its module fixture built on each (the played season twice). Until xdist
    does it again, the group is added here when xdist's own change did not take."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        groups = {str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                  for mark in item.iter_markers("xdist_group")}
        if groups and not item.nodeid.endswith("@" + "_".join(sorted(groups))):
            try:  # pytest's private id class: a pytest without it keeps xdist's own renaming
                from _pytest.nodeid import NodeId
            except ImportError:
                return
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(sorted(groups))}")  # type: ignore[attr-defined]


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
    # As the template copies: a test database need not survive a server crash.
    yield f"{base}{sep}options=-csearch_path%3D{schema}%20-csynchronous_commit%3Doff"
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
    """A configured casework installation in a temp folder, driven through the CLI.

    Its commands share one SQLAlchemy engine per database URL (see ``one_engine_per_url``);
    a copy of a PostgreSQL template shares it with the later tests given the same schema
    (``kept``, see ``Templates``)."""

    root: Path
    config: Path
    database_url: str
    runner: CliRunner
    engines: dict[str, Any] = field(default_factory=dict)
    kept: dict[str, Any] | None = None

    def run(self, *args: str, user: str | None = "anna", input: str | None = None,
            env: dict[str, str] | None = None) -> Result:
        variables: dict[str, str | None] = {
            "CASEWORK_CONFIG": str(self.config), "CASEWORK_DATABASE_URL": None,
            "CASEWORK_USER": user,
        }
        variables.update(env or {})
        if self.kept is not None and self.database_url not in self.engines:
            kept = self.kept.get(self.database_url)
            if kept is not None:
                self.engines[self.database_url] = kept
        with one_engine_per_url(self.engines):
            return self.runner.invoke(cli, list(args), env=variables, input=input,
                                      catch_exceptions=False)

    def close(self) -> None:
        """Close the connections the commands left open, but those of an engine kept for
        the next test on the same schema."""
        for url, engine in self.engines.items():
            if self.kept is not None and url == self.database_url:
                self.kept[url] = engine
            else:
                engine.dispose()
        self.engines.clear()

    def ok(self, *args: str, **kwargs: Any) -> Result:
        result = self.run(*args, **kwargs)
        assert result.exit_code == 0, result.output
        return result

    def json(self, *args: str, **kwargs: Any) -> Any:
        import json

        return json.loads(self.ok(*args, "--json", **kwargs).stdout)

    @contextmanager
    def direct(self) -> Iterator[Any]:
        """A SQLAlchemy engine on the test's database, to read or edit it directly (not
        through casework): on a PostgreSQL template copy the commands' own, kept with the
        schema, else one whose connections are closed afterwards."""
        import casework.db

        if self.kept is None:
            engine = casework.db.make_engine(self.database_url)
            try:
                yield engine
            finally:
                engine.dispose()
            return
        engine = self.engines.get(self.database_url) or self.kept.get(self.database_url)
        if engine is None:
            engine = casework.db.make_engine(self.database_url)
        self.engines[self.database_url] = engine
        yield engine

    def engine(self, clock: Callable[[], Any] | None = None) -> Any:
        from casework.config import load_settings
        from casework.engine import Engine

        return Engine.from_config(load_settings(self.config), clock=clock)


@contextmanager
def one_engine_per_url(engines: dict[str, Any]) -> Iterator[None]:
    """While a command runs, ``casework.db.make_engine`` hands out the engine an earlier
    command of the same test made for that URL, with its compiled statements: a process runs
    one command, a test dozens, and compiling every statement anew for each was a quarter of
    the CPU of a test driven through the CLI (on PostgreSQL each also opened a connection).
    Everything else (settings, routes, rules, the casework Engine) is still read anew per
    command. A SQLite engine closes its connections after each command, so the database file
    is left as a finished command leaves it."""
    import casework.db
    import casework.engine

    made = casework.db.make_engine

    def make_engine(url: str) -> Any:
        if url not in engines:
            engines[url] = made(url)
        return engines[url]

    casework.db.make_engine = casework.engine.make_engine = make_engine  # type: ignore[assignment]
    try:
        yield
    finally:
        casework.db.make_engine = casework.engine.make_engine = made  # type: ignore[assignment]
        for engine in engines.values():
            if engine.dialect.name == "sqlite":
                engine.dispose()


def tamper(env: Env, *statements: Any) -> None:
    """Edit the database directly, the way someone with access to it could (audit tests)."""
    with env.direct() as db, db.begin() as conn:
        for statement in statements:
            conn.execute(statement)


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
    the sample cohort imported) and copied for each test: on SQLite a file copy, on
    PostgreSQL a schema of the server's test database, filled from the template's schema.

    PostgreSQL copies are schemas rather than databases: a ``DROP DATABASE`` forces a server
    checkpoint (a second or more on a busy machine, once per test), a ``DROP SCHEMA`` does not.
    The copy's tables come from the template's own definition (``pg_dump --schema-only``,
    read once per template), its rows and sequence positions from the template's tables.

    A schema a test is done with is not dropped but kept for a later test, its rows replaced
    by a template's (``DELETE`` and ``INSERT ... SELECT``, sequences set back): making the
    two dozen tables, their indexes and constraints and dropping them again was most of the
    server's work for a test (a third of a second on a loaded machine, each way). Only a
    schema whose tables are still the template's is kept: one a test changed (``db
    downgrade``, a column added) is dropped, as before.

    The templates and copies are schemas of the database the URL names, each session's with
    names of its own, dropped when the session ends: a database of the session's own, dropped
    at its end, cost each worker a checkpoint of the whole server as it finished (ten seconds
    and more at the end of a run on a loaded machine)."""

    def __init__(self, folder: Path, base_url: str | None) -> None:
        self.folder = folder
        self.base_url = base_url
        self.built: dict[tuple[str, str], str] = {}
        self.scripts: dict[str, str] = {}
        # PostgreSQL: per template schema, the SQL that puts its rows into a kept schema, and
        # the shape of its tables (see _shape); the schemas tests are done with, by shape.
        self.refills: dict[str, str] = {}
        self.shapes: dict[str, str] = {}
        self.spare: dict[str, list[str]] = {}
        # The engines of the tests' commands by copy URL, kept with the schema: a new one per
        # test opened a connection (a server process that reads the catalog anew) and ran the
        # dialect's first queries, as much server work as the test's own statements.
        self.engines: dict[str, Any] = {}
        self.database = _base_database(base_url) if base_url else ""  # PostgreSQL only
        self.made: set[str] = set()  # PostgreSQL: the schemas to drop when the session ends
        self.admin_engine: Any = None
        # PostgreSQL: one thread makes the next copy of each template while a test runs and
        # drops the copies tests are done with, so the server's work overlaps the tests.
        self.worker = ThreadPoolExecutor(max_workers=1)
        self.ready: dict[str, deque[Future[str]]] = {}
        self.pending: list[Future[Any]] = []

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
            schema = f"tpl_{kind}_{uuid.uuid4().hex[:8]}"
            self.made.add(schema)
            if kind == "env":
                self._admin(f'CREATE SCHEMA "{schema}"')
            url = self._url(schema)
        environment = Env(folder, write_config(folder, url), url, CliRunner())
        if kind == "env":
            environment.ok("init")
            add_anna(environment)
            add_people(environment, *COLLEAGUES)
        else:
            self._copy(backend, self.source(backend, "env"), url)
            environment.ok("cohort", "import", str(EXAMPLES / "cohort.csv"), "--workflow",
                           "kansen-in-kaart")
        environment.close()
        gc.collect()  # engines the core made in the commands: close their connections
        if backend == "sqlite":
            with sqlite3.connect(folder / "casework.db") as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return str(folder / "casework.db")
        self.scripts[schema] = self._copy_script(schema)
        self.refills[schema] = self._refill_script(schema)
        self.shapes[schema] = self._shape(schema)
        return schema

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
        kept = self.spare.get(self.shapes[source])
        if kept:
            schema = kept.pop()
            self._admin(self.refills[source].replace(_TARGET, schema))
            return self._url(schema)
        schema = f"t_{uuid.uuid4().hex[:12]}"
        self.made.add(schema)
        url = self._url(schema)
        self._copy("postgresql", source, url)
        return url

    def _release(self, schema: str) -> None:
        """Keep a schema a test is done with for the next copy, or drop it when the test
        changed its tables (runs on the worker thread, as the copies do)."""
        shape = self._shape(schema)
        if shape in self.shapes.values():
            self.spare.setdefault(shape, []).append(schema)
        else:
            engine = self.engines.pop(self._url(schema), None)
            if engine is not None:
                engine.dispose()
            self._admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            self.made.discard(schema)

    def _copy(self, backend: str, source: str, url: str) -> None:
        if backend == "sqlite":
            shutil.copy2(source, url[len("sqlite:///"):])
        else:
            self._admin(self.scripts[source].replace(_TARGET, _schema_of(url)))

    def _copy_script(self, schema: str) -> str:
        """The SQL that makes a copy of a template schema, with _TARGET for the copy's name:
        the tables and sequences, their rows and positions, then indexes and constraints."""
        import subprocess

        from sqlalchemy.engine import make_url

        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            pytest.fail("the PostgreSQL tests need pg_dump (Debian: postgresql-client) to copy "
                        "the template databases", pytrace=False)
        url = make_url(self._url(schema))
        environment = dict(os.environ, PGPASSWORD=url.password or "")
        command = [pg_dump, "--schema-only", "--no-owner", "--no-privileges", "-n", schema,
                   "-h", url.host or "localhost", "-p", str(url.port or 5432),
                   "-U", url.username or "postgres", self.database]

        def section(name: str) -> str:
            dumped = subprocess.run([*command, f"--section={name}"], env=environment,
                                    check=True, capture_output=True, text=True).stdout
            lines = [line for line in dumped.splitlines()
                     if not line.startswith(("SET ", "SELECT pg_catalog.set_config", "--", "\\"))]
            return re.sub(rf'\b{schema}\b', _TARGET, "\n".join(lines))

        from sqlalchemy import text

        with self._engine().connect() as conn:
            tables = conn.execute(text(
                "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = :schema AND c.relkind IN ('r', 'S')"
                " ORDER BY c.relname"), {"schema": schema}).all()
        rows = [f'INSERT INTO "{_TARGET}"."{name}" SELECT * FROM "{schema}"."{name}";'
                for name, kind in tables if kind == "r"]
        positions = [f"SELECT setval('\"{_TARGET}\".\"{name}\"', last_value, is_called) "
                     f'FROM "{schema}"."{name}";' for name, kind in tables if kind == "S"]
        return "\n".join([section("pre-data"), *rows, *positions, section("post-data")])

    def _refill_script(self, schema: str) -> str:
        """The SQL that gives a kept schema (_TARGET) the template's rows and sequence
        positions: every row deleted, children before the rows they refer to, and the
        template's inserted, parents first (the constraints are in place, unlike in a copy)."""
        from sqlalchemy import text

        with self._engine().connect() as conn:
            tables = conn.execute(text(
                "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = :schema AND c.relkind IN ('r', 'S')"
                " ORDER BY c.relname"), {"schema": schema}).all()
            references = conn.execute(text(
                "SELECT child.relname, parent.relname FROM pg_constraint k "
                "JOIN pg_class child ON child.oid = k.conrelid "
                "JOIN pg_class parent ON parent.oid = k.confrelid "
                "JOIN pg_namespace n ON n.oid = k.connamespace "
                "WHERE n.nspname = :schema AND k.contype = 'f'"), {"schema": schema}).all()
        parents: dict[str, set[str]] = {name: set() for name, kind in tables if kind == "r"}
        for child, parent in references:
            if child != parent:  # a table's rows referring to each other go in one statement
                parents[child].add(parent)
        order: list[str] = []
        while parents:
            free = sorted(name for name, needs in parents.items() if not needs - set(order))
            assert free, f"the tables of {schema} refer to each other in a circle"
            order.extend(free)
            for name in free:
                del parents[name]
        deletes = [f'DELETE FROM "{_TARGET}"."{name}";' for name in reversed(order)]
        rows = [f'INSERT INTO "{_TARGET}"."{name}" SELECT * FROM "{schema}"."{name}";'
                for name in order]
        positions = [f"SELECT setval('\"{_TARGET}\".\"{name}\"', last_value, is_called) "
                     f'FROM "{schema}"."{name}";' for name, kind in tables if kind == "S"]
        return "\n".join(["BEGIN;", *deletes, *rows, *positions, "COMMIT;"])

    def _shape(self, schema: str) -> str:
        """A digest of the definition of a schema's tables, sequences, indexes, constraints,
        defaults, types and functions, with the schema's name left out: equal for a template
        and a copy a test did not change."""
        from sqlalchemy import text

        with self._engine().connect() as conn:
            return str(conn.execute(text(_SHAPE), {"schema": schema}).scalar())

    def drop(self, backend: str, url: str) -> None:
        if backend != "sqlite":
            self.pending.append(self.worker.submit(self._release, _schema_of(url)))

    def _url(self, schema: str) -> str:
        from sqlalchemy.engine import make_url

        base = self.base_url or ""
        if base.startswith("postgresql://"):
            base = "postgresql+psycopg://" + base[len("postgresql://"):]
        # Test databases need not survive a server crash: commits do not wait for the disk.
        return (make_url(base).set(database=self.database)
                .update_query_dict({"options": f"-csearch_path={schema} "
                                               "-csynchronous_commit=off"})
                .render_as_string(hide_password=False))

    def _engine(self) -> Any:
        from sqlalchemy import create_engine

        if self.admin_engine is None:
            self.admin_engine = create_engine(self._url("public"), isolation_level="AUTOCOMMIT")
        return self.admin_engine

    def _admin(self, statement: str) -> None:
        """Run SQL (one statement or a script) on the test database."""
        with self._engine().connect() as conn:
            conn.exec_driver_sql(statement)

    def close(self) -> None:
        for future in self.pending:
            future.result()
        for queue in self.ready.values():
            for future in queue:
                future.result()
        self.worker.shutdown()
        for engine in self.engines.values():
            engine.dispose()
        if self.made:
            self._admin("DROP SCHEMA IF EXISTS "
                        + ", ".join(f'"{schema}"' for schema in sorted(self.made)) + " CASCADE")
        if self.admin_engine is not None:
            self.admin_engine.dispose()


_TARGET = "@copy@"  # stands for the copy's schema in a template's copy script

# The definition of everything in a schema (see Templates._shape); catalog text that names
# the schema (an index's table, a constraint's referenced table) has the name replaced.
_SHAPE = """
WITH s AS (SELECT oid, nspname FROM pg_namespace WHERE nspname = :schema), parts AS (
  SELECT concat_ws(' ', 'r', c.relname, c.relkind, c.relpersistence, c.relrowsecurity,
                   c.relacl) AS part
    FROM pg_class c JOIN s ON c.relnamespace = s.oid
  UNION ALL
  SELECT concat_ws(' ', 'a', c.relname, a.attnum, a.attname,
                   format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attisdropped,
                   a.attidentity, a.attgenerated, pg_get_expr(d.adbin, d.adrelid))
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN s ON c.relnamespace = s.oid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attnum > 0
  UNION ALL
  SELECT concat_ws(' ', 'k', c.relname, k.conname, pg_get_constraintdef(k.oid))
    FROM pg_constraint k JOIN s ON k.connamespace = s.oid
    LEFT JOIN pg_class c ON c.oid = k.conrelid
  UNION ALL
  SELECT concat_ws(' ', 'i', pg_get_indexdef(i.indexrelid))
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN s ON c.relnamespace = s.oid
  UNION ALL
  SELECT concat_ws(' ', 't', pg_get_triggerdef(t.oid))
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN s ON c.relnamespace = s.oid
   WHERE NOT t.tgisinternal
  UNION ALL
  SELECT concat_ws(' ', 'w', c.relname, r.rulename, md5(pg_get_ruledef(r.oid)))
    FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN s ON c.relnamespace = s.oid
  UNION ALL
  SELECT concat_ws(' ', 'q', c.relname, q.seqtypid, q.seqstart, q.seqincrement, q.seqmax,
                   q.seqmin, q.seqcycle)
    FROM pg_sequence q JOIN pg_class c ON c.oid = q.seqrelid JOIN s ON c.relnamespace = s.oid
  UNION ALL
  SELECT concat_ws(' ', 'p', p.proname, md5(pg_get_functiondef(p.oid)))
    FROM pg_proc p JOIN s ON p.pronamespace = s.oid
  UNION ALL
  SELECT concat_ws(' ', 'y', t.typname, t.typtype, e.enumsortorder, e.enumlabel)
    FROM pg_type t JOIN s ON t.typnamespace = s.oid LEFT JOIN pg_enum e ON e.enumtypid = t.oid
)
SELECT md5(coalesce(string_agg(line, ' / ' ORDER BY line), ''))
  FROM (SELECT replace(part, (SELECT nspname FROM s), '@') AS line FROM parts) lines
"""


def _schema_of(url: str) -> str:
    """The schema a copy's URL puts first on the search path."""
    from sqlalchemy.engine import make_url

    options = str(make_url(url).query["options"])
    return options.split("search_path=", 1)[1].split()[0]


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
    environment = Env(tmp_path, write_config(tmp_path, url), url, CliRunner(),
                      kept=templates.engines if backend != "sqlite" else None)
    yield environment
    environment.close()
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


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> FakeProvider:
    """The fake identity provider of tests/identity_provider.py: every request the web front
    makes with requests goes to it (an adapter), none leaves the process."""
    import requests
    from identity_provider import FakeProvider, ProviderAdapter

    fake = FakeProvider()
    adapter = ProviderAdapter(fake)
    monkeypatch.setattr(requests.Session, "get_adapter", lambda self, url: adapter)
    return fake


@pytest.fixture(autouse=True)
def quick_hashes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Web passwords hashed with cheap argon2 parameters: a test is about pages and rights,
    and each password set or login costs a hash (64 MiB and three passes each with the
    production parameters). A test marked ``real_hashes`` gets the production hasher."""
    if request.node.get_closest_marker("real_hashes"):
        return
    import casework.logins

    monkeypatch.setattr(casework.logins, "_hasher", _cheap_hasher)
    monkeypatch.setattr(casework.logins, "_dummy_hash", _cheap_dummy_hash)


@functools.cache
def _cheap_hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@functools.cache
def _cheap_dummy_hash() -> str:
    return str(_cheap_hasher().hash("not a password of anyone"))
