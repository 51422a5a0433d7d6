"""The processing log: what it records, the audit views, and its hash chains."""

from __future__ import annotations

import pytest
from conftest import Env, tamper
from helpers import bsn_of
from sqlalchemy import delete, select, update

from casework.models import AccessLog, Event


@pytest.fixture
def worked(cohort: Env) -> Env:
    """Some reads and changes by anna and bert."""
    cohort.ok("case", "list", "--wijk", "Vinkhuizen")
    cohort.ok("case", "show", "1")
    cohort.ok("case", "advance", "1", "invite", "--set", "appointment=2099-01-05 10:00")
    cohort.ok("case", "show", "2", user="bert")
    cohort.ok("letters", "render", user="bert")
    return cohort


def test_the_log_records_list_show_advance_and_render_with_who_and_why(worked: Env) -> None:
    rows = worked.json("audit", "--case", "1")
    actions = [(r["actor"], r["action"]) for r in rows]
    assert ("anna", "show") in actions and ("anna", "advance") in actions
    assert ("bert", "letters render") in actions
    assert all(r["case_ids"] == [1] for r in rows)
    assert {r["purpose"] for r in rows if r["action"] in ("show", "advance")} == {
        "project kansen-in-kaart"}
    # A listing is one row holding every case it showed.
    listing = [r for r in worked.json("audit", "--staff", "anna") if r["action"] == "list"]
    assert len(listing) == 1 and len(listing[0]["case_ids"]) > 1
    bert = worked.json("audit", "--staff", "bert", "--since", "2000-01-01")
    assert [r["action"] for r in bert][:2] == ["show", "letters render"]
    assert worked.json("audit", "--staff", "bert", "--since", "2099-01-01") == []


def test_what_a_person_may_ask_to_see_and_asking_is_logged(worked: Env) -> None:
    worked.ok("staff", "add", "pia", "--role", "admin")
    rows = worked.json("audit", "--bsn", bsn_of(1), user="pia")
    assert {r["action"] for r in rows} >= {"show", "advance", "letters render"}
    assert all(r["case_ids"] == [1] for r in rows)  # other people's cases left out
    assert worked.json("audit", "--case", "1")[-1]["actor"] == "pia"
    wrong = worked.run("audit", "--bsn", "123456789")
    assert wrong.exit_code == 1 and "123456789" not in wrong.output
    assert worked.json("audit", "--bsn", "111222333") == []


def test_verify_finds_a_changed_or_removed_entry(worked: Env) -> None:
    ok = worked.ok("audit", "verify")
    assert "processing log:" in ok.stdout and "intact" in ok.stdout
    rows = worked.json("audit", "--case", "1")
    show = next(r["id"] for r in rows if r["action"] == "show")
    tamper(worked, update(AccessLog).where(AccessLog.id == show).values(actor="mallory"))
    changed = worked.run("audit", "verify")
    assert changed.exit_code == 1 and f"entry {show} was changed" in changed.stdout
    tamper(worked, update(AccessLog).where(AccessLog.id == show).values(actor="anna"))
    assert worked.run("audit", "verify").exit_code == 0
    tamper(worked, delete(AccessLog).where(AccessLog.id == show))
    removed = worked.run("audit", "verify")
    assert removed.exit_code == 1
    assert f"does not follow entry {show - 1}" in removed.stdout


def test_the_case_history_is_sealed_by_the_daily_run_and_checked(worked: Env) -> None:
    before = worked.json("audit", "verify")
    assert before["events"]["unsealed"] > 0 and before["events"]["sealed"] == 0
    worked.ok("daily")
    after = worked.json("audit", "verify")
    assert after["ok"] and after["events"]["unsealed"] == 0
    assert after["events"]["sealed"] >= before["events"]["unsealed"]
    tamper(worked, update(Event).where(Event.case_id == 1, Event.seq == 2)
           .values(note="changed afterwards"))
    broken = worked.run("audit", "verify", "--json")
    assert broken.exit_code == 1
    assert "(case 1, step 2) was changed" in broken.stdout
    engine = worked.engine()
    try:
        with engine.db.connect() as conn:
            assert conn.execute(select(Event.hash).where(Event.case_id == 1)).scalars().all()
    finally:
        engine.db.dispose()


def test_audit_needs_a_question(env: Env) -> None:
    result = env.run("audit")
    assert result.exit_code == 2 and "--case ID, --staff NAME or --bsn BSN" in result.output


# Advances cases argv[2] to argv[3] (exclusive) as anna, the first at once, the others once a
# go-file exists (argv[4]): two of these append to the processing log at the same time.
_ADVANCER = """
import sys, time
from pathlib import Path
from casework.config import load_settings
from casework.engine import Engine
from casework.permissions import resolve
engine = Engine.from_config(load_settings(sys.argv[1]))
anna = resolve(engine, "anna")
engine.registry  # routes loaded before, not while the other one works
engine.advance(int(sys.argv[2]), "invite", anna, {"appointment": "2099-01-05 10:00"})
print("ready", flush=True)
while not Path(sys.argv[4]).exists():
    time.sleep(0.005)
for case_id in range(int(sys.argv[2]) + 1, int(sys.argv[3])):
    engine.advance(case_id, "invite", anna, {"appointment": "2099-01-05 10:00"})
"""


@pytest.mark.long
def test_two_processes_advancing_at_once_make_one_unbroken_chain(cohort: Env) -> None:
    import os
    import subprocess
    import sys

    from conftest import ROOT, lift_exclusions

    lift_exclusions(cohort)
    go = cohort.root / "go"
    variables = {**{k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")},
                 "PYTHONPATH": str(ROOT)}
    ranges = [(1, 91), (91, 181)]
    processes = [subprocess.Popen([sys.executable, "-c", _ADVANCER, str(cohort.config),
                                   str(first), str(end), str(go)], env=variables,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for first, end in ranges]
    for process in processes:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
    go.touch()
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    result = cohort.json("audit", "verify")
    assert result["ok"] and result["access_log"]["problem"] is None
    advances = [r for r in cohort.json("audit", "--staff", "anna", "--since", "2000-01-01")
                if r["action"] == "advance"]
    assert sorted(c for r in advances for c in r["case_ids"]) == list(range(1, 181))


def test_an_entry_rolled_back_leaves_the_chain_unbroken(cohort: Env) -> None:
    from helpers import staff

    from casework.access import log_access
    from casework.db import unit_of_work

    engine, other = cohort.engine(), cohort.engine()  # two processes, as it were
    try:
        anna = staff(engine, "anna")
        with pytest.raises(ZeroDivisionError), unit_of_work(engine) as conn:
            log_access(conn, anna, "show", [1], "project kansen-in-kaart", engine.now())
            1 / 0  # noqa: B018 - whatever fails after the entry was written
        with unit_of_work(engine) as conn:
            log_access(conn, anna, "show", [2], "project kansen-in-kaart", engine.now())
        with unit_of_work(other) as conn:  # the other one appends after it
            log_access(conn, anna, "show", [3], "project kansen-in-kaart", engine.now())
        with unit_of_work(engine) as conn:  # and this one's idea of the newest is stale
            log_access(conn, anna, "show", [4], "project kansen-in-kaart", engine.now())
    finally:
        engine.db.dispose()
        other.db.dispose()
    assert cohort.json("audit", "verify")["ok"]
    shown = [r["case_ids"] for r in cohort.json("audit", "--staff", "anna",
                                                "--since", "2000-01-01")]
    assert shown[-3:] == [[2], [3], [4]]
