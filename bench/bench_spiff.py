"""casework's bulk apply side by side with SpiffWorkflow 3.2 on the same route and the same file.

The route is Kansen in Kaart as BPMN (bench/spiff/route_bpmn.py: one user task per state, an
exclusive gateway on the trigger after each), and the input is bench_apply.py's apply file:
every case goes selected -> invited -> spoken -> referred -> active -> closed, 5 transitions.
casework runs `case apply` on SQLite (a fresh process, start-up included); SpiffWorkflow runs
in its own environment (bench/.venv-spiff, made on first use: it is no project dependency)
twice: with every case in memory, and with every case stored in SQLite as JSON after every
step. Each SpiffWorkflow mode stops after --budget seconds (whole cases) to keep the run short;
its rate is that of the transitions it did.

Usage: python bench/bench_spiff.py [--cases N] [--budget SECONDS] [--repeat N] [--venv DIR]

With --repeat N the rounds (casework on a new database, then each SpiffWorkflow mode)
run one after the other and the median ratio of each mode is printed last: on a
machine whose speed drifts, one round's ratio moves by a tenth either way.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from bench_apply import ROUTE, write_apply_file
from common import BENCH, ROOT, Scratch, machine, make_cohort
from spiff.route_bpmn import route_bpmn

SPIFF = "SpiffWorkflow==3.2.*"
ROUTE_FILE = ROOT / "workflows" / "kansen_in_kaart.toml"
TARGET = 10


def spiff_python(venv: Path) -> Path:
    """Return the Python of the bench's SpiffWorkflow environment, made and filled if need be."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    found = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('SpiffWorkflow'))"],
        capture_output=True, text=True)
    if found.returncode != 0 or not found.stdout.startswith("3.2."):
        subprocess.run([str(python), "-m", "pip", "install", "-q", SPIFF], check=True)
    return python


def run_spiff(python: Path, mode: str, bpmn: Path, process: str, apply_file: Path,
              db: Path, budget: float) -> dict[str, Any]:
    out = subprocess.run(
        [str(python), str(BENCH / "spiff" / "run_spiff.py"), mode, str(bpmn), process,
         str(apply_file), str(db), str(budget)],
        check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out)
    if result["completed"] != result["cases"] or result["transitions"] != (
            result["cases"] * len(ROUTE)):
        raise SystemExit(f"SpiffWorkflow did not walk the whole route: {result}")
    return result


def children_cpu() -> float:
    """Return the CPU seconds (user and system) of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def casework_apply(cases: int) -> tuple[int, float, float, float, Path]:
    """Import `cases` people into a new database and apply the file to them in a fresh
    process; return the transitions, their rate (wall and CPU), the peak MB and the file."""
    scratch = Scratch(extra='[rules]\ndisabled = ["exclusion"]\n')
    scratch.run("init")
    scratch.run("cohort", "import", str(make_cohort(scratch.dir / "c.csv", cases)),
                "--workflow", "kansen-in-kaart")
    apply_file = scratch.dir / "apply.csv"
    lines = write_apply_file(apply_file, range(1, cases + 1))
    before = children_cpu()
    bulk = scratch.measure("case", "apply", str(apply_file))
    assert bulk["exit_code"] == 0, bulk
    return (lines, lines / bulk["seconds"], lines / (children_cpu() - before),
            bulk["peak_mb"], apply_file)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--budget", type=float, default=45.0,
                        help="seconds per SpiffWorkflow mode (0: the whole file)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds of casework then each SpiffWorkflow mode, one after the "
                             "other (the median ratio is printed at the end)")
    parser.add_argument("--venv", type=Path, default=BENCH / ".venv-spiff")
    args = parser.parse_args()
    python = spiff_python(args.venv)
    print(f"machine: {machine()}")
    process, xml = route_bpmn(tomllib.loads(ROUTE_FILE.read_text(encoding="utf-8")))
    labels = {"memory": "in memory", "sqlite": "SQLite, JSON per case written after every step"}
    ratios: dict[str, list[float]] = {mode: [] for mode in labels}
    for _ in range(max(args.repeat, 1)):
        lines, casework, casework_cpu, peak, apply_file = casework_apply(args.cases)
        bpmn = apply_file.with_name("kansen_in_kaart.bpmn")
        bpmn.write_text(xml, encoding="utf-8")
        print(f"route: Kansen in Kaart, selected -> {' -> '.join(t for t, _ in ROUTE)}: "
              f"6 states, {len(ROUTE)} transitions a case; {args.cases} cases = {lines} "
              "transitions")
        print(f"casework case apply (SQLite, whole process): {lines} transitions in "
              f"{lines / casework:6.2f} s = {casework:7.0f} transitions/s "
              f"({casework_cpu:.0f} per CPU second), peak {peak:.0f} MB")
        for mode, label in labels.items():
            result = run_spiff(python, mode, bpmn, process, apply_file,
                               apply_file.with_name(f"spiff-{mode}.db"), args.budget)
            seconds = result["startup"] + result["seconds"]
            rate = result["transitions"] / seconds
            rate_cpu = result["transitions"] / (result["startup_cpu"] + result["cpu_seconds"])
            ratio = casework / rate
            ratios[mode].append(ratio)
            print(f"SpiffWorkflow {result['version']} ({label}): {result['transitions']} "
                  f"transitions ({result['cases']} cases) in {seconds:6.2f} s (import and "
                  f"parse {result['startup']:.2f} s) = {rate:7.0f} transitions/s "
                  f"({rate_cpu:.0f} per CPU second), peak {result['peak_mb']:.0f} MB")
            print(f"  casework / SpiffWorkflow ({mode}): x{ratio:.1f} "
                  f"(per CPU second x{casework_cpu / rate_cpu:.1f}); "
                  f"target x{TARGET}: {'met' if ratio >= TARGET else 'not met'}")
    if args.repeat > 1:
        for mode, found in ratios.items():
            middle = statistics.median(found)
            print(f"median of {len(found)} rounds ({mode}): x{middle:.1f} "
                  f"(x{min(found):.1f} to x{max(found):.1f}); target x{TARGET}: "
                  f"{'met' if middle >= TARGET else 'not met'}")


if __name__ == "__main__":
    main()
