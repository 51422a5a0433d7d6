"""Start-up time of `casework --help` (best and median of 15 runs, in a fresh process each).

Usage: python bench/bench_startup.py
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import machine


def main() -> None:
    script = Path(sys.executable).with_name("casework")
    command = [str(script)] if script.exists() else [shutil.which("casework") or "casework"]
    print(f"machine: {machine()}")
    times = []
    for _ in range(15):
        start = time.perf_counter()
        subprocess.run([*command, "--help"], check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    print(f"casework --help: best {min(times):.3f} s, median {statistics.median(times):.3f} s")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    print(f"(bare python start: {time.perf_counter() - start:.3f} s)")


if __name__ == "__main__":
    main()
