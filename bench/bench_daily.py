"""Daily run cost against what is stored: 100,000 vs 1,000,000 cases with the same 10,000 due.

Each installation stores N cases (cohort import) and one open, not-yet-due task per case; 10,000
of the cases also get an overdue task the run must escalate. The run should cost what is due:
the ratio of the two run times should stay near 1 (target <= 1.3), peak memory < 300 MB.

Usage: python bench/bench_daily.py [--small N] [--large N] [--due N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import random
from datetime import UTC, date, datetime

from common import Scratch, machine, make_cohort

RUN_DATE = date(2027, 6, 1)


def add_tasks(scratch: Scratch, cases: int, due: int) -> None:
    from sqlalchemy import create_engine, insert

    from casework.models import Task

    engine = create_engine(scratch.url)
    now = datetime.now(UTC)
    spec = {"rounds": 1}

    def row(case_id: int, key: str, when: date, system: bool) -> dict[str, object]:
        return {"key": key, "case_id": case_id, "kind": "referral_answer" if system else
                "follow_up_call", "due": when, "round": 1, "status": "open", "attempts": 0,
                "created_at": now, "performer": "system" if system else "staff",
                "scope": "state", "spec": spec, "escalate_to": "coordinator" if system else None,
                "label": "bench"}

    table = Task.__table__
    with engine.begin() as conn:
        batch = []
        for case_id in range(1, cases + 1):
            batch.append(row(case_id, f"later:{case_id}", date(2099, 1, 1), False))
            if len(batch) == 20_000:
                conn.execute(insert(table), batch)
                batch = []
        for case_id in random.Random(1).sample(range(1, cases + 1), due):
            batch.append(row(case_id, f"due:{case_id}", date(2027, 5, 3), True))
            if len(batch) == 20_000:
                conn.execute(insert(table), batch)
                batch = []
        if batch:
            conn.execute(insert(table), batch)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    times = {}
    for cases in (args.small, args.large):
        scratch = Scratch(args.database_url)
        scratch.run("init")
        scratch.run("cohort", "import", str(make_cohort(scratch.dir / "c.csv", cases)),
                    "--workflow", "kansen-in-kaart")
        add_tasks(scratch, cases, args.due)
        # The history so far is sealed before (as the previous days' runs did): the measured
        # run seals only the steps it takes itself.
        scratch.run("audit", "seal")
        run = scratch.measure("daily", "--date", RUN_DATE.isoformat())
        again = scratch.measure("daily", "--date", RUN_DATE.isoformat())
        times[cases] = run["seconds"]
        print(f"daily run, {cases:>9} cases stored, {args.due} due: {run['seconds']:6.2f} s "
              f"({args.due / run['seconds']:6.0f} items/s), peak {run['peak_mb']:.0f} MB; "
              f"rerun (nothing left): {again['seconds']:.2f} s")
    ratio = times[args.large] / times[args.small]
    print(f"ratio {args.large} / {args.small} cases: {ratio:.2f} (target <= 1.3)")


if __name__ == "__main__":
    main()
