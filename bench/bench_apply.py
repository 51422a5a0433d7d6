"""Persisted transitions per second: bulk (`casework case apply`) and one advance per transaction.

Imports N cases, then advances all of them through the Kansen in Kaart route with one apply
file (invite, hold_conversation, refer, start_activity, close: 5 transitions per case), and
times `Engine.advance` (one transaction each, as a case worker does) on other cases, in a
process that copies SQLite's write-ahead log aside as `casework serve` does (db.checkpoints_aside).

Usage: python bench/bench_apply.py [--cases N] [--single N] [--database-url URL] [--profile F]

`--cases 0` measures only the single advances (on --single cases, no bulk apply); --profile
writes a cProfile of them to F (read it with `python -m pstats F`).
`--single 0` leaves out the advances: `--cases 10000 --single 0` is the quick run.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

from common import Scratch, machine, make_cohort

ROUTE = [
    ("invite", {"appointment": "2099-01-05 10:00"}),
    ("hold_conversation", {"classification": "not_active", "participation_potential": "supported",
                           "activity_kinds": "volunteering|activities",
                           "themes.health": "gaat redelijk",
                           "consent": "record_report|share:coach_meedoen"}),
    ("refer", {"partner": "coach_meedoen"}),
    ("start_activity", {"activity": "volunteering"}),
    ("close", {"reason": "completed"}),
]


def write_apply_file(path: Path, case_ids: range) -> int:
    columns = ["case", "trigger", "appointment", "classification", "participation_potential",
               "activity_kinds", "themes.health", "consent", "partner", "activity", "reason"]
    lines = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, columns, restval="")
        writer.writeheader()
        for case_id in case_ids:
            for trigger, data in ROUTE:
                writer.writerow({"case": case_id, "trigger": trigger, **data})
                lines += 1
    return lines


def single_advances(scratch: Scratch, first: int, count: int,
                    profile: str | None = None) -> tuple[float, float]:
    """Return advances per second of wall time and per second of CPU time."""
    from casework.config import load_settings
    from casework.engine import Engine
    from casework.permissions import resolve

    engine = Engine.from_config(load_settings(scratch.config))
    bench = resolve(engine, "bench")  # as the CLI does once per command
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    from casework.db import checkpoints_aside

    # As the web front runs them (casework serve copies SQLite's log aside while it serves).
    start, cpu = time.perf_counter(), time.process_time()
    with checkpoints_aside(engine):
        for case_id in range(first, first + count):
            engine.advance(case_id, "invite", bench, {"appointment": "2099-01-05 10:00"})
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    return count / wall, count / cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--single", type=int, default=10_000)
    parser.add_argument("--database-url")
    parser.add_argument("--profile", help="write a cProfile of the single advances here")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    sizes = sorted({10_000, args.cases}) if args.cases else [0]
    for cases in sizes:
        # Every generated person is invited, whatever the exclusion rule would say (it now
        # refuses inviting an excluded person by hand or in a file).
        scratch = Scratch(args.database_url, extra='[rules]\ndisabled = ["exclusion"]\n')
        scratch.run("init")
        total = cases + args.single
        scratch.run("cohort", "import", str(make_cohort(scratch.dir / "c.csv", total)),
                    "--workflow", "kansen-in-kaart")
        if cases:
            apply_file = scratch.dir / "apply.csv"
            lines = write_apply_file(apply_file, range(1, cases + 1))
            bulk = scratch.measure("case", "apply", str(apply_file))
            assert bulk["exit_code"] == 0, bulk
            print(f"case apply, {cases:>7} cases x 5 = {lines} transitions: "
                  f"{bulk['seconds']:6.2f} s = {lines / bulk['seconds']:8.0f} transitions/s "
                  f"({lines / bulk['cpu_seconds']:.0f} per CPU second), "
                  f"peak {bulk['peak_mb']:.0f} MB")
        if cases == args.cases and args.single:
            import os

            os.environ["CASEWORK_CONFIG"] = str(scratch.config)
            rate, cpu_rate = single_advances(scratch, cases + 1, args.single, args.profile)
            print(f"advance, one transaction each ({args.single} with {total} cases stored): "
                  f"{rate:8.0f} transitions/s ({cpu_rate:.0f} per CPU second)")


if __name__ == "__main__":
    main()
