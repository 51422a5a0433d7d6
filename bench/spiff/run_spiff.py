"""Time SpiffWorkflow on a casework apply file; print the figures as one JSON line.

Runs in the bench's own SpiffWorkflow environment (bench/.venv-spiff), never in the project's.
Importing SpiffWorkflow and parsing the BPMN are timed (as casework's figure includes its
start-up); setting up the cases is not.

Usage: python run_spiff.py memory|sqlite ROUTE.bpmn PROCESS_ID APPLY.csv DB BUDGET_SECONDS
"""

from __future__ import annotations

import time


def main() -> None:
    start = time.perf_counter()
    import spiff_cases

    spiff_cases.main(start)


if __name__ == "__main__":
    main()
