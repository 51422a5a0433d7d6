"""The scheduler: `casework.scheduler.DailyScheduler` and `casework scheduler run`.

Started after downtime it runs each missed day once, in order, then today; its cron job runs at
the configured scheduler.time; SIGTERM stops it cleanly. Catch-up is driven with a fixed clock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from conftest import Env
from helpers import Clock
from sqlalchemy import func, insert, select

from casework.cli import cli
from casework.config import load_settings
from casework.daily import days_to_run
from casework.db import make_engine
from casework.engine import Engine
from casework.models import DailyRun, Task
from casework.permissions import SYSTEM
from casework.scheduler import DailyScheduler

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
TODAY = date(2030, 6, 5)  # a Wednesday
NOW = datetime(2030, 6, 5, 4, 0, tzinfo=UTC)  # 06:00 in Amsterdam on TODAY
TIMEOUT = 60
_TASKS = Task.__table__
_RUNS = DailyRun.__table__


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def engine(cohort: Env, clock: Clock) -> Iterator[Engine]:
    """An engine on the fixed clock over the sample cohort (Kansen in Kaart)."""
    eng: Engine = cohort.engine(clock=clock)
    yield eng
    eng.db.dispose()


def seed_run(engine: Engine, run_date: date, status: str = "ok") -> None:
    """Put a run into the ledger, as an earlier scheduler would have left it."""
    started = datetime.combine(run_date, datetime.min.time(), tzinfo=UTC)
    with engine.db.begin() as conn:
        conn.execute(insert(_RUNS).values(
            run_date=run_date, started_at=started,
            finished_at=None if status == "running" else started, status=status,
            dry_run=False, done=0, failed=0, host="earlier", pid=1))


def ledger(engine: Engine) -> list[tuple[date, str]]:
    """(run date, status) of the runs this test started, oldest first."""
    with engine.db.connect() as conn:
        rows = conn.execute(select(_RUNS.c.run_date, _RUNS.c.status)
                            .where(_RUNS.c.host != "earlier").order_by(_RUNS.c.id)).all()
    return [(r.run_date, r.status) for r in rows]


def add_task(engine: Engine, case_id: int, kind: str, due: date, system: bool) -> int:
    with engine.db.begin() as conn:
        return int(conn.execute(insert(_TASKS).values(
            key=f"test:{case_id}:{kind}:{due}", case_id=case_id, kind=kind, due=due, round=1,
            status="open", attempts=0, created_at=NOW - timedelta(days=30),
            performer="system" if system else "staff", scope="case", label=kind,
            spec={"rounds": 1}, escalate_to="coordinator",
        ).returning(_TASKS.c.id)).scalar_one())


def escalation_due(engine: Engine, task_id: int) -> date | None:
    with engine.db.connect() as conn:
        return conn.execute(select(_TASKS.c.due)
                            .where(_TASKS.c.key == f"escalation:{task_id}")).scalar()


# --- catch-up ---------------------------------------------------------------------------------


def test_start_after_downtime_runs_each_missed_day_once_in_order_then_today(
    engine: Engine,
) -> None:
    seed_run(engine, TODAY - timedelta(days=3))
    results = DailyScheduler(engine, SYSTEM).run_now()
    missed = [TODAY - timedelta(days=2), TODAY - timedelta(days=1)]
    assert [r.run_date for r in results] == [*missed, TODAY]
    assert ledger(engine) == [(missed[0], "ok"), (missed[1], "ok"), (TODAY, "ok")]

    assert days_to_run(engine, TODAY) == [TODAY]
    again = DailyScheduler(engine, SYSTEM).run_now()
    assert [r.run_date for r in again] == [TODAY]  # only today again, no missed day twice
    assert [d for d, _ in ledger(engine)] == [*missed, TODAY, TODAY]


def test_each_missed_day_does_the_work_that_was_due_on_it(engine: Engine) -> None:
    seed_run(engine, TODAY - timedelta(days=3))
    report_late_on_3rd = add_task(engine, 1, "report_due", date(2030, 6, 2), system=False)
    report_late_on_4th = add_task(engine, 2, "report_due", date(2030, 6, 3), system=False)
    referral_due_on_4th = add_task(engine, 3, "referral_answer", date(2030, 6, 4), system=True)

    results = DailyScheduler(engine, SYSTEM).run_now()

    assert [(r.run_date, r.done) for r in results] == [
        (date(2030, 6, 3), 1), (date(2030, 6, 4), 2), (TODAY, 0)]
    assert escalation_due(engine, report_late_on_3rd) == date(2030, 6, 3)
    assert escalation_due(engine, report_late_on_4th) == date(2030, 6, 4)
    assert escalation_due(engine, referral_due_on_4th) == date(2030, 6, 4)


def test_next_day_the_scheduler_runs_only_that_day(engine: Engine, clock: Clock) -> None:
    scheduler = DailyScheduler(engine, SYSTEM)
    assert [r.run_date for r in scheduler.run_now()] == [TODAY]  # first start: no history
    clock.now += timedelta(days=1)
    assert [r.run_date for r in scheduler.run_now()] == [TODAY + timedelta(days=1)]


def test_run_left_running_by_a_crash_does_not_count_as_done(engine: Engine) -> None:
    seed_run(engine, TODAY - timedelta(days=3))
    seed_run(engine, TODAY - timedelta(days=2), status="running")  # killed mid-run
    results = DailyScheduler(engine, SYSTEM).run_now()
    assert [r.run_date for r in results] == [TODAY - timedelta(days=2),
                                             TODAY - timedelta(days=1), TODAY]


def test_day_whose_run_broke_off_with_an_error_is_run_again_by_the_catch_up(
    engine: Engine, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The database goes away at the end of the first missed day's run; the next start must
    run that day again instead of taking it as done."""
    import casework.daily

    seed_run(engine, TODAY - timedelta(days=3))

    def database_gone(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("server closed the connection unexpectedly")

    monkeypatch.setattr(casework.daily, "due_work", database_gone)
    with pytest.raises(ConnectionError):
        DailyScheduler(engine, SYSTEM).run_now()
    monkeypatch.undo()

    results = DailyScheduler(engine, SYSTEM).run_now()
    assert [r.run_date for r in results] == [TODAY - timedelta(days=2),
                                             TODAY - timedelta(days=1), TODAY], (
        f"the run that broke off is in the ledger as {ledger(engine)[0]} and taken as done")


# --- the cron job's time --------------------------------------------------------------------


def scheduler_for(tmp_path: Path, extra: str = "") -> DailyScheduler:
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{(tmp_path / "c.db").as_posix()}"\n'
                      + extra, encoding="utf-8")
    settings = load_settings(config)
    return DailyScheduler(Engine(settings, make_engine(settings.database_url)), SYSTEM)


@pytest.mark.parametrize(("extra", "hour", "minute"), [
    ('\n[scheduler]\ntime = "05:30"\n', 5, 30),
    ("", 6, 0),  # the default
])
def test_configured_scheduler_time_is_the_daily_job_time(
    tmp_path: Path, extra: str, hour: int, minute: int,
) -> None:
    runner = scheduler_for(tmp_path, extra)
    job = runner.scheduler.get_job("casework-daily")
    assert job is not None
    fields = {f.name: str(f) for f in job.trigger.fields}
    assert (fields["hour"], fields["minute"]) == (str(hour), str(minute))
    assert str(job.trigger.timezone) == "Europe/Amsterdam"
    before = datetime(2030, 6, 3, 4, 0, tzinfo=AMSTERDAM)
    after = datetime(2030, 6, 3, 7, 0, tzinfo=AMSTERDAM)
    assert job.trigger.get_next_fire_time(None, before) == datetime(2030, 6, 3, hour, minute,
                                                                    tzinfo=AMSTERDAM)
    assert job.trigger.get_next_fire_time(None, after) == datetime(2030, 6, 4, hour, minute,
                                                                   tzinfo=AMSTERDAM)
    runner.scheduler.start(paused=True)
    try:
        next_run = runner.next_run()
        assert next_run is not None
        local = next_run.astimezone(AMSTERDAM)
        assert (local.hour, local.minute) == (hour, minute)
        assert next_run > datetime.now(UTC)
    finally:
        runner.scheduler.shutdown(wait=False)


@pytest.mark.parametrize("value", [
    pytest.param('"25:00"', id="hour-25"),
    pytest.param('"06:60"', id="minute-60"),
    pytest.param('"6.30"', id="dot"),
    pytest.param('"noon"', id="word"),
    pytest.param('"06:00:00"', id="seconds"),
    pytest.param("530", id="number"),
    pytest.param('""', id="empty"),
    pytest.param('"²:00"', id="superscript-digit"),  # str.isdigit() says yes, int() says no
])
def test_bad_scheduler_time_is_a_clear_error_naming_the_key_and_the_file(
    tmp_path: Path, value: str,
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{(tmp_path / "c.db").as_posix()}"\n\n'
                      f"[scheduler]\ntime = {value}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["scheduler", "run"],
                                env={"CASEWORK_CONFIG": str(config),
                                     "CASEWORK_DATABASE_URL": None})
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"Error: {config}: setting 'scheduler.time' "), (
        f"not a clear error: {result.exception!r}")
    assert len(result.stderr.strip().splitlines()) == 1


# --- `casework scheduler run` as a service --------------------------------------------------


def local_today() -> date:
    return datetime.now(AMSTERDAM).date()


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the scheduler ended early ({proc.returncode}): {out}{err}")
        assert time.monotonic() < deadline, "timed out waiting for the scheduler"
        time.sleep(0.05)


def start_scheduler(env: Env) -> subprocess.Popen[str]:
    variables = {**os.environ, "CASEWORK_CONFIG": str(env.config), "CASEWORK_USER": "anna"}
    variables.pop("CASEWORK_DATABASE_URL", None)
    return subprocess.Popen([sys.executable, "-m", "casework", "scheduler", "run"],
                            env=variables, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_scheduler_run_catches_up_then_stops_cleanly_on_sigterm(cohort: Env) -> None:
    engine: Engine = cohort.engine()
    try:
        today = local_today()
        seed_run(engine, today - timedelta(days=3))

        def caught_up() -> bool:
            return [s for _, s in ledger(engine)] == ["ok", "ok", "ok"]

        proc = start_scheduler(cohort)
        wait_for(caught_up, proc)
        out, err = stop(proc)
        assert proc.returncode == 0, err
        assert "casework scheduler: daily run at 06:00 (Europe/Amsterdam)" in out
        days = [today - timedelta(days=2), today - timedelta(days=1), today]
        assert [d for d, _ in ledger(engine)] == days
        places = [out.index(f"Daily run for {d.isoformat()}: ok") for d in days]
        assert places == sorted(places)
        assert out.rstrip().endswith("casework scheduler stopped")
    finally:
        engine.db.dispose()


@pytest.mark.long
def test_sigterm_during_the_catch_up_stops_between_items(cohort: Env) -> None:
    engine: Engine = cohort.engine()
    try:
        today = local_today()
        rows = [{"key": f"late:{n}", "case_id": 1 + n % 200, "kind": "report_due",
                 "due": today - timedelta(days=1), "round": 1, "status": "open",
                 "attempts": 0, "created_at": datetime.now(UTC), "performer": "staff",
                 "scope": "case", "label": "late", "spec": {"rounds": 1},
                 "escalate_to": "coordinator"} for n in range(1500)]
        with engine.db.begin() as conn:
            conn.execute(insert(_TASKS), rows)

        def escalations() -> int:
            with engine.db.connect() as conn:
                return int(conn.execute(select(func.count()).select_from(_TASKS)
                                        .where(_TASKS.c.kind == "escalation")).scalar_one())

        proc = start_scheduler(cohort)
        wait_for(lambda: escalations() > 0, proc)
        out, err = stop(proc)
        assert proc.returncode == 0, err
        assert out.rstrip().endswith("casework scheduler stopped")
        [(run_date, status)] = ledger(engine)
        assert run_date == today
        assert status in ("stopped", "ok")  # stopped between items (or it had just finished)
        done = escalations()
        with engine.db.connect() as conn:
            marked = conn.execute(select(func.count()).select_from(_TASKS).where(
                _TASKS.c.key.like("late:%"), _TASKS.c.escalated_at.is_not(None))).scalar_one()
        assert marked == done  # no item half done

        DailyScheduler(engine, SYSTEM).run_now()  # the next start finishes the rest
        assert escalations() == 1500
    finally:
        engine.db.dispose()
