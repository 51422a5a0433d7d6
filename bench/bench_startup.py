"""Start-up time of casework commands, each in a fresh process (best and median of the runs).

`casework --help`, then everyday commands on a small SQLite database (`casework init`, a staff
member with every role and the 200-person example cohort): the whole command, start-up and
answer, as a user waits for it. Each command runs once before it is timed, so Python's
bytecode cache is written as on an installed casework. The CPU seconds of the process are
shown beside the wall time: on a busy machine they say what the command itself costs.

SQLAlchemy's own import (``python -c "import sqlalchemy"``) is timed the same way first: on a
slow machine it alone can take the target's 0.3 s. Each command's line ends with what it costs
beyond that baseline (best wall and best CPU time minus the baseline's), the part casework
controls.

Usage: python bench/bench_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, Scratch, machine

TARGET = 0.3  # seconds, issue 15

COMMANDS: tuple[tuple[str, ...], ...] = (
    ("case", "apply", "--dry-run", "{apply}"),
    ("case", "show", "1"),
    ("case", "list"),
    ("task", "list"),
    ("daily", "--status"),
    ("report", "outcomes"),
    ("letters", "list"),
)


def timed(command: list[str], env: dict[str, str] | None, runs: int) -> tuple[list[float],
                                                                                list[float]]:
    """Return the wall and CPU seconds of each run of command."""
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)  # warm-up
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return walls, cpus


def line(name: str, walls: list[float], cpus: list[float],
         baseline: tuple[float, float] | None = None) -> str:
    best, median = min(walls), statistics.median(walls)
    verdict = "" if best < TARGET else "  (target < 0.3 s: not met)"
    beyond = "" if baseline is None else (
        f"; beyond sqlalchemy {best - baseline[0]:+.3f} s, cpu {min(cpus) - baseline[1]:+.3f} s")
    return (f"{name:<32} best {best:.3f} s, median {median:.3f} s "
            f"(cpu best {min(cpus):.3f} s){beyond}{verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    script = Path(sys.executable).with_name("casework")
    casework = [str(script)] if script.exists() else [shutil.which("casework") or "casework"]
    print(f"machine: {machine()}")

    # Bytecode is written by the warm-up runs (as on an installed casework), also when the
    # environment says not to: a changed module would otherwise be compiled on every run.
    plain = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    walls, cpus = timed([sys.executable, "-c", "import sqlalchemy"], plain, max(args.runs, 15))
    baseline = (min(walls), min(cpus))
    print(line("python -c 'import sqlalchemy'", walls, cpus).split("  (target")[0]
          + "  (baseline)")

    walls, cpus = timed([*casework, "--help"], plain, max(args.runs, 15))
    print(line("casework --help", walls, cpus))

    scratch = Scratch()
    scratch.env.pop("PYTHONDONTWRITEBYTECODE", None)
    scratch.run("init")
    scratch.run("cohort", "import", str(ROOT / "examples" / "cohort.csv"),
                "--workflow", "kansen-in-kaart")
    apply = scratch.dir / "apply.csv"
    apply.write_text("case,trigger,appointment\n3,invite,2099-01-05 10:00\n", encoding="utf-8")
    for command in COMMANDS:
        argv = [part.format(apply=apply) for part in command]
        walls, cpus = timed([*casework, *argv], scratch.env, args.runs)
        name = "casework " + " ".join(command).replace("{apply}", "one-line.csv")
        print(line(name, walls, cpus, baseline))

    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    print(f"(bare python start: {time.perf_counter() - start:.3f} s)")


if __name__ == "__main__":
    main()
