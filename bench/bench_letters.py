"""Letters per second: render 2,000 queued invitations in one process and in two; then the
mail-house batches (merged with pypdf, 500 letters each); peak memory per process.

Usage: python bench/bench_letters.py [--letters N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time

from common import BENCH, Scratch, machine, make_cohort

DAY = "2026-12-01"


def queue_letters(scratch: Scratch, count: int) -> None:
    """Queue count invitation letters through the route (invite each case)."""
    path = scratch.dir / "invite.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["case", "trigger", "appointment"])
        for case_id in range(1, count + 1):
            writer.writerow([case_id, "invite", "2099-01-05 10:00"])
    scratch.run("case", "apply", str(path))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--letters", type=int, default=2000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    for processes in (1, 2):
        # Every generated person is invited, whatever the exclusion rule would say.
        scratch = Scratch(args.database_url, extra='[rules]\ndisabled = ["exclusion"]\n')
        scratch.run("init")
        cohort = make_cohort(scratch.dir / "c.csv", args.letters)
        scratch.run("cohort", "import", str(cohort), "--workflow", "kansen-in-kaart")
        queue_letters(scratch, args.letters)
        out = scratch.dir / "out"
        start = time.perf_counter()
        workers = [subprocess.Popen(
            [sys.executable, str(BENCH / "_letters_run.py"), str(scratch.dir / f"r{n}.json"),
             str(out), DAY, "--no-batches"], env=scratch.env) for n in range(processes)]
        for worker in workers:
            worker.wait()
        wall = time.perf_counter() - start
        runs = [json.loads((scratch.dir / f"r{n}.json").read_text()) for n in range(processes)]
        rendered = sum(run["rendered"] for run in runs)
        print(f"render {rendered} letters, {processes} process(es): {wall:6.2f} s wall = "
              f"{rendered / wall:5.0f} letters/s; per process "
              + ", ".join(f"{run['rendered'] / run['render_seconds']:.0f}/s" for run in runs)
              + f"; peak {max(run['peak_mb'] for run in runs):.0f} MB")
        if processes == 1:
            subprocess.run([sys.executable, str(BENCH / "_letters_run.py"),
                            str(scratch.dir / "b.json"), str(out), DAY], env=scratch.env,
                           check=True)
            merge = json.loads((scratch.dir / "b.json").read_text())
            print(f"batches: {merge['batches']} of at most 500 merged with pypdf in "
                  f"{merge['merge_seconds']:.2f} s "
                  f"({args.letters / merge['merge_seconds']:.0f} letters/s), peak "
                  f"{merge['peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
