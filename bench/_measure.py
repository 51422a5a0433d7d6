"""Run one casework command in this process; write its wall and CPU time (user and system,
start-up included) and peak memory as JSON.

Usage: python bench/_measure.py RESULT.json casework-args...
"""

from __future__ import annotations

import json
import resource
import sys
import time


def main() -> None:
    out, args = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    code = 0
    try:
        from casework.cli import cli

        cli.main(args=args, prog_name="casework", standalone_mode=False)
    except SystemExit as exc:
        code = int(exc.code or 0)
    elapsed = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_mb = usage.ru_maxrss / 1024
    with open(out, "w", encoding="utf-8") as fh:
        json.dump({"seconds": elapsed, "cpu_seconds": usage.ru_utime + usage.ru_stime,
                   "peak_mb": peak_mb, "exit_code": code}, fh)


if __name__ == "__main__":
    main()
