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
