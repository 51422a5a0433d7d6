#!/usr/bin/env bash
# The main job on the embedded default (SQLite file casework.db next to config.toml):
# install, create the database, load the Kansen in Kaart route and the sample cohort,
# and show the work. Safe to run again: nothing is imported twice.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CASEWORK_USER="${CASEWORK_USER:-demo}"
cw() { .venv/bin/casework "$@"; }

cw init
cw workflow validate
if ! cw staff list --json | grep -q "\"name\": \"$CASEWORK_USER\""; then
  cw staff add "$CASEWORK_USER" --role back_office --full-name "Demo back office"
fi
cw cohort import examples/cohort.csv --workflow kansen-in-kaart
echo
cw workflow show kansen-in-kaart
echo
cw case list --workflow kansen-in-kaart --open --limit 15
echo
echo "Next: 'casework case triggers 1', then for example"
echo "  casework case advance 1 invite --set appointment='YYYY-MM-DD 10:00' --as $CASEWORK_USER"
echo "(activate the environment first: source .venv/bin/activate)"
