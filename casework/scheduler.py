"""APScheduler as the alarm clock, the database as the memory.

One cron job, defined in code, calls ``run_due_days``: it runs each day missed since the last
completed run once, in order, then today. A generous misfire grace time and ``coalesce`` keep a
late start from being dropped; the run ledger and per-item claims make a second start harmless.
SIGTERM and SIGINT stop the scheduler between items.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from casework.config import clock_time
from casework.daily import DailySummary, run_due_days
from casework.engine import Engine
from casework.permissions import Actor

MISFIRE_GRACE_SECONDS = 12 * 3600


class DailyScheduler:
    """Runs the daily job at the configured time until stopped."""

    def __init__(self, engine: Engine, actor: Actor,
                 on_run: Callable[[list[DailySummary]], None] | None = None) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.cron import CronTrigger

        self.engine = engine
        self.actor = actor  # who started the scheduler (may run the daily job)
        self.on_run = on_run
        self.stopping = threading.Event()
        self.idle = threading.Event()
        self.idle.set()
        hour, minute = clock_time(engine.settings["scheduler.time"])
        self.scheduler = BackgroundScheduler(timezone=engine.tz)
        self.scheduler.add_job(
            self.run_now, CronTrigger(hour=hour, minute=minute, timezone=engine.tz),
            id="casework-daily", name="casework daily run", replace_existing=True,
            misfire_grace_time=MISFIRE_GRACE_SECONDS, coalesce=True, max_instances=1,
        )

    def run_now(self) -> list[DailySummary]:
        """Catch up and run today (also what the cron job calls)."""
        self.idle.clear()
        try:
            today = self.engine.now().astimezone(self.engine.tz).date()
            results = run_due_days(self.engine, self.actor, today, should_stop=self.stopping.is_set)
            if self.on_run:
                self.on_run(results)
            return results
        finally:
            self.idle.set()

    def next_run(self) -> datetime | None:
        job = self.scheduler.get_job("casework-daily")
        return getattr(job, "next_run_time", None) if job else None

    def stop(self, *_: Any) -> None:
        self.stopping.set()

    def serve(self, catch_up: bool = True) -> None:
        """Run until SIGTERM/SIGINT: catch up now, then every day at the configured time."""
        previous = {sig: signal.signal(sig, self.stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.scheduler.start()
            if catch_up:
                self.run_now()
            while not self.stopping.wait(1.0):
                pass
        finally:
            self.scheduler.shutdown(wait=False)
            self.idle.wait()  # the running day stops between items
            for sig, handler in previous.items():
                signal.signal(sig, handler)
