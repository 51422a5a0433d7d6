"""The daily back-office run: everything due up to a date, each item exactly once.

Each item (a timer that fires a transition, an overdue task to escalate) is its own
transaction that starts by claiming the task with a guarded update (and, on PostgreSQL,
``FOR UPDATE SKIP LOCKED``), so a rerun, a crash at any point, or two processes at once
never do an item twice and never lose one. Items are read in pages by (due, id) from the
index on (status, due): the cost follows the work that is due, not what is stored.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, func, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from casework.db import checkpoints_aside, refresh_statistics, unit_of_work
from casework.engine import APPOINTMENT_PASSED, Engine
from casework.errors import AnchorError, CaseworkError, ConfigError, OptionRefused
from casework.models import Case, DailyRun, Task
from casework.permissions import SYSTEM, Actor
from casework.tasks import escalation_row

ACTOR = SYSTEM  # the steps the run takes are its own, whoever started it
PAGE = 500
MAX_CATCH_UP_DAYS = 366
_TASKS = Task.__table__
_RUNS = DailyRun.__table__
_LOG_NUMBERS = itertools.count(1)


@dataclass
class DailySummary:
    run_date: date
    dry_run: bool = False
    status: str = "ok"
    started_at: datetime | None = None
    finished_at: datetime | None = None
    fired: Counter[str] = field(default_factory=Counter)
    escalated: Counter[str] = field(default_factory=Counter)
    # Work planned before an appointment that has passed: cancelled, per kind.
    stale_cancelled: Counter[str] = field(default_factory=Counter)
    timers_done: int = 0
    skipped: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    due_work: list[dict[str, Any]] = field(default_factory=list)
    planned: dict[str, int] = field(default_factory=dict)
    letters: dict[str, Any] = field(default_factory=dict)
    anchor_problem: str | None = None  # the chain heads could not be appended
    # Letters the day's steps cancelled that sit in a batch not yet sent: to be pulled.
    to_pull: list[dict[str, Any]] = field(default_factory=list)

    @property
    def done(self) -> int:
        return sum(self.fired.values()) + sum(self.escalated.values()) + self.timers_done

    @property
    def failed(self) -> int:
        return len(self.failures) + len(self.letters.get("failed", []))

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_date": self.run_date.isoformat(), "dry_run": self.dry_run,
            "status": self.status,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "done": self.done, "failed": self.failed,
            "timer_transitions": dict(self.fired), "escalations": dict(self.escalated),
            "timers_done": self.timers_done, "skipped": self.skipped,
            "failures": self.failures, "due_work": self.due_work, "planned": self.planned,
            "letters": self.letters, "anchor_problem": self.anchor_problem,
            "to_pull": self.to_pull,
            "stale_cancelled": dict(self.stale_cancelled),
        }


class RunLog:
    """The day's log file: ids, kinds and outcomes only, never a BSN or a name."""

    def __init__(self, engine: Engine, run_date: date, enabled: bool) -> None:
        # One logger per run: two runs in one process must not write into each other's file.
        self.logger = logging.getLogger(f"casework.daily.run{next(_LOG_NUMBERS)}")
        self.logger.propagate = False
        self.logger.setLevel(logging.INFO)
        self.handler: logging.Handler | None = None
        if enabled:
            folder = engine.settings.logs_dir
            path = folder / f"daily-{run_date.isoformat()}.log"
            try:
                folder.mkdir(parents=True, exist_ok=True)
                self.handler = logging.FileHandler(path, encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"paths.logs: cannot write the log file {path} "
                                  f"({exc.strerror}); make {folder} a folder you may "
                                  "write in") from None
            self.handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
            self.logger.addHandler(self.handler)

    def info(self, message: str) -> None:
        if self.handler:
            self.logger.info(message)

    def close(self) -> None:
        if self.handler:
            self.logger.removeHandler(self.handler)
            self.handler.close()


def _timers(run_date: date) -> list[Any]:
    return [_TASKS.c.status == "open", _TASKS.c.due <= run_date,
            _TASKS.c.performer == "system"]


def _overdue(run_date: date) -> list[Any]:
    return [_TASKS.c.status == "open", _TASKS.c.due < run_date,
            _TASKS.c.performer == "staff", _TASKS.c.escalate_to.is_not(None),
            _TASKS.c.escalated_at.is_(None)]


def _row_pages(engine: Engine, query: Any) -> Iterator[list[Any]]:
    """Yield the rows of a query on tasks (selecting their id and due), in (due, id) order, a
    page at a time: each page is read in its own short transaction."""
    last: tuple[date, int] | None = None
    while True:
        page = query
        if last is not None:
            page = page.where(or_(_TASKS.c.due > last[0],
                                  and_(_TASKS.c.due == last[0], _TASKS.c.id > last[1])))
        with engine.db.connect() as conn:
            rows = conn.execute(page.order_by(_TASKS.c.due, _TASKS.c.id).limit(PAGE)).all()
        if not rows:
            return
        yield rows
        last = (rows[-1].due, rows[-1].id)


def _pages(engine: Engine, conditions: list[Any]) -> Iterator[int]:
    """Yield task ids matching conditions, in (due, id) order, a page at a time."""
    for rows in _row_pages(engine, select(_TASKS.c.id, _TASKS.c.due).where(*conditions)):
        yield from (row.id for row in rows)


def count_due(engine: Engine, run_date: date) -> dict[str, int]:
    """Return how many timers, overdue tasks and queued letters a run would handle, and how
    much work for appointments that have passed it would cancel."""
    from casework.models import Letter

    with engine.db.connect() as conn:
        timers = conn.execute(select(func.count()).select_from(_TASKS)
                              .where(*_timers(run_date))).scalar_one()
        overdue = conn.execute(select(func.count()).select_from(_TASKS)
                               .where(*_overdue(run_date))).scalar_one()
        letters = conn.execute(select(func.count()).select_from(Letter)
                               .where(Letter.status == "queued")).scalar_one()
    stale = sum(len(page) for page in _stale_pages(engine, run_date))
    return {"timers": timers, "escalations": overdue, "letters": letters, "stale": stale}


# --- work for an appointment that has passed ----------------------------------------------


def _before_appointment(engine: Engine) -> set[tuple[str, int, str, str]]:
    """Return (route, version, state, kind) of the work routes plan before an appointment."""
    return {(route.id, route.version, state.name, task.kind)
            for route in engine.registry for state in route.states.values()
            for task in state.tasks if task.anchor == "appointment" and not task.forward}


def _stale_pages(engine: Engine, run_date: date) -> Iterator[list[tuple[int, str, Any]]]:
    """Yield pages of (task id, kind, result) of open work planned before an appointment that
    has passed by the run (its moment is before now, or before run_date for a later date).

    Such work is due on or before its appointment's day, so only work due by then is read:
    the cost follows the call lists, not what is stored."""
    planned = _before_appointment(engine)
    if not planned:
        return
    cutoff = max(engine.now(), datetime.combine(run_date, time.min, tzinfo=engine.tz))
    kinds = sorted({kind for *_, kind in planned})
    conditions = [_TASKS.c.status == "open", _TASKS.c.kind.in_(kinds),
                  _TASKS.c.due <= cutoff.astimezone(engine.tz).date()]
    query = (select(_TASKS.c.id, _TASKS.c.due, _TASKS.c.kind, Case.workflow_id,
                    Case.workflow_version, Case.state, Case.data)
             .join(Case, Case.id == _TASKS.c.case_id).where(*conditions))
    for rows in _row_pages(engine, query):
        page = []
        for row in rows:
            if (row.workflow_id, row.workflow_version, row.state, row.kind) not in planned:
                continue
            moment = (row.data or {}).get("appointment")
            if not moment:
                page.append((row.id, row.kind, {"cancelled": "no_appointment"}))
            elif datetime.fromisoformat(moment) <= cutoff:
                page.append((row.id, row.kind, {"cancelled": APPOINTMENT_PASSED,
                                                 "appointment": moment}))
        if page:
            yield page


def cancel_stale_work(engine: Engine, run_date: date, summary: DailySummary,
                      log: RunLog) -> None:
    """Cancel open work planned before an appointment that has passed (a reminder call the
    day after), recorded with the reason; each task once, also with two runs at once."""
    now = engine.now()
    for page in _stale_pages(engine, run_date):
        with unit_of_work(engine) as conn:
            for task_id, kind, result in page:
                cancelled = conn.execute(
                    update(_TASKS).where(_TASKS.c.id == task_id, _TASKS.c.status == "open")
                    .values(status="cancelled", done_at=now, done_by=ACTOR.name,
                            result={**result, "run_date": run_date.isoformat()}))
                if cancelled.rowcount == 1:
                    summary.stale_cancelled[kind] += 1
                    log.info(f"task {task_id} ({kind}): cancelled, {result['cancelled']}")


def due_work(engine: Engine, run_date: date) -> list[dict[str, Any]]:
    """Return the open work for people due by run_date, per worker (or role) and kind."""
    query = (
        select(_TASKS.c.assigned_to, _TASKS.c.role, _TASKS.c.kind,
               func.count().label("due"),
               func.sum(case((_TASKS.c.due < run_date, 1), else_=0)).label("overdue"))
        .where(_TASKS.c.status == "open", _TASKS.c.due <= run_date,
               _TASKS.c.performer == "staff")
        .group_by(_TASKS.c.assigned_to, _TASKS.c.role, _TASKS.c.kind)
        .order_by(_TASKS.c.assigned_to, _TASKS.c.role, _TASKS.c.kind)
    )
    with engine.db.connect() as conn:
        rows = conn.execute(query).all()
    return [{"worker": r.assigned_to or (f"role {r.role}" if r.role else "unassigned"),
             "kind": r.kind, "due": r.due, "overdue": int(r.overdue or 0)} for r in rows]


def _fire_timer(engine: Engine, task_id: int, run_date: date, summary: DailySummary,
                log: RunLog) -> None:
    now = engine.now()
    with unit_of_work(engine) as conn:
        task = conn.execute(
            select(_TASKS).where(_TASKS.c.id == task_id, _TASKS.c.status == "open")
            .with_for_update(skip_locked=True)
        ).first()
        if task is None:
            summary.skipped += 1  # another run took it, or it was cancelled meanwhile
            return
        spec: dict[str, Any] = task.spec or {}
        result: dict[str, Any] = {"run_date": run_date.isoformat()}
        if spec.get("expire"):
            result["expired"] = spec["expire"]
        elif task.escalate_to:
            result["escalated_to"] = task.escalate_to
        claimed = conn.execute(
            update(_TASKS).where(_TASKS.c.id == task_id, _TASKS.c.status == "open")
            .values(status="done", result=result, done_at=now, done_by=ACTOR.name)
        )
        if claimed.rowcount != 1:
            summary.skipped += 1
            return
        if spec.get("expire"):
            step = engine.advance_in(conn, task.case_id, spec["expire"], ACTOR,
                                     spec.get("expire_data") or {},
                                     note=f"timer {task.kind} expired")
            summary.fired[spec["expire"]] += 1
            summary.to_pull.extend(step.to_pull)
            log.info(f"task {task_id} ({task.kind}, case {task.case_id}): timer expired, "
                     f"{step.trigger} {step.source} -> {step.dest}")
            for pull in step.to_pull:
                log.info(f"letter {pull['letter']} (case {pull['case_id']}): cancelled, to "
                         f"be pulled from batch {pull['batch']}")
        elif task.escalate_to:
            conn.execute(insert(_TASKS).values(escalation_row(task, run_date, now)))
            conn.execute(update(_TASKS).where(_TASKS.c.id == task_id)
                         .values(escalated_at=now))
            summary.escalated[task.kind] += 1
            log.info(f"task {task_id} ({task.kind}, case {task.case_id}): due "
                     f"{task.due}, escalated to {task.escalate_to}")
        else:
            summary.timers_done += 1
            log.info(f"task {task_id} ({task.kind}, case {task.case_id}): timer done")


def _escalate(engine: Engine, task_id: int, run_date: date, summary: DailySummary,
              log: RunLog) -> None:
    now = engine.now()
    with unit_of_work(engine) as conn:
        claimed = conn.execute(
            update(_TASKS).where(_TASKS.c.id == task_id, _TASKS.c.status == "open",
                                 _TASKS.c.escalated_at.is_(None))
            .values(escalated_at=now)
        )
        if claimed.rowcount != 1:
            summary.skipped += 1
            return
        task = conn.execute(select(_TASKS).where(_TASKS.c.id == task_id)).one()
        conn.execute(insert(_TASKS).values(escalation_row(task, run_date, now)))
        summary.escalated[task.kind] += 1
        log.info(f"task {task_id} ({task.kind}, case {task.case_id}): due {task.due}, "
                 f"overdue, escalated to {task.escalate_to}")


def _render_letters(engine: Engine, run_date: date, should_stop: Callable[[], bool] | None,
                    log: RunLog) -> dict[str, Any]:
    """Render what the day's steps queued and batch it for the mail house."""
    from casework.mailroom import render_queue

    result = render_queue(engine, run_date, should_stop=should_stop).as_dict()
    log.info(f"letters: rendered {result['rendered']}, held {len(result['held'])}, "
             f"failed {len(result['failed'])}, batches "
             f"{', '.join(b['batch'] for b in result['batches']) or 'none'}")
    for item in [*result["held"], *result["flagged"]]:
        log.info(f"letter {item['letter']} ({item['template']}, case {item['case_id']}): "
                 f"held: {item['reason']}")
    for item in result["renewed"]:
        log.info(f"letter {item['letter']} ({item['template']}, case {item['case_id']}): "
                 f"made on an earlier day and never batched: {item['status']}")
    for name in result["removed_files"]:
        log.info(f"removed {name}: it no longer matches a batch")
    for item in result["failed"]:
        log.info(f"letter {item['letter']} ({item['template']}, case {item['case_id']}): "
                 f"FAILED: {item['reason']}")
    return result


def _record_failure(engine: Engine, task_id: int, error: str, summary: DailySummary,
                    log: RunLog) -> None:
    with unit_of_work(engine) as conn:
        conn.execute(update(_TASKS).where(_TASKS.c.id == task_id)
                     .values(attempts=_TASKS.c.attempts + 1, last_error=error[:1000]))
        row = conn.execute(select(_TASKS.c.kind, _TASKS.c.case_id, _TASKS.c.attempts)
                           .where(_TASKS.c.id == task_id)).one()
    summary.failures.append({"task": task_id, "kind": row.kind, "case_id": row.case_id,
                             "attempts": row.attempts, "error": error})
    log.info(f"task {task_id} ({row.kind}, case {row.case_id}): FAILED (attempt "
             f"{row.attempts}): {error}")


def _describe(exc: Exception) -> str:
    if isinstance(exc, CaseworkError):
        return str(exc)
    if isinstance(exc, SQLAlchemyError):
        orig = getattr(exc, "orig", None)
        return f"database: {str(orig or exc).splitlines()[0]}"
    return f"{type(exc).__name__}: {exc}"


def run_daily(engine: Engine, actor: Actor, run_date: date, dry_run: bool = False,
              progress: Callable[[int, int], None] | None = None,
              should_stop: Callable[[], bool] | None = None,
              write_log: bool = True) -> DailySummary:
    """Do everything due up to run_date: timer transitions, escalations; report the work.
    Started by someone who may run it (actor); the steps it takes are its own (SYSTEM)."""
    actor.require("daily")
    summary = DailySummary(run_date=run_date, dry_run=dry_run, started_at=engine.now())
    if not dry_run:
        refuse_going_back(engine, run_date, "the daily run")
    if dry_run:
        summary.planned = count_due(engine, run_date)
        summary.due_work = due_work(engine, run_date)
        summary.status = "dry-run"
        summary.finished_at = engine.now()
        return summary
    host, pid = socket.gethostname(), os.getpid()
    log = RunLog(engine, run_date, write_log)  # before the run row: a bad folder stops here
    try:
        with unit_of_work(engine) as conn:
            _mark_crashed_runs(conn, host)
            run_id = conn.execute(insert(_RUNS).values(
                run_date=run_date, started_at=summary.started_at, status="running",
                dry_run=False, done=0, failed=0, host=host, pid=pid,
            ).returning(_RUNS.c.id)).scalar_one()
    except BaseException:
        log.close()
        raise
    summary.status = "running"
    log.info(f"daily run for {run_date} started (run {run_id})")
    summary.planned = count_due(engine, run_date)
    total = summary.planned["timers"] + summary.planned["escalations"]
    handled = 0
    with checkpoints_aside(engine):  # a checkpoint's fsyncs never stop the run
        try:
            # What the day before wrote (a bulk apply, the web front's steps) is in the planner's
            # statistics before the run looks for what is due.
            refresh_statistics(engine, ("cases", "tasks", "letters", "appointments", "events"))
            # First: work whose appointment has passed is not fired, escalated or listed.
            cancel_stale_work(engine, run_date, summary, log)
            for kind, conditions, handler in (
                ("timer", _timers(run_date), _fire_timer),
                ("escalation", _overdue(run_date), _escalate),
            ):
                for task_id in _pages(engine, conditions):
                    if should_stop and should_stop():
                        summary.status = "stopped"
                        log.info("stopped on request; the rest is done by the next run")
                        break
                    try:
                        handler(engine, task_id, run_date, summary, log)
                    except Exception as exc:  # one item's failure must not stop the others
                        _record_failure(engine, task_id, _describe(exc), summary, log)
                    handled += 1
                    if progress:
                        progress(handled, max(total, handled))
                if summary.status == "stopped":
                    break
                log.info(f"{kind}s handled")
            if summary.status != "stopped":
                summary.letters = _render_letters(engine, run_date, should_stop, log)
            summary.due_work = due_work(engine, run_date)
            if summary.status != "stopped":
                from casework.audit import seal

                try:  # the day's case history joins the hash chain; the heads go to the anchor
                    sealed = seal(engine, ACTOR)
                    log.info(f"case history: {sealed['sealed']} events sealed, chain heads "
                             f"appended to {sealed['anchor']['file']}")
                except AnchorError as exc:
                    summary.anchor_problem = str(exc)
                    log.info(f"audit anchor FAILED: {exc}")
                letters_failed = bool(summary.letters.get("failed"))
                summary.status = ("failed" if summary.failures or letters_failed
                                  or summary.anchor_problem else "ok")
        finally:
            summary.finished_at = engine.now()
            with unit_of_work(engine) as conn:
                conn.execute(update(_RUNS).where(_RUNS.c.id == run_id).values(
                    finished_at=summary.finished_at,
                    # still "running" here: broken off by an exception or Ctrl-C
                    status="crashed" if summary.status == "running" else summary.status,
                    done=summary.done, failed=summary.failed, summary=summary.as_dict(),
                ))
            log.info(f"daily run for {run_date} ended: {summary.status}, done {summary.done}, "
                     f"failed {summary.failed}")
            log.close()
    return summary


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _mark_crashed_runs(conn: Any, host: str) -> None:
    """Mark this host's runs that say 'running' but whose process is gone as crashed."""
    rows = conn.execute(select(_RUNS.c.id, _RUNS.c.pid).where(
        _RUNS.c.status == "running", _RUNS.c.host == host)).all()
    gone = [row.id for row in rows if row.pid is None or not _alive(row.pid)]
    if gone:
        conn.execute(update(_RUNS).where(_RUNS.c.id.in_(gone)).values(status="crashed"))


def last_complete_run(engine: Engine) -> Any:
    """Return (id, run_date) of the run for the latest date that went through all its items
    (ok or failed), or None."""
    with engine.db.connect() as conn:
        return conn.execute(
            select(_RUNS.c.id, _RUNS.c.run_date)
            .where(_RUNS.c.status.in_(("ok", "failed")), _RUNS.c.dry_run.is_(False))
            .order_by(_RUNS.c.run_date.desc(), _RUNS.c.id.desc()).limit(1)
        ).first()


def last_complete_date(engine: Engine) -> date | None:
    """Return the latest date a run went through all its items for (ok or failed)."""
    last = last_complete_run(engine)
    return last.run_date if last else None


def refuse_going_back(engine: Engine, day: date, what: str) -> None:
    """Refuse a run (or a letter render) for a day before the last completed run: what it
    made would be dated before work already done (letters back-dated)."""
    from casework.display import DUTCH_DAY

    last = last_complete_run(engine)
    if last is not None and day < last.run_date:
        latest = last.run_date.strftime(DUTCH_DAY)
        raise OptionRefused(
            f"{what} for {day.strftime(DUTCH_DAY)} is refused: the last completed daily run "
            f"(run {last.id}) was for {latest}, and a run never goes back in time; give "
            f"{latest} or later")


def days_to_run(engine: Engine, today: date) -> list[date]:
    """Return the days a catch-up runs, oldest first: each missed day once, then today
    (nothing when a run for a later date was made already)."""
    last = last_complete_date(engine)
    if last is not None and last > today:
        return []
    if last is None or last == today:
        return [today]
    first = max(last + timedelta(days=1), today - timedelta(days=MAX_CATCH_UP_DAYS))
    return [first + timedelta(days=n) for n in range((today - first).days + 1)]


def run_due_days(engine: Engine, actor: Actor, today: date,
                 should_stop: Callable[[], bool] | None = None) -> list[DailySummary]:
    """Run every day from the last completed run up to today, in order (the scheduler job)."""
    results = []
    for day in days_to_run(engine, today):
        if should_stop and should_stop():
            break
        results.append(run_daily(engine, actor, day, should_stop=should_stop))
    return results


def recent_runs(engine: Engine, actor: Actor, limit: int = 10) -> list[dict[str, Any]]:
    """Return the latest runs from the ledger, newest first, each with the summary it
    ended with (None while it runs or when it crashed)."""
    actor.require("daily")
    with engine.db.connect() as conn:
        rows = conn.execute(select(_RUNS).order_by(_RUNS.c.id.desc()).limit(limit)).all()
    return [{
        "id": r.id, "run_date": r.run_date.isoformat(), "status": r.status,
        "started_at": r.started_at.isoformat(),
        "finished_at": r.finished_at.isoformat() if r.finished_at else None,
        "done": r.done, "failed": r.failed, "host": r.host, "pid": r.pid,
        "summary": r.summary,
    } for r in rows]
