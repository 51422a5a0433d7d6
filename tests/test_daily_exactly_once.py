"""The daily run does each due item exactly once: when run twice, when killed at any moment and
run again, and when two runs start at the same moment.

An installation holds three kinds of due work, about a thousand items in all:
- cases of a small route ('wachtrij') in a state whose system timer gives up after a week
  (a timer transition: one give_up event per case, actor daily-run);
- system timers that escalate (like referral_answer), inserted as task rows;
- overdue staff tasks that escalate (like report_due), inserted as task rows.
Each escalated task gets one coordinator task keyed 'escalation:<task id>'.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from conftest import EXAMPLES, Env, add_anna
from helpers import staff as member
from sqlalchemy import func, insert, select

from casework.config import load_settings
from casework.daily import DailySummary, run_daily
from casework.engine import Engine
from casework.models import Case, DailyRun, Event, Task
from casework.permissions import SYSTEM

WORKFLOW = """\
[workflow]
id = "wachtrij"
version = 1
label = "Wachten op antwoord"
initial = "new"

[fields.reason]
type = "choice"
label = "Reden"
choices = ["unreachable", "answered"]

[states.new]
label = "Nieuw"

[states.waiting]
label = "Wacht op antwoord"

[[states.waiting.tasks]]
kind = "timeout"
after = "P7D"
by = "system"
expire = "give_up"
expire_data = { reason = "unreachable" }

[states.closed]
label = "Afgesloten"
final = true

[[transitions]]
trigger = "wait"
source = "new"
dest = "waiting"

[[transitions]]
trigger = "give_up"
source = "waiting"
dest = "closed"
needs = ["reason"]
"""

TIMEOUT = 120  # seconds any one daily run may take before the test gives up on it
_TASKS = Task.__table__


@dataclass
class Installation:
    """A configured installation with due work, and the ids of that work."""

    root: Path
    config: Path
    env: Env
    timer_cases: list[int]
    system_tasks: list[int]
    staff_tasks: list[int]
    run_date: date

    @property
    def total(self) -> int:
        return len(self.timer_cases) + len(self.system_tasks) + len(self.staff_tasks)

    def engine(self) -> Engine:
        return Engine.from_config(load_settings(self.config))

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "casework", "daily", "--date",
                self.run_date.isoformat(), *args]

    def environ(self) -> dict[str, str]:
        variables = {**os.environ, "CASEWORK_CONFIG": str(self.config),
                     "CASEWORK_USER": "anna"}
        variables.pop("CASEWORK_DATABASE_URL", None)
        return variables


def install(root: Path, database_url: str, timer_cases: int, system: int,
            staff: int) -> Installation:
    """Set up the route, the sample cohort and the due work; return the installation."""
    folder = root / "workflows"
    folder.mkdir()
    (folder / "wachtrij.toml").write_text(WORKFLOW, encoding="utf-8")
    config = root / "config.toml"
    config.write_text(f'[database]\nurl = "{database_url}"\n\n'
                      f'[paths]\nworkflows = "{folder.as_posix()}"\n', encoding="utf-8")
    env = Env(root, config, database_url, CliRunner())
    env.ok("init")
    add_anna(env)
    env.ok("cohort", "import", str(EXAMPLES / "cohort.csv"), "--workflow", "wachtrij")
    today = datetime.now(ZoneInfo("Europe/Amsterdam")).date()
    engine = Engine.from_config(load_settings(config))
    try:
        waiting = list(range(1, timer_cases + 1))
        for case_id in waiting:
            engine.advance(case_id, "wait", member(engine, "anna"))  # its timer is due in 7 days
        others = list(range(timer_cases + 1, 201))
        now = datetime.now(UTC)
        rows = []
        for n in range(system + staff):
            by_system = n < system
            rows.append({
                "key": f"seeded:{n}", "case_id": others[n % len(others)],
                "kind": "referral_answer" if by_system else "report_due",
                "due": today - timedelta(days=1 + n % 20), "round": 1, "status": "open",
                "attempts": 0, "assigned_to": None, "created_at": now,
                "performer": "system" if by_system else "staff", "scope": "case",
                "role": None, "label": "seeded", "spec": {"rounds": 1},
                "escalate_to": "coordinator",
            })
        with engine.db.begin() as conn:
            conn.execute(insert(_TASKS), rows)
            ids = dict(conn.execute(select(_TASKS.c.key, _TASKS.c.id)
                                    .where(_TASKS.c.key.like("seeded:%"))).all())
    finally:
        engine.db.dispose()
    return Installation(
        root=root, config=config, env=env, timer_cases=waiting,
        system_tasks=[ids[f"seeded:{n}"] for n in range(system)],
        staff_tasks=[ids[f"seeded:{n}"] for n in range(system, system + staff)],
        run_date=today + timedelta(days=30),
    )


def handled(engine: Engine) -> int:
    """How many due items are done: escalations made plus timer transitions fired."""
    with engine.db.connect() as conn:
        escalations = conn.execute(select(func.count()).select_from(_TASKS)
                                   .where(_TASKS.c.kind == "escalation")).scalar_one()
        fired = conn.execute(select(func.count()).select_from(Event)
                             .where(Event.trigger == "give_up")).scalar_one()
    return int(escalations) + int(fired)


def check_each_item_whole(engine: Engine, inst: Installation) -> int:
    """Assert every item is either untouched or done completely, once; return how many are done.

    Holds at any moment: after a kill, while another run works, at the end.
    """
    with engine.db.connect() as conn:
        tasks = {r.id: r for r in conn.execute(select(_TASKS)).all()}
        give_ups = Counter(conn.execute(select(Event.case_id)
                                        .where(Event.trigger == "give_up")).scalars())
        states = dict(conn.execute(select(Case.id, Case.state)).all())
    escalations = [t for t in tasks.values() if t.kind == "escalation"]
    about = Counter(t.spec["about_task"] for t in escalations)
    assert all(n == 1 for n in about.values()), "a task was escalated twice"
    assert all(t.key == f"escalation:{t.spec['about_task']}" for t in escalations)
    assert set(about) <= set(inst.system_tasks) | set(inst.staff_tasks)
    for task_id in inst.system_tasks:
        task = tasks[task_id]
        assert (task.status == "done") == (task_id in about), task_id
        assert (task.attempts, task.last_error) == (0, None)
        if task.status == "done":
            assert task.done_by == "daily-run"
    for task_id in inst.staff_tasks:
        task = tasks[task_id]
        assert task.status == "open"
        assert (task.escalated_at is not None) == (task_id in about), task_id
        assert (task.attempts, task.last_error) == (0, None)
    timeouts = {t.case_id: t for t in tasks.values() if t.kind == "timeout"}
    assert set(timeouts) == set(inst.timer_cases)
    for case_id in inst.timer_cases:
        fired = give_ups[case_id]
        assert fired in (0, 1), f"case {case_id} gave up {fired} times"
        assert (states[case_id] == "closed") == (fired == 1) == (
            timeouts[case_id].status == "done"), case_id
        assert timeouts[case_id].attempts == 0
    assert set(give_ups) <= set(inst.timer_cases)
    return len(about) + sum(give_ups.values())


def check_all_done_once(engine: Engine, inst: Installation) -> None:
    assert check_each_item_whole(engine, inst) == inst.total
    with engine.db.connect() as conn:
        left = conn.execute(
            select(func.count()).select_from(_TASKS).where(
                _TASKS.c.status == "open", _TASKS.c.performer == "system",
                _TASKS.c.due <= inst.run_date)
        ).scalar_one()
    assert left == 0, "system timers left open and due"


def wait_until(condition: Callable[[], bool], proc: subprocess.Popen[str],
               seconds: float = 60) -> None:
    """Wait until condition holds or the process has ended (never longer than seconds)."""
    deadline = time.monotonic() + seconds
    while not condition() and proc.poll() is None:
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


# --- (a) twice for the same date ------------------------------------------------------------


@pytest.mark.long
def test_second_run_for_the_same_date_does_nothing_again(tmp_path: Path,
                                                         database_url: str) -> None:
    inst = install(tmp_path, database_url, timer_cases=20, system=60, staff=60)
    date_text = inst.run_date.isoformat()
    first = inst.env.json("daily", "--date", date_text)
    assert first["timer_transitions"] == {"give_up": 20}
    assert first["escalations"] == {"referral_answer": 60, "report_due": 60}
    assert (first["done"], first["failed"]) == (140, 0)

    second = inst.env.json("daily", "--date", date_text)
    assert (second["done"], second["timer_transitions"], second["escalations"]) == (0, {}, {})
    later = inst.env.json("daily", "--date", (inst.run_date + timedelta(days=7)).isoformat())
    assert later["done"] == 0
    engine = inst.engine()
    try:
        check_all_done_once(engine, inst)
    finally:
        engine.db.dispose()


# --- (b) killed at any moment, then run again -------------------------------------------------


@pytest.mark.long
def test_runs_killed_at_any_moment_then_one_full_run_do_every_item_exactly_once(
    tmp_path: Path, database_url: str,
) -> None:
    # Six kills need a run that lasts long enough to be killed inside: 540 items, each its own
    # transaction.
    inst = install(tmp_path, database_url, timer_cases=40, system=250, staff=250)
    engine = inst.engine()
    rng = random.Random(20301)

    def ledger_rows() -> int:
        with engine.db.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(DailyRun)).scalar_one())

    def after_start() -> Callable[[], bool]:
        rows = ledger_rows()
        return lambda: ledger_rows() > rows

    def after_items(share: float) -> Callable[[], bool]:
        done = handled(engine)
        goal = done + max(1, int((inst.total - done) * share))
        return lambda: handled(engine) >= goal

    try:
        moments: list[tuple[str, Callable[[], Callable[[], bool]], float]] = [
            ("before it did anything", lambda: lambda: True, 0.0),
            ("just after it started", after_start, rng.uniform(0, 0.05)),
            ("at a random moment of the run", after_start, rng.uniform(0.05, 0.4)),
            ("among the first items", lambda: after_items(0.02), rng.uniform(0, 0.02)),
            ("a while into the run", lambda: after_items(0.2), rng.uniform(0, 0.1)),
            ("late in the run", lambda: after_items(0.5), rng.uniform(0, 0.1)),
        ]
        for what, make_condition, delay in moments:
            condition = make_condition()
            proc = subprocess.Popen(inst.command("--json"), env=inst.environ(),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    text=True)
            try:
                wait_until(condition, proc)
                time.sleep(delay)
                proc.send_signal(signal.SIGKILL)
                proc.communicate(timeout=TIMEOUT)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            assert proc.returncode in (-signal.SIGKILL, 0), what
            check_each_item_whole(engine, inst)  # nothing half done, whatever the moment

        left = inst.total - check_each_item_whole(engine, inst)
        full = subprocess.run(inst.command("--json"), env=inst.environ(), capture_output=True,
                              text=True, timeout=TIMEOUT)
        assert full.returncode == 0, full.stderr
        summary = json.loads(full.stdout)
        assert (summary["status"], summary["failed"]) == ("ok", 0)
        assert summary["done"] == left  # exactly what the killed runs had not done
        check_all_done_once(engine, inst)

        # Killed after it finished: the kill changes nothing, and the run found nothing to do.
        proc = subprocess.Popen(inst.command("--json"), env=inst.environ(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = proc.communicate(timeout=TIMEOUT)
        proc.kill()
        assert proc.returncode == 0, err
        assert json.loads(out)["done"] == 0
        check_all_done_once(engine, inst)
    finally:
        engine.db.dispose()


# --- (c) two runs at the same moment ----------------------------------------------------------


@pytest.mark.long
def test_two_runs_started_together_share_the_work_without_doing_anything_twice(
    tmp_path: Path, database_url: str,
) -> None:
    inst = install(tmp_path, database_url, timer_cases=60, system=500, staff=500)
    plan = inst.env.json("daily", "--date", inst.run_date.isoformat(), "--dry-run")["planned"]
    assert plan == {"timers": 560, "escalations": 500, "letters": 0,
                    "stale": 0}  # what one run would do

    procs = [subprocess.Popen(inst.command("--json"), env=inst.environ(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=TIMEOUT)
            assert proc.returncode == 0, err
            outputs.append(json.loads(out))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    one, other = outputs
    assert one["failed"] == other["failed"] == 0
    assert one["done"] + other["done"] == inst.total
    fired = Counter(one["timer_transitions"]) + Counter(other["timer_transitions"])
    escalated = Counter(one["escalations"]) + Counter(other["escalations"])
    assert fired == {"give_up": 60}
    assert escalated == {"referral_answer": 500, "report_due": 500}
    assert one["skipped"] <= other["done"] and other["skipped"] <= one["done"]
    engine = inst.engine()
    try:
        check_all_done_once(engine, inst)
    finally:
        engine.db.dispose()
    assert inst.env.json("daily", "--date", inst.run_date.isoformat())["done"] == 0


def run_in_threads(inst: Installation, runs: int = 2) -> list[DailySummary]:
    """Start runs for the installation's date in threads at one moment, each its own Engine."""
    barrier = threading.Barrier(runs)
    results: list[DailySummary] = []
    errors: list[BaseException] = []

    def one_run() -> None:
        engine = inst.engine()
        try:
            barrier.wait(timeout=30)
            results.append(run_daily(engine, SYSTEM, inst.run_date))
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.db.dispose()

    threads = [threading.Thread(target=one_run) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a run did not end"
    assert not errors, errors
    return results


@pytest.mark.long
def test_two_runs_in_one_process_share_the_work_without_doing_anything_twice(
    tmp_path: Path, database_url: str,
) -> None:
    inst = install(tmp_path, database_url, timer_cases=30, system=200, staff=200)
    one, other = run_in_threads(inst)
    assert one.failed == other.failed == 0
    assert one.done + other.done == inst.total
    assert one.fired + other.fired == {"give_up": 30}
    assert one.escalated + other.escalated == {"referral_answer": 200, "report_due": 200}
    assert one.skipped <= other.done and other.skipped <= one.done
    engine = inst.engine()
    try:
        check_all_done_once(engine, inst)
    finally:
        engine.db.dispose()


@pytest.mark.long
def test_two_runs_in_one_process_log_each_item_once(tmp_path: Path, database_url: str) -> None:
    """The day's log is the record of what was done: an item done once is logged once."""
    inst = install(tmp_path, database_url, timer_cases=10, system=100, staff=100)
    run_in_threads(inst)
    log = inst.root / "logs" / f"daily-{inst.run_date.isoformat()}.log"
    items = Counter(re.findall(r"task (\d+) \(", log.read_text(encoding="utf-8")))
    assert len(items) == inst.total
    twice = sorted(int(task) for task, n in items.items() if n > 1)
    assert not twice, f"{len(twice)} of {inst.total} items are logged more than once"

