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
# The first staff member is an admin; the demo user also does the back office, coordinates
# and works cases.
if ! cw staff list --json >/dev/null 2>&1; then
  cw staff add "$CASEWORK_USER" --role admin --role back_office --role coordinator \
    --role case_worker --full-name "Demo"
fi
cw cohort import examples/cohort.csv --workflow kansen-in-kaart
echo
cw workflow show kansen-in-kaart
echo
# The first wave in Vinkhuizen, once: invitations with proposed appointments from next week.
if cw case list --workflow kansen-in-kaart --wijk Vinkhuizen --state invited --json --limit 1 \
    | grep -q '"total": 0'; then
  cw cohort plan --workflow kansen-in-kaart --wijk Vinkhuizen --size 20 \
    --from "$(date -d '+7 days' +%F)" --specialists 2
fi
echo
cw daily
echo
cw task list --kind reminder_call --limit 10
echo
cw case list --workflow kansen-in-kaart --open --limit 10
echo
echo "Next (after: source .venv/bin/activate):"
echo "  casework case triggers 1                  what can happen to case 1"
echo "  casework task list --due $(date +%F)      today's calls"
echo "  casework daily --status                   the last daily runs"
