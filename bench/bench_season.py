"""A large season (20,000 people, 365 days): simulated days per second and peak memory.

Plays `casework simulate season` in a fresh process on a new folder (SQLite, or a fresh
PostgreSQL schema with --database-url) with every invariant checked after every day.
Goal: under 10 minutes, peak memory < 300 MB.

Usage: python bench/bench_season.py [--workflow ID] [--people N] [--days N] [--seed S]
       [--database-url URL]
(--workflow: any route; one but kansen-in-kaart plays the route-driven season.)
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import BENCH, ROOT, fresh_schema, machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflow", default="kansen-in-kaart")
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=2016)
    parser.add_argument("--start", default="2027-01-04")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="casework-season-"))
    out = folder / "season"
    command = ["--config", str(ROOT / "config.toml"), "simulate", "season", "--workflow",
               args.workflow, "--people",
               str(args.people), "--days", str(args.days), "--seed", str(args.seed),
               "--start", args.start, "--out", str(out), "--json"]
    if args.database_url:
        command += ["--database-url", fresh_schema(args.database_url)]
    result = folder / "measure.json"
    printed = folder / "season.json"
    try:
        with printed.open("w", encoding="utf-8") as fh:
            subprocess.run([sys.executable, str(BENCH / "_measure.py"), str(result), *command],
                           check=True, stdout=fh)
        data = json.loads(result.read_text(encoding="utf-8"))
        season = json.loads(printed.read_text(encoding="utf-8") or "{}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    where = "PostgreSQL" if args.database_url else "SQLite"
    print(f"season of {args.workflow}, {args.people:,} people, {args.days} days on {where} "
          f"({machine()}):")
    print(f"  {data['seconds']:.0f} s, {args.days / data['seconds']:.2f} days/s, peak memory "
          f"{data['peak_mb']:.0f} MB, exit code {data['exit_code']} (0: every invariant held)")
    if season.get("violation"):
        print(f"  stopped: {season['violation']}")
    elif season.get("outcomes") and args.workflow == "kansen-in-kaart":
        table = season["outcomes"]
        print(f"  approached {table['approached']:,}, spoken {table['spoken']:,}, referred "
              f"{table['referrals']['total']:,}, became active {table['became_active']:,}")


if __name__ == "__main__":
    main()
