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
cw task list --kind reminder_call --limit 5
echo
cw case list --workflow kansen-in-kaart --wijk Vinkhuizen --open --limit 5
echo
# The next steps name a case that was invited and the first day with calls.
first_case=$(cw case list --workflow kansen-in-kaart --state invited --json --limit 1 \
  | .venv/bin/python -c 'import json,sys; c=json.load(sys.stdin)["cases"]; print(c[0]["id"] if c else 1)')
call_day=$(cw task list --kind reminder_call --json --limit 1 \
  | .venv/bin/python -c 'import json,sys; t=json.load(sys.stdin)["tasks"]; print(t[0]["due"] if t else "")')
echo "Next, in this shell:"
echo "  source .venv/bin/activate; export CASEWORK_USER=$CASEWORK_USER"
echo "  casework case show $first_case                    case $first_case, invited, with its appointment"
echo "  casework case triggers $first_case                what can happen to it next"
if [ -n "$call_day" ]; then
  echo "  casework task list --due $call_day     the reminder calls of that day"
fi
echo "  casework daily --status                   the last daily runs"
