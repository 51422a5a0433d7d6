"""Letters per second: render 2,000 queued letters in one process and in two, merge the batches.

Usage: python bench/bench_letters.py [--letters N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from common import BENCH, Scratch, machine, make_cohort


def queue_letters(scratch: Scratch, count: int) -> None:
    """Queue count invitation letters through the route (invite each case)."""
    import csv

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
        if processes == 1:
            run = scratch.measure("letters", "render", "--out", str(out), "--date", "2026-12-01")
            peak = run["peak_mb"]
        else:
            workers = [subprocess.Popen(
                [sys.executable, str(BENCH / "_measure.py"), str(scratch.dir / f"m{n}.json"),
                 "letters", "render", "--out", str(out), "--date", "2026-12-01"],
                env=scratch.env, stdout=subprocess.DEVNULL) for n in range(processes)]
            for worker in workers:
                worker.wait()
            import json

            peak = max(json.loads((scratch.dir / f"m{n}.json").read_text())["peak_mb"]
                       for n in range(processes))
        seconds = time.perf_counter() - start
        batches = sorted((out / "2026-12-01").glob("batch-*.pdf"))
        print(f"{args.letters} letters, {processes} process(es): {seconds:6.2f} s = "
              f"{args.letters / seconds:6.0f} letters/s (batches included: {len(batches)}), "
              f"peak {peak:.0f} MB")
        if processes == 1:
            from pypdf import PdfWriter

            start = time.perf_counter()
            writer = PdfWriter()
            for pdf in sorted((out / "2026-12-01" / "letters").glob("*.pdf"))[:500]:
                writer.append(str(pdf))
            with (scratch.dir / "merge.pdf").open("wb") as fh:
                writer.write(fh)
            print(f"merging one batch of 500 letters with pypdf: "
                  f"{time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
