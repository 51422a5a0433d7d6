"""Render the letter queue in this process and report the two phases as JSON.

Usage: python bench/_letters_run.py RESULT.json OUT_DIR DATE [--no-batches]
(CASEWORK_CONFIG names the installation.)
"""

from __future__ import annotations

import json
import resource
import sys
import time
from datetime import date
from pathlib import Path


def main() -> None:
    from casework.config import load_settings
    from casework.engine import Engine
    from casework.mailroom import RenderSummary, _render_all, form_batches

    result, out, day = sys.argv[1], Path(sys.argv[2]), date.fromisoformat(sys.argv[3])
    engine = Engine.from_config(load_settings())
    summary = RenderSummary(run_date=day)
    start = time.perf_counter()
    _render_all(engine, day, out, summary, None, None)
    rendered = time.perf_counter()
    batches = [] if "--no-batches" in sys.argv else form_batches(engine, day, out)
    merged = time.perf_counter()
    Path(result).write_text(json.dumps({
        "rendered": summary.rendered, "render_seconds": rendered - start,
        "batches": len(batches), "merge_seconds": merged - rendered,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }), encoding="utf-8")


if __name__ == "__main__":
    main()
