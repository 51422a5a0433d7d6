"""SpiffWorkflow cases driven by a casework apply file (run through run_spiff.py).

Each line of the file (case, trigger, data) completes the case's ready user task with the
trigger and the line's data; the exclusive gateway after it picks the next state. Modes:

  memory  every case's workflow is kept in memory; nothing is stored.
  sqlite  every case's workflow is stored in SQLite as serialized JSON (the spec once, apart,
          as SpiffWorkflow's serialization docs advise) and written back after every step;
          one transaction per chunk of 2,000 lines, a case read once per chunk, as
          `casework case apply` does.

Setting up the cases (casework's `cohort import`) is not timed. With a time budget, a mode
stops at the first new case (memory) or chunk (sqlite) after it: the rate is that of the
transitions done, each case being a workflow of its own.
"""

from __future__ import annotations

import csv
import json
import resource
import sqlite3
import sys
import time
from collections.abc import Iterator
from importlib.metadata import version
from itertools import islice
from typing import Any

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn.serializer import DEFAULT_CONFIG, BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnWorkflowConverter,
    WorkflowConverter,
)

CHUNK = 2_000


class Stopwatch:
    """Wall and CPU seconds of the timed work, set-up left out."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0
        self.start()

    def start(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def stop(self) -> None:
        self.wall += time.perf_counter() - self._wall
        self.cpu += time.process_time() - self._cpu

    def running(self) -> float:
        """Return the wall seconds so far, the watch running."""
        return self.wall + time.perf_counter() - self._wall

    def result(self, **counts: int) -> dict[str, Any]:
        return {"seconds": self.wall, "cpu_seconds": self.cpu, **counts}


def case_serializer(spec: Any) -> BpmnWorkflowSerializer:
    """Return a serializer that leaves the (shared) spec out of each case's JSON."""

    class CaseConverter(BpmnWorkflowConverter):
        def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
            dct: dict[str, Any] = WorkflowConverter.to_dict(self, workflow)
            dct["subprocess_specs"] = {}
            dct["subprocesses"] = {}  # the route has no subprocesses
            dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
            return dct

        def from_dict(self, dct: dict[str, Any]) -> BpmnWorkflow:
            dct["spec"] = spec  # restored as is: not a dict
            return super().from_dict(dct)

    config = {**DEFAULT_CONFIG, BpmnWorkflow: CaseConverter}
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


def new_case(spec: Any) -> BpmnWorkflow:
    workflow = BpmnWorkflow(spec)
    workflow.do_engine_steps()  # start event -> the initial state's user task
    return workflow


def step(workflow: BpmnWorkflow, trigger: str, data: dict[str, str]) -> None:
    """Complete the case's ready user task with the trigger and data; run to the next one."""
    task = workflow.get_next_task(state=TaskState.READY, manual=True)
    if task is None:
        raise SystemExit(f"no open user task for trigger {trigger!r}")
    task.data.update(data)
    task.data["trigger"] = trigger
    task.run()
    workflow.do_engine_steps()


def read_lines(path: str) -> Iterator[tuple[int, str, dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            case, trigger = int(row.pop("case")), row.pop("trigger")
            yield case, trigger, {key: value for key, value in row.items() if value}


def run_memory(spec: Any, apply_file: str, budget: float) -> dict[str, Any]:
    """Apply the file to cases held in memory; stop at the first new case after `budget` s."""
    cases: dict[int, BpmnWorkflow] = {}
    lines = 0
    watch = Stopwatch()
    for case, trigger, data in read_lines(apply_file):
        workflow = cases.get(case)
        if workflow is None:
            if budget and watch.running() > budget:
                break
            watch.stop()
            workflow = cases[case] = new_case(spec)
            watch.start()
        step(workflow, trigger, data)
        lines += 1
    watch.stop()
    completed = sum(workflow.is_completed() for workflow in cases.values())
    return watch.result(transitions=lines, cases=len(cases), completed=completed)


def run_sqlite(spec: Any, apply_file: str, db: str, budget: float) -> dict[str, Any]:
    """Apply the file to cases stored in SQLite; stop at the first chunk after `budget` s."""
    serializer = case_serializer(spec)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE spec (name TEXT PRIMARY KEY, serialization TEXT NOT NULL)")
    conn.execute("CREATE TABLE workflow (case_id INTEGER PRIMARY KEY, "
                 "spec TEXT NOT NULL REFERENCES spec(name), serialization TEXT NOT NULL)")
    conn.execute("INSERT INTO spec VALUES (?, ?)",
                 (spec.name, json.dumps(serializer.to_dict(spec))))
    # Every case starts from the same fresh workflow (one serialization, stored per case):
    # only the setup is shortened, each case is still read, run and written on its own.
    fresh = serializer.serialize_json(new_case(spec))
    conn.execute("BEGIN")
    conn.executemany("INSERT OR IGNORE INTO workflow VALUES (?, ?, ?)",
                     ((case, spec.name, fresh) for case, _, _ in read_lines(apply_file)))
    conn.execute("COMMIT")

    lines = 0
    touched: set[int] = set()
    source = read_lines(apply_file)
    watch = Stopwatch()
    while chunk := list(islice(source, CHUNK)):
        if budget and watch.running() > budget:
            break
        loaded: dict[int, BpmnWorkflow] = {}
        conn.execute("BEGIN")
        for case, trigger, data in chunk:
            workflow = loaded.get(case)
            if workflow is None:
                (state,) = conn.execute("SELECT serialization FROM workflow WHERE case_id = ?",
                                        (case,)).fetchone()
                workflow = loaded[case] = serializer.deserialize_json(state)
            step(workflow, trigger, data)
            conn.execute("UPDATE workflow SET serialization = ? WHERE case_id = ?",
                         (serializer.serialize_json(workflow), case))
            lines += 1
        conn.execute("COMMIT")
        touched.update(loaded)
    watch.stop()
    (completed,) = conn.execute(
        "SELECT count(*) FROM workflow WHERE json_extract(serialization, '$.completed')"
    ).fetchone()
    conn.close()
    return watch.result(transitions=lines, cases=len(touched), completed=completed)


def main(start: float) -> None:
    """Run the mode of sys.argv; `start` is when the process began importing."""
    mode, bpmn, process, apply_file, db, budget = sys.argv[1:7]
    parser = BpmnParser()
    parser.add_bpmn_file(bpmn)
    spec = parser.get_spec(process)
    startup = {"startup": time.perf_counter() - start, "startup_cpu": time.process_time()}
    if mode == "memory":
        result = run_memory(spec, apply_file, float(budget))
    else:
        result = run_sqlite(spec, apply_file, db, float(budget))
    print(json.dumps({
        "mode": mode, "version": version("SpiffWorkflow"), **startup, **result,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))

