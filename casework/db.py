"""Database engine, SQLite pragmas and Alembic migrations shipped inside the package."""

from __future__ import annotations

import json
import os
import re
import threading
import weakref
from collections.abc import Callable, Collection, Iterator
from contextlib import closing, contextmanager, suppress
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    func,
    inspect,
    literal_column,
    select,
    text,
)
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.pool import QueuePool

from casework.errors import DatabaseError

MIGRATIONS = Path(__file__).with_name("migrations")


def describe_url(url: str) -> str:
    """Return the URL with any password hidden, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid database URL>"


def _bind_none_directly() -> None:
    """Bind None (SQL NULL) through an adapter of its own. Python's sqlite3 asks each value
    that is not a number or text for an adapter; for None it finds none, and looking for one
    raises and formats an AttributeError inside the driver, per value: a tenth of the driver's
    work for a task row, seven of whose columns are usually empty. The adapter returns None
    itself, so what is stored is the same NULL."""
    import sqlite3

    # An empty dict's get returns None for any key: the same NULL, called as a C function
    # (a Python function's call cost the driver more than binding the value).
    sqlite3.register_adapter(type(None), _NOTHING.get)


_NOTHING: dict[Any, None] = {}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    # What a change frees (a blanked name's old bytes in its page, pages left empty) is
    # overwritten with zeros, so a purge leaves nothing of a person in the file's free space.
    cursor.execute("PRAGMA secure_delete=ON")
    # Copy the write-ahead log into the database file once it holds this many pages, not
    # SQLite's 1,000: each copy ends with two fsyncs, which on a disk cost more wall time
    # than the commits between them (one advance writes about 23 pages: a copy every 44
    # advances at 1,000, every 440 at 10,000; about 40 MB of log at most, then reused).
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
    # ANALYZE reads about this many rows of each index, not all (see refresh_statistics).
    cursor.execute(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
    cursor.close()


WAL_AUTOCHECKPOINT = 10_000  # pages of the write-ahead log (4 KB each) before it is copied
ANALYSIS_LIMIT = 1_000  # rows of each index ANALYZE samples on SQLite
ANALYZE_AFTER = 1_000  # a command writing this many rows refreshes the statistics at its end


@contextmanager
def checkpoints_aside(engine: Any) -> Iterator[None]:
    """While a command writes many transactions (bulk apply, cohort import, the daily run)
    or serves the web front, copy SQLite's write-ahead log into the database file from a
    thread of its own, every CHECKPOINT_EVERY seconds.

    SQLite does that copy in the committing thread once the log holds WAL_AUTOCHECKPOINT
    pages, and ends it with two fsyncs: a bulk apply waited on them for a twentieth of its
    time, its core idle. A checkpoint on another connection runs beside the writer without
    blocking it (a passive one copies what is committed, waits for nobody and leaves what it
    cannot copy to the next), and SQLite's driver runs it without Python's lock, so the copy
    and its fsyncs happen on the other core while the next chunk is planned. A log copied
    in full starts again from its beginning at the next commit: it stays about one chunk
    long. What is stored, and when a commit is durable, are as before; SQLite's own
    checkpoint remains for when the thread falls behind. A database that is not an SQLite
    file has nothing to copy. One thread per database: a write inside another (a cohort
    uploaded while ``casework serve`` serves) uses the one that runs already."""
    db: Engine = getattr(engine, "db", engine)
    if db.dialect.name != "sqlite" or db.url.database in (None, "", ":memory:"):
        yield
        return
    with _ASIDE_LOCK:
        running = _ASIDE.get(id(db))
        if running is not None:
            running[0] += 1
        else:
            stop = threading.Event()
            thread = threading.Thread(target=_checkpoint_until, args=(db, stop),
                                      name="casework-checkpoint", daemon=True)
            running = _ASIDE[id(db)] = [1, stop, thread]
            thread.start()
    try:
        yield
    finally:
        with _ASIDE_LOCK:
            running[0] -= 1
            last = running[0] == 0
            if last:
                del _ASIDE[id(db)]
        if last:
            running[1].set()
            running[2].join()


# The checkpoint thread of each database engine (by id): [users, its stop event, the thread].
_ASIDE: dict[int, list[Any]] = {}
_ASIDE_LOCK = threading.Lock()


CHECKPOINT_EVERY = 0.1  # seconds between two passive checkpoints while a command writes


def _checkpoint_until(db: Engine, stop: threading.Event) -> None:
    """Run passive checkpoints until stop is set; on any error stop quietly (SQLite's own
    checkpoint in the writer still copies the log, as it always did)."""
    with suppress(Exception), closing(db.raw_connection()) as raw:
        while not stop.wait(CHECKPOINT_EVERY):
            with closing(raw.cursor()) as cursor:
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def truncate_wal(engine: Engine) -> bool | None:
    """Copy SQLite's write-ahead log into the database file and empty it, so no page as it
    was before (a purged name) stays in the log; return whether it was emptied (False when
    another connection was reading at that moment: the next checkpoint overwrites it), None
    on a database without one (PostgreSQL)."""
    if engine.dialect.name != "sqlite":
        return None
    with engine.connect() as conn:
        busy, _, _ = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
        conn.commit()
    return not busy


def make_engine(url: str) -> Engine:
    """Return an SQLAlchemy engine; SQLite gets WAL, foreign keys and a busy timeout."""
    try:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        # hide_parameters: values (a BSN among them) never appear in SQL error messages.
        engine = create_engine(url, hide_parameters=True, **_pool_of(url))
    except (ArgumentError, NoSuchModuleError) as exc:
        raise DatabaseError(
            f"database URL {describe_url(url)!r} cannot be used: {exc}; "
            "set database.url in config.toml or CASEWORK_DATABASE_URL"
        ) from None
    if engine.dialect.name == "sqlite":
        if engine.url.database and engine.url.database != ":memory:":
            parent = Path(engine.url.database).parent
            if not parent.exists():
                raise DatabaseError(
                    f"folder {parent} for the SQLite database does not exist; create it or "
                    "change database.url"
                )
        _bind_none_directly()
        event.listen(engine, "connect", _sqlite_pragmas)
        if engine.url.database and engine.url.database != ":memory:":
            event.listen(engine, "connect", _owner_only(Path(engine.url.database)))
    _MADE.add(engine)
    return engine


_MADE: weakref.WeakSet[Engine] = weakref.WeakSet()  # the engines make_engine made


def close_all() -> None:
    """Close the connections of every database engine this process made (and still has),
    those its threads keep included: the command line does so at exit, rather than leave
    them to the garbage collector (casework.cli.main)."""
    for engine in list(_MADE):
        engine.dispose()


def _pool_of(url: str) -> dict[str, Any]:
    """Return the pool to use: the dialect's own, made to close the threads' kept connections
    when it is disposed (a listener on the engine's events would make SQLAlchemy dispatch
    events around every statement)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_dialect().get_pool_class(parsed) is QueuePool:
        return {"poolclass": _KeptPool}
    return {}


class _KeptPool(QueuePool):
    """SQLAlchemy's QueuePool that closes the connections threads keep (see ``_Kept``) when
    it is disposed (``Engine.dispose``), as it closes the ones it holds itself."""

    def dispose(self) -> None:
        _disposed(self)
        super().dispose()


def total_of(shown: int, limit: int | None, offset: int, count: Callable[[], int]) -> int:
    """Return how many rows a listing matches, given how many it showed: counted by a
    second query only when the limit cut the list short (or the offset passed them all)."""
    if (limit is None or shown < limit) and (shown or not offset):
        return offset + shown
    return count()


def is_in(conn: Connection, column: Any, values: Collection[Any]) -> Any:
    """Return ``column IN values`` for a chunk's hundreds of ids or keys (numbers or texts).
    On SQLite the values go in as one JSON parameter that ``json_each`` reads: SQLAlchemy
    binds an IN list value by value (a statement of 2,000 parameters per chunk, each handled
    in Python), and SQLite searches the column's index for each value either way."""
    if conn.dialect.name != "sqlite" or not _has_json_each(conn):
        return column.in_(list(values))
    listed = select(literal_column("value")).select_from(func.json_each(json.dumps(list(values))))
    return column.in_(listed.scalar_subquery())


_JSON_EACH: bool | None = None  # whether this process's SQLite has json_each, once asked


def _has_json_each(conn: Connection) -> bool:
    """Whether SQLite has its JSON functions (built in since 3.38, and in most builds before):
    without them an IN list is bound value by value, as before."""
    global _JSON_EACH
    if _JSON_EACH is None:
        try:
            conn.exec_driver_sql("SELECT count(*) FROM json_each('[1]')").scalar()
            _JSON_EACH = True
        except OperationalError:
            _JSON_EACH = False
    return _JSON_EACH


def refresh_statistics(engine: Any, tables: tuple[str, ...]) -> None:
    """Refresh the planner's statistics after a command wrote many rows to these tables.

    Without them a planner guesses. SQLite guesses that every index narrows alike, and for
    "these cases' letters (or tasks) still open" it took the index on the status for a long
    list of cases: it read every unsent letter of the municipality for each list, a cost that
    grew with everything stored (a bulk apply of 100,000 cases spent 7 of its 60 s there);
    with statistics it takes the index on the case. SQLite samples (``analysis_limit``, a
    few milliseconds on 100,000 cases) and refreshes every table, whose statistics are
    kept together. PostgreSQL analyzes the tables named (autovacuum does it only later: until
    then a search walks every row in scope)."""
    db: Engine = getattr(engine, "db", engine)
    try:
        with unit_of_work(db) as conn:
            if db.dialect.name == "sqlite":
                conn.exec_driver_sql("ANALYZE")
            else:
                conn.exec_driver_sql("ANALYZE " + ", ".join(tables))
    except OperationalError:
        # Busy for longer than the timeout (another process writing): what the command did
        # is stored all the same; the next large command (or the daily run) refreshes them.
        pass


@contextmanager
def unit_of_work(engine: Any, dry_run: bool = False) -> Iterator[Connection]:
    """Open the one kind of write transaction: yield its connection, commit when the block
    ends, roll back when it raises (and always for a dry run, which stores nothing).

    engine is the casework Engine (its ``db``) or, before one exists, a database engine.
    On SQLite each thread keeps one connection per database for its units of work (see
    ``_Kept``); a unit of work inside another gets a connection of its own."""
    db: Engine = getattr(engine, "db", engine)
    # Kept on SQLite only: there a connection is a file handle and its check-out cost as much
    # as a one-row statement; a PostgreSQL connection is a server process, left to the pool
    # (every thread and engine keeping its own ran the server out of connections).
    kept = _take(db) if db.dialect.name == "sqlite" else None
    conn = db.connect() if kept is None else kept.conn
    assert conn is not None
    ended = False
    try:
        trans = conn.begin()
        try:
            yield conn
        except BaseException:
            trans.rollback()
            raise
        if dry_run:
            trans.rollback()
        else:
            trans.commit()
        ended = True
    finally:
        if kept is None:
            conn.close()
        else:
            _release(kept, db, ended)


class _Kept:
    """A connection a thread keeps open for its units of work: the pool's check-out and
    check-in (and SQLAlchemy's Connection around them) cost as much as a one-row statement,
    and a web form or ``case advance`` is one short transaction. Between units of work it
    holds no transaction (and so no lock or snapshot). It is given up, and closed, when the
    database engine is disposed (its pool replaced), after a fork (a child never uses its
    parent's connection), when a unit of work did not end cleanly (an error, a rollback that
    failed), or when someone changed the connection's execution options."""

    __slots__ = ("__weakref__", "busy", "conn", "db", "pid", "pool")

    def __init__(self, db: Engine) -> None:
        self.db = db
        self.pool = db.pool
        self.pid = os.getpid()
        self.conn: Connection | None = None
        self.busy = False


KEEP = 4  # kept connections per thread at most (a process uses one database, tests many)
_KEPT_LOCK = threading.RLock()  # an RLock: a finalizer may run while a thread holds it
_EVERY: weakref.WeakSet[_Kept] = weakref.WeakSet()  # every thread's, for dispose
_FORKED: list[Connection] = []  # a parent's kept connections, met in a forked child


class _ThreadKept(threading.local):
    """This thread's kept connections by database engine, closed when the thread ends (or
    the interpreter exits): a connection is always returned, never left to the garbage
    collector."""

    def __init__(self) -> None:
        self.by_db: dict[int, _Kept] = {}
        # Dropped with the thread's own attributes when the thread ends: then they close.
        self.anchor = _Anchor()
        weakref.finalize(self.anchor, _close_each, self.by_db)


class _Anchor:
    """Something to hang the finalizer of a thread's kept connections on."""


def _close_each(by_db: dict[int, _Kept]) -> None:
    with _KEPT_LOCK:
        for kept in by_db.values():
            if not kept.busy:
                _give_up(kept)
        by_db.clear()


_THREAD = _ThreadKept()


def _take(db: Engine) -> _Kept | None:
    """Return this thread's kept connection of db, marked busy (made when there is none),
    or None when it is busy already (a unit of work inside another)."""
    found = _THREAD.by_db
    key = id(db)
    with _KEPT_LOCK:
        kept = found.get(key)
        if kept is not None and (kept.db is not db or kept.conn is None
                                 or kept.pool is not db.pool or kept.pid != os.getpid()):
            del found[key]
            if not kept.busy:
                _give_up(kept)
            kept = None
        if kept is not None:
            if kept.busy:
                return None
            kept.busy = True
            return kept
        for other in [k for k in found if not found[k].busy][:max(0, len(found) + 1 - KEEP)]:
            _give_up(found.pop(other))  # the oldest first
        kept = found[key] = _Kept(db)
        kept.busy = True
        _EVERY.add(kept)
    try:
        kept.conn = db.connect()
    except BaseException:
        with _KEPT_LOCK:
            found.pop(key, None)
            _EVERY.discard(kept)
        raise
    return kept


def _release(kept: _Kept, db: Engine, ended: bool) -> None:
    conn = kept.conn
    assert conn is not None
    with _KEPT_LOCK:
        kept.busy = False
        keep = (ended and not conn.invalidated and not conn.in_transaction()
                and conn.get_execution_options() is db.get_execution_options()
                and kept.pool is db.pool)
        if not keep:
            _give_up(kept)


def _give_up(kept: _Kept) -> None:
    """Close a kept connection that is not in use (under _KEPT_LOCK). After a fork the
    parent's connection is only forgotten: the child must not touch it."""
    conn, kept.conn = kept.conn, None
    _EVERY.discard(kept)
    if conn is None:
        return
    if kept.pid != os.getpid():
        _FORKED.append(conn)  # never closed, reset or collected here: the parent's
        return
    try:
        if kept.pool is not kept.db.pool and not conn.invalidated:
            conn.detach()  # its pool was disposed: closed for good, not returned to it
        conn.close()
    except Exception:  # a connection that cannot even close is gone anyway
        pass


def _disposed(pool: Any) -> None:
    """When a pool is disposed, close the kept connections taken from it that are not in use
    (those in use are given up when their unit of work ends: their engine has a new pool)."""
    with _KEPT_LOCK:
        for kept in list(_EVERY):
            if kept.pool is pool and not kept.busy:
                _give_up(kept)


def _owner_only(path: Path) -> Any:
    """Return a connect hook that keeps the SQLite file (and its WAL) readable by its owner
    only: it holds BSNs and notes."""

    def hook(dbapi_connection: Any, connection_record: Any) -> None:
        for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            try:
                if name.stat().st_mode & 0o077:
                    name.chmod(0o600)
            except OSError:
                pass  # not there (yet), or not ours to change

    return hook


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


@cache
def head_revision() -> str:
    """Return the newest migration shipped with this version of casework.

    Read from the migration files' ``revision`` and ``down_revision`` lines rather than
    through Alembic, which costs a tenth of a second to import on every command."""
    revisions: dict[str, str | None] = {}
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision = _REVISION.search(source)
        if revision is None:
            continue
        down = _DOWN_REVISION.search(source)
        revisions[revision.group(1)] = down.group(1) if down else None
    heads = set(revisions) - set(revisions.values())
    assert len(heads) == 1, f"migrations have {len(heads)} heads: {sorted(heads)}"
    return heads.pop()


_REVISION = re.compile(r'^revision(?::[^=]*)? = "(\w+)"', re.M)
_DOWN_REVISION = re.compile(r'^down_revision(?::[^=]*)? = "(\w+)"', re.M)


def current_revision(engine: Engine) -> str | None:
    """Return the migration the database is at, or None for an empty database."""
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
            found = list(versions)
    except OperationalError as exc:
        raise DatabaseError(
            f"cannot open database {describe_url(str(engine.url))}: {exc.orig}"
        ) from None
    if len(found) > 1:
        raise DatabaseError(f"database {describe_url(str(engine.url))} is at several "
                            f"schemas at once ({', '.join(sorted(found))}); it was not made "
                            "by casework")
    return found[0] if found else None


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Migrate the database to the newest schema; return (before, after) revisions."""
    from alembic import command

    before = current_revision(engine)
    if before is None and inspect(engine).has_table("cases"):
        raise DatabaseError(
            "the database has casework tables but no migration record; it was not made by "
            "'casework init' - use an empty database"
        )
    command.upgrade(_alembic_config(engine), "head")
    if before == head_revision():
        from casework import name_index

        # PostgreSQL: the name index a refused pg_trgm left out, once the extension may be made.
        name_index.ensure(engine)
    return before, head_revision()


def check_schema(engine: Engine) -> None:
    """Raise a clear error unless the database is at the newest schema."""
    current = current_revision(engine)
    if current is None:
        raise DatabaseError(
            f"database {describe_url(str(engine.url))} is not initialised; run 'casework init'"
        )
    if current != head_revision():
        raise DatabaseError(
            f"database schema is at {current}, this casework needs {head_revision()}; "
            "run 'casework db upgrade'"
        )
