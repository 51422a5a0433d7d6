#!/usr/bin/env bash
# Installs casework into .venv and runs lint and the test suite. Set
# CASEWORK_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) to run the
# database tests on PostgreSQL too. The tests run on every core (pytest-xdist); pass -n 0 to run
# them in one process (e.g. with -x or --pdb).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check casework tests bench examples
.venv/bin/python -m pytest -n auto --dist loadgroup "$@"
