#!/usr/bin/env bash
# Installs casework into .venv and runs lint and the test suite. Set
# CASEWORK_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) to run the
# database tests on PostgreSQL too. The tests run on every core (pytest-xdist); pass -n 0 to run
# them in one process (e.g. with -x or --pdb).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check casework tests bench examples
# The tests' databases and files go to memory (/dev/shm) when it has room: no test is about
# surviving a power cut, and every SQLite commit and close otherwise waits for the disk (a
# quarter of a CLI test's time). TMPDIR set by the caller wins.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ] && \
   [ "$(df -Pk /dev/shm | awk 'NR==2 {print $4}')" -gt 4000000 ]; then
  export TMPDIR=/dev/shm/casework-tests
  mkdir -p "$TMPDIR"
fi
.venv/bin/python -m pytest -n auto --dist loadgroup "$@"
