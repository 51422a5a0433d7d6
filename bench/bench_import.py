"""Cohort import: rows/s for a 100,000-row file, and peak memory at 10,000 vs 100,000 rows.
Besides wall time it prints rows per CPU second (user and system time of the importing
process, start-up included), which other work on a shared machine disturbs less.

Usage: python bench/bench_import.py [--rows N] [--database-url URL]
"""

from __future__ import annotations

import argparse

from common import Scratch, machine, make_cohort


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    for rows in sorted({10_000, args.rows}):
        scratch = Scratch(args.database_url)
        scratch.run("init")
        csv = make_cohort(scratch.dir / f"cohort-{rows}.csv", rows)
        first = scratch.measure("cohort", "import", str(csv), "--workflow", "kansen-in-kaart")
        again = scratch.measure("cohort", "import", str(csv), "--workflow", "kansen-in-kaart")
        print(f"import {rows:>7} rows: {first['seconds']:6.2f} s = "
              f"{rows / first['seconds']:8.0f} rows/s ({rows / first['cpu_seconds']:.0f} per "
              f"CPU second), peak {first['peak_mb']:.0f} MB; re-import (adds nothing): "
              f"{rows / again['seconds']:8.0f} rows/s ({rows / again['cpu_seconds']:.0f} per "
              "CPU second)")


if __name__ == "__main__":
    main()
