"""unit_of_work keeps one connection per thread between its transactions on SQLite
(PostgreSQL's come from the pool): what a caller must still be able to count on (each block
commits or rolls back on its own, threads and nested blocks never share a transaction, a
disposed engine leaves the database closed); on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import Env
from sqlalchemy import select, text, update

from casework import db
from casework.db import checkpoints_aside, unit_of_work
from casework.models import Case


def _state(engine: object, case_id: int) -> str:
    with unit_of_work(engine) as conn:
        return str(conn.execute(select(Case.state).where(Case.id == case_id)).scalar_one())


def test_a_failed_block_stores_nothing_and_the_next_one_works(cohort: Env) -> None:
    engine = cohort.engine()
    try:
        with pytest.raises(ZeroDivisionError), unit_of_work(engine) as conn:
            conn.execute(update(Case).where(Case.id == 1).values(state="gone"))
            1 / 0  # noqa: B018
        assert _state(engine, 1) == "selected"
        with unit_of_work(engine, dry_run=True) as conn:
            conn.execute(update(Case).where(Case.id == 1).values(state="gone"))
        assert _state(engine, 1) == "selected"
        with unit_of_work(engine) as conn:
            conn.execute(update(Case).where(Case.id == 1).values(state="kept"))
        assert _state(engine, 1) == "kept"
    finally:
        engine.db.dispose()


def test_a_block_inside_another_has_its_own_transaction(cohort: Env) -> None:
    engine = cohort.engine()
    try:
        with unit_of_work(engine) as outer:
            outer.execute(update(Case).where(Case.id == 2).values(wave=7))
            if engine.db.dialect.name == "postgresql":  # SQLite has one writer at a time
                with unit_of_work(engine) as inner:
                    assert inner is not outer
                    inner.execute(update(Case).where(Case.id == 3).values(wave=8))
            else:
                with unit_of_work(engine) as inner:
                    assert inner is not outer
                    inner.execute(select(Case.id).where(Case.id == 3)).all()
        with unit_of_work(engine) as conn:
            waves = dict(conn.execute(select(Case.id, Case.wave)
                                      .where(Case.id.in_([2, 3]))).all())
        assert waves[2] == 7
    finally:
        engine.db.dispose()


def test_threads_do_not_share_a_connection(cohort: Env) -> None:
    engine = cohort.engine()
    seen: dict[str, int] = {}
    errors: list[BaseException] = []
    together = threading.Barrier(2, timeout=30)

    def work(name: str) -> None:
        try:
            for _ in range(3):
                with unit_of_work(engine) as conn:
                    seen[name] = id(conn.connection.dbapi_connection)
                    conn.execute(select(Case.id).limit(1)).all()
                    together.wait()  # both threads inside a block at once
        except BaseException as exc:  # reported below
            errors.append(exc)

    try:
        with unit_of_work(engine) as conn:
            mine = id(conn.connection.dbapi_connection)
        threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        assert len(set(seen.values())) == 2  # both inside a block at once
        if engine.db.dialect.name == "sqlite":  # the kept ones (PostgreSQL: the pool's)
            assert mine not in seen.values()
    finally:
        engine.db.dispose()


def test_dispose_closes_the_kept_connection(cohort: Env) -> None:
    engine = cohort.engine()
    with unit_of_work(engine) as conn:
        conn.execute(update(Case).where(Case.id == 4).values(wave=9))
        kept = conn
    engine.db.dispose()
    assert kept.closed
    if engine.db.dialect.name == "sqlite":
        # The last connection to close folds the write-ahead log into the file.
        database = Path(engine.db.url.database or "")
        assert not Path(f"{database}-wal").exists()
    with unit_of_work(engine) as conn:  # a new one is opened for the next block
        assert conn is not kept
        assert conn.execute(text("SELECT 1")).scalar() == 1
    engine.db.dispose()


def _write_chunks(engine: Any, chunks: int, pause: float = 0.0) -> None:
    """Commit chunks of about 200 KB each, pause seconds apart, as bulk apply does."""
    for _ in range(chunks):
        with unit_of_work(engine) as conn:
            conn.execute(text("INSERT INTO filler SELECT randomblob(4000) "
                              "FROM (SELECT value FROM json_each(json_array(" +
                              ", ".join(["0"] * 50) + ")))"))
        time.sleep(pause)


def test_the_log_is_copied_aside_while_a_command_writes(cohort: Env,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """A long write's commits are copied into the database file by a thread of its own: the
    write-ahead log starts again after each, instead of growing until the writer itself
    stops to copy it."""
    engine = cohort.engine()
    monkeypatch.setattr(db, "CHECKPOINT_EVERY", 0.01)
    try:
        if engine.db.dialect.name != "sqlite":  # nothing to copy: no thread, the block runs
            before = threading.active_count()
            with checkpoints_aside(engine):
                assert threading.active_count() == before
                assert _state(engine, 1) == "selected"
            return
        wal = Path(f"{engine.db.url.database}-wal")
        with unit_of_work(engine) as conn:
            conn.execute(text("CREATE TABLE filler (x BLOB)"))
            # The writer's own copy is left out, as if the log had not reached its size yet.
            conn.execute(text("PRAGMA wal_autocheckpoint=0"))
        _write_chunks(engine, 10)
        alone = wal.stat().st_size  # every chunk's pages, one after the other
        with unit_of_work(engine) as conn:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        with checkpoints_aside(engine):
            _write_chunks(engine, 10, pause=0.1)
        aside = wal.stat().st_size
        assert alone > 9 * 200_000
        # About one chunk (a few while a slow disk's fsync holds a checkpoint back): the log
        # began again after the chunks that were copied.
        assert aside < alone / 2, (aside, alone)
        with unit_of_work(engine) as conn:
            assert conn.execute(text("SELECT count(*) FROM filler")).scalar() == 1000
    finally:
        engine.db.dispose()


def test_one_thread_copies_the_log_however_many_writes_ask(cohort: Env) -> None:
    """A write inside another (a cohort uploaded while the web front serves) uses the
    checkpoint thread that runs already; the thread stops when the last of them ends."""
    engine = cohort.engine()

    def copying() -> int:
        return sum(t.name == "casework-checkpoint" for t in threading.enumerate())

    expected = 1 if engine.db.dialect.name == "sqlite" else 0  # PostgreSQL: nothing to copy
    inner: list[int] = []
    try:
        with checkpoints_aside(engine):
            with checkpoints_aside(engine.db):
                assert copying() == expected
            other = threading.Thread(target=lambda: inner.append(_copying_inside(engine)))
            other.start()
            other.join()
            assert copying() == expected  # the outer one still runs
        assert inner == [expected]
        assert copying() == 0
    finally:
        engine.db.dispose()


def _copying_inside(engine: Any) -> int:
    with checkpoints_aside(engine):
        return sum(t.name == "casework-checkpoint" for t in threading.enumerate())
