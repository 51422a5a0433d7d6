"""Report time against stored cases: every report for N cases (default 1,000,000), of which
every second one is invited and every fourth one was spoken to. The targets are for `outcomes`
and `response` (under 5 s on SQLite); the others are printed for information.

Usage: python bench/bench_reports.py [--cases N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import csv

from common import Scratch, machine, make_cohort


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    scratch = Scratch(args.database_url, extra='[rules]\ndisabled = ["exclusion"]\n')
    scratch.run("init")
    scratch.run("cohort", "import", str(make_cohort(scratch.dir / "c.csv", args.cases)),
                "--workflow", "kansen-in-kaart")
    steps = scratch.dir / "steps.csv"
    with steps.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["case", "trigger", "appointment", "classification",
                         "participation_potential"])
        for case_id in range(1, args.cases + 1, 2):
            writer.writerow([case_id, "invite", "2099-01-05 10:00", "", ""])
            if case_id % 4 == 1:
                writer.writerow([case_id, "hold_conversation", "", "not_active", "self"])
    scratch.run("case", "apply", str(steps))
    for name in ("outcomes", "response", "referrals", "follow-up", "caseload", "outflow",
                 "worklist"):
        run = scratch.measure("report", name, "--format", "json")
        print(f"report {name:<9} with {args.cases} cases stored: {run['seconds']:.2f} s, "
              f"peak {run['peak_mb']:.0f} MB")
    run = scratch.measure("report", "council", "--out", str(scratch.dir / "raad.html"))
    print(f"report council   with {args.cases} cases stored: {run['seconds']:.2f} s, "
          f"peak {run['peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
