"""Mail-house batches keep their word: a batch is sealed when made (its letters, PDF and
manifest never change), a letter cancelled while its batch has not gone is marked to be
pulled and the command that cancelled it names the batch, a batch marked sent never changes,
a batch re-made later holds freshly rendered letters (none for an appointment that has
passed), and batch files that no longer match a batch are removed."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import Env, lift_exclusions, tamper
from helpers import advance, flat, invite, pdf_text, render, staff
from sqlalchemy import delete, update
from test_letters_lifecycle import (
    CONVERSATION,
    letter,
    listed,
    manifest_ids,
    out_dir,
)

from casework.batches import list_batches, remake_batch
from casework.letters import dutch_date
from casework.mailroom import render_queue
from casework.models import Batch, Letter
from casework.outfiles import remove_outputs


@pytest.fixture
def cohort(cohort: Env) -> Env:
    """The sample cohort with its exclusions lifted: the tests here invite whom they like
    (the exclusion rule is tested in test_exclusion.py)."""
    return lift_exclusions(cohort)


FAR = "2100-01-04 10:00"
GRONINGEN = ZoneInfo("Europe/Amsterdam")


# --- helpers ----------------------------------------------------------------------------------


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files_of(env: Env, batch: dict[str, Any]) -> tuple[Path, Path]:
    return out_dir(env) / batch["pdf"], out_dir(env) / batch["manifest"]


def batches(env: Env, *args: str) -> list[dict[str, Any]]:
    return env.json("letters", "batch", "list", *args)["batches"]  # type: ignore[no-any-return]


def batch_named(env: Env, name: str) -> dict[str, Any]:
    [found] = [b for b in batches(env) if b["batch"] == name]
    return found


START = datetime.now(UTC)


def days_later(days: int) -> Callable[[], datetime]:
    """A clock `days` days after the test started (the letters' life goes on for a week)."""
    return lambda: START + timedelta(days=days)


def appointment_in(days: int) -> str:
    """An appointment at 10:00, `days` days after today, as a --set value."""
    return f"{(START + timedelta(days=days)).astimezone(GRONINGEN).date().isoformat()} 10:00"


def render_on(env: Env, days: int) -> dict[str, Any]:
    """Render the queue through the core, `days` days after today."""
    engine = env.engine(clock=days_later(days))
    try:
        today = engine.now().astimezone(engine.tz).date()
        return render_queue(engine, today).as_dict()
    finally:
        engine.db.dispose()


def age(*paths: Path, seconds: int = 3600) -> None:
    for path in paths:
        moment = time.time() - seconds
        os.utime(path, (moment, moment))


# --- sealed when made: cancelling marks the letter to be pulled -------------------------------


def test_cancelling_a_batched_letter_keeps_the_batch_sealed_and_marks_it_to_pull(
        cohort: Env) -> None:
    invite(cohort, 1, 2, 3)
    [batch] = render(cohort)["batches"]
    pdf, manifest = files_of(cohort, batch)
    sealed = (digest(pdf), digest(manifest))

    out = cohort.ok("letters", "cancel", "2").stdout
    assert "Letter 2 cancelled." in out
    assert (f"letter 2 (uitnodiging, case 2) is in batch {batch['batch']}, not yet sent: pull "
            "it from the batch before posting") in out
    assert [(item["id"], item["status"], item["batch"]) for item in listed(cohort)] == [
        (3, "in_batch", batch["batch"]), (2, "to_pull", batch["batch"]),
        (1, "in_batch", batch["batch"])]
    assert (digest(pdf), digest(manifest)) == sealed
    assert sorted(manifest_ids(cohort, batch)) == [1, 2, 3]

    again = render(cohort)  # nothing is taken apart, so nothing is batched again
    assert (again["rendered"], again["batches"]) == (0, [])
    listed_batch = batch_named(cohort, batch["batch"])
    assert (listed_batch["status"], listed_batch["letters"], listed_batch["to_pull"],
            listed_batch["to_post"]) == ("made", 3, 1, 2)


def test_letters_cancel_json_names_the_batch_to_pull_from(cohort: Env) -> None:
    invite(cohort, 1, 2)
    [batch] = render(cohort)["batches"]
    invite(cohort, 3)
    pulled = cohort.json("letters", "cancel", "1")
    assert (pulled["status"], pulled["batch"], pulled["case_id"]) == (
        "to_pull", batch["batch"], 1)
    assert pulled["to_pull"] == [{"letter": 1, "case_id": 1, "template": "uitnodiging",
                                  "batch": batch["batch"]}]
    queued = cohort.json("letters", "cancel", "3")
    assert (queued["status"], queued["batch"], queued["to_pull"]) == ("cancelled", None, [])
    twice = cohort.run("letters", "cancel", "1")
    assert twice.exit_code == 1
    assert f"already marked to be pulled from batch {batch['batch']}" in twice.stderr


def test_declining_names_the_batch_its_invitation_must_be_pulled_from(cohort: Env) -> None:
    invite(cohort, 1, 2)
    [batch] = render(cohort)["batches"]
    step = cohort.json("case", "advance", "1", "decline")
    assert step["to_pull"] == [{"letter": 1, "case_id": 1, "template": "uitnodiging",
                                "batch": batch["batch"]}]
    out = cohort.ok("case", "advance", "2", "close", "--set", "reason=no_support_needed").stdout
    assert f"letter 2 (uitnodiging, case 2) is in batch {batch['batch']}, not yet sent" in out
    assert {item["id"]: item["status"] for item in listed(cohort)
            if item["template"] == "uitnodiging"} == {1: "to_pull", 2: "to_pull"}
    assert sorted(manifest_ids(cohort, batch)) == [1, 2]


def test_moving_an_appointment_pulls_the_invitation_already_in_a_batch(cohort: Env) -> None:
    """The season simulation found invitations posted with the old time after a reschedule:
    the newer invitation replaced only a queued one."""
    invite(cohort, 1, 2)
    [batch] = render(cohort)["batches"]
    step = cohort.json("case", "advance", "1", "reschedule", "--set",
                       f"appointment={appointment_in(30)}")
    assert step["to_pull"] == [{"letter": 1, "case_id": 1, "template": "uitnodiging",
                                "batch": batch["batch"]}]
    statuses = {item["id"]: item["status"] for item in listed(cohort)}
    assert (statuses[1], statuses[2]) == ("to_pull", "in_batch")
    assert sorted(s for i, s in statuses.items() if i > 2) == ["queued"]  # the new time
    assert sorted(manifest_ids(cohort, batch)) == [1, 2]  # the batch itself never changes


def test_a_conversation_held_before_the_invitation_is_posted_pulls_it(cohort: Env) -> None:
    """Found by the large season: the person came in before the invitation was posted; the
    letter proposing an appointment that is over must not go out."""
    invite(cohort, 1, 2)
    [batch] = render(cohort)["batches"]
    step = cohort.json("case", "advance", "1", "hold_conversation", "--set",
                       "classification=not_active", "--set", "participation_potential=none")
    assert step["to_pull"] == [{"letter": 1, "case_id": 1, "template": "uitnodiging",
                                "batch": batch["batch"]}]
    statuses = {item["id"]: item["status"] for item in listed(cohort)}
    assert (statuses[1], statuses[2]) == ("to_pull", "in_batch")


def test_withdrawing_consent_names_the_batch_its_referral_letter_must_be_pulled_from(
        cohort: Env) -> None:
    invite(cohort, 1)
    advance(cohort, 1, *CONVERSATION)
    advance(cohort, 1, "refer", "--set", "partner=wij_team")
    [batch] = render(cohort)["batches"]
    [referral] = [item for item in listed(cohort) if item["template"] == "verwijzing"]

    data = cohort.json("consent", "withdraw", "1", "share:wij_team", "--how", "phone")
    assert data["cancelled"]["letters"] == 1
    assert data["to_pull"] == [{"letter": referral["id"], "case_id": 1,
                                "template": "verwijzing", "batch": batch["batch"]}]
    assert letter(cohort, referral["id"])["status"] == "to_pull"
    assert letter(cohort, 1)["status"] == "in_batch"


def test_closing_cases_from_an_apply_file_names_the_batches_to_pull_from(cohort: Env) -> None:
    invite(cohort, 1, 2, 3)
    [batch] = render(cohort)["batches"]
    lines = cohort.root / "close.csv"
    lines.write_text("case,trigger,reason\n1,close,no_support_needed\n", encoding="utf-8")
    data = cohort.json("case", "apply", str(lines))
    assert data["to_pull"] == [{"letter": 1, "case_id": 1, "template": "uitnodiging",
                                "batch": batch["batch"]}]
    lines.write_text("case,trigger,reason\n2,close,no_support_needed\n", encoding="utf-8")
    out = cohort.ok("case", "apply", str(lines)).stdout
    assert f"letter 2 (uitnodiging, case 2) is in batch {batch['batch']}, not yet sent" in out
    assert batch_named(cohort, batch["batch"])["to_pull"] == 2


# --- handed over: sent, pulled, never changed again -------------------------------------------


def test_marking_sent_records_the_pulled_letters_and_the_batch_never_changes_again(
        cohort: Env) -> None:
    invite(cohort, 1, 2, 3)
    [batch] = render(cohort)["batches"]
    pdf, manifest = files_of(cohort, batch)
    cohort.ok("letters", "cancel", "2")
    sealed = (digest(pdf), digest(manifest))

    sent = cohort.json("letters", "batch", "mark-sent", batch["batch"])
    assert (sent["sent"], sent["pulled"]) == (2, [2])
    assert {item["id"]: item["status"] for item in listed(cohort)} == {
        1: "sent", 2: "pulled", 3: "sent"}
    listed_batch = batch_named(cohort, batch["batch"])
    assert (listed_batch["status"], listed_batch["sent_by"]) == ("sent", "anna")
    assert listed_batch["sent_at"] is not None

    for refused in (("letters", "cancel", "1"), ("letters", "cancel", "2"),
                    ("letters", "batch", "mark-sent", batch["batch"]),
                    ("letters", "batch", "remake", batch["batch"])):
        result = cohort.run(*refused)
        assert result.exit_code == 1, refused
    remade = cohort.run("letters", "batch", "remake", batch["batch"])
    assert "already marked sent" in remade.stderr
    assert "never changes" in remade.stderr
    assert cohort.json("case", "advance", "3", "decline")["to_pull"] == []  # it went out

    assert (digest(pdf), digest(manifest)) == sealed
    assert {item["id"]: item["status"] for item in listed(cohort)
            if item["template"] == "uitnodiging"} == {1: "sent", 2: "pulled", 3: "sent"}
    assert batch_named(cohort, batch["batch"]) == {**listed_batch}


def test_batch_list_shows_each_batch_with_its_counts_status_and_dates(cohort: Env) -> None:
    invite(cohort, 1, 2, 3)
    [first] = render(cohort)["batches"]
    cohort.ok("letters", "cancel", "3")
    cohort.ok("letters", "batch", "mark-sent", first["batch"])
    invite(cohort, 4)
    [second] = render(cohort)["batches"]

    listed_batches = batches(cohort)
    assert [(b["batch"], b["status"], b["letters"], b["to_pull"], b["to_post"])
            for b in listed_batches] == [(second["batch"], "made", 1, 0, 1),
                                         (first["batch"], "sent", 3, 1, 2)]
    newest, oldest = listed_batches
    assert newest["sent_at"] is None and oldest["sent_at"] is not None
    assert datetime.fromisoformat(newest["made_at"]).utcoffset() is not None
    assert newest["pdf"].endswith(second["pdf"])
    assert [b["batch"] for b in batches(cohort, "--status", "made")] == [second["batch"]]

    out = cohort.ok("letters", "batch", "list").stdout
    assert first["batch"] in out and second["batch"] in out
    assert "2 batch(es)" in out
    unknown = cohort.run("letters", "batch", "list", "--status", "gone")
    assert unknown.exit_code == 2


def test_an_unknown_or_misspelt_batch_is_refused_in_one_line(cohort: Env) -> None:
    unknown = cohort.run("letters", "batch", "remake", "20991201-999")
    assert unknown.exit_code == 1
    assert "no batch 20991201-999" in unknown.stderr
    typo = cohort.run("letters", "batch", "mark-sent", "batch-123456789")
    assert typo.exit_code == 1
    assert "is not a batch name" in typo.stderr
    assert "123456789" not in typo.stderr  # a number typed may be a BSN: never echoed


# --- re-made later: freshly rendered, nothing for an appointment that has passed ------------


def test_a_batch_remade_a_week_later_holds_letters_dated_that_day_and_none_for_a_passed_appointment(
        cohort: Env) -> None:
    advance(cohort, 1, "invite", "--set", f"appointment={appointment_in(6)}")
    advance(cohort, 2, "invite", "--set", f"appointment={FAR}")
    [made] = render_on(cohort, 1)["batches"]
    pdf, manifest = files_of(cohort, made)
    assert pdf.is_file() and manifest.is_file()

    week_later = cohort.engine(clock=days_later(8))
    try:
        result = remake_batch(week_later, staff(week_later, "anna"), made["batch"])
        today = week_later.now().astimezone(week_later.tz).date()
        summary = render_queue(week_later, today).as_dict()
        listing = {b["batch"]: b for b in
                   list_batches(week_later, staff(week_later, "anna"))["batches"]}
    finally:
        week_later.db.dispose()

    [requeued] = result["queued"]
    assert (requeued["replaces"], requeued["case_id"]) == (2, 2)
    [dropped] = result["not_queued"]
    assert dropped["letter"] == 1 and "has passed" in dropped["reason"]
    assert not pdf.exists() and not manifest.exists()

    [fresh] = summary["batches"]
    assert manifest_ids(cohort, fresh) == [requeued["letter"]]
    text = flat(pdf_text(out_dir(cohort) / fresh["pdf"]))
    assert f"Datum {dutch_date(today)}" in text
    assert "4 januari 2100" in text
    assert listing[made["batch"]]["status"] == "remade"
    assert listing[fresh["batch"]]["status"] == "made"

    # Each letter is in one batch: the old ones stay in the re-made batch, never sent.
    by_id = {item["id"]: item for item in listed(cohort)}
    assert (by_id[1]["status"], by_id[1]["batch"]) == ("cancelled", made["batch"])
    assert "has passed" in by_id[1]["reason"]
    assert (by_id[2]["status"], by_id[2]["batch"]) == ("cancelled", made["batch"])
    assert by_id[requeued["letter"]]["batch"] == fresh["batch"]


def test_remaking_through_the_cli_makes_a_new_batch_and_leaves_pulled_letters_out(
        cohort: Env) -> None:
    invite(cohort, 1, 2, 3)
    [old] = render(cohort)["batches"]
    cohort.ok("letters", "cancel", "2")

    data = cohort.json("letters", "batch", "remake", old["batch"])
    assert [(q["replaces"], q["case_id"]) for q in data["queued"]] == [(1, 1), (3, 3)]
    assert data["not_queued"] == []
    [new] = data["render"]["batches"]
    assert new["batch"] != old["batch"] and new["letters"] == 2
    assert sorted(manifest_ids(cohort, new)) == sorted(q["letter"] for q in data["queued"])
    assert letter(cohort, 2)["status"] == "cancelled"  # pulled before; never goes out now
    assert cohort.run("letters", "batch", "mark-sent", old["batch"]).exit_code == 1
    assert [b["status"] for b in batches(cohort)] == ["made", "remade"]


# --- old batch files, and letters rendered but never batched ----------------------------------


def test_a_letter_rendered_on_an_earlier_day_and_never_batched_is_rendered_again_or_dropped(
        cohort: Env) -> None:
    """An older version took a batch apart when a letter in it was cancelled and batched its
    other letters again later, as they were: a week-old letter for a passed appointment."""
    advance(cohort, 1, "invite", "--set", f"appointment={FAR}")
    advance(cohort, 2, "invite", "--set", f"appointment={appointment_in(6)}")
    [old] = render_on(cohort, 1)["batches"]
    pdf, manifest = files_of(cohort, old)
    tamper(cohort, update(Letter).where(Letter.batch == old["batch"])
           .values(status="rendered", batch=None),
           delete(Batch).where(Batch.name == old["batch"]))
    age(pdf, manifest)

    summary = render_on(cohort, 8)
    assert sorted(summary["removed_files"]) == sorted([old["pdf"], old["manifest"]])
    assert not pdf.exists() and not manifest.exists()
    assert [(r["letter"], r["status"]) for r in summary["renewed"]] == [
        (1, "queued"), (2, "cancelled")]
    assert "has passed" in letter(cohort, 2)["reason"]
    [fresh] = summary["batches"]
    assert manifest_ids(cohort, fresh) == [1]
    eighth = (START + timedelta(days=8)).astimezone(GRONINGEN).date()
    assert f"Datum {dutch_date(eighth)}" in flat(pdf_text(out_dir(cohort) / fresh["pdf"]))


def test_only_batch_files_that_match_no_batch_are_removed(cohort: Env) -> None:
    invite(cohort, 1)
    [kept] = render(cohort)["batches"]
    folder = (out_dir(cohort) / kept["pdf"]).parent
    stale = folder / "batch-20000101-999.pdf"
    young = folder / "batch-20000101-998.pdf"  # a run may be recording it right now
    notes = folder / "notes.pdf"
    for path in (stale, young, notes):
        path.write_bytes(b"%PDF-1.7")
    age(stale, notes, *files_of(cohort, kept))

    summary = render(cohort)
    assert summary["removed_files"] == [f"{folder.name}/batch-20000101-999.pdf"]
    assert not stale.exists()
    assert young.exists() and notes.exists()
    assert all(path.exists() for path in files_of(cohort, kept))


def test_removing_old_outputs_never_removes_a_protected_file(env: Env) -> None:
    from casework.config import load_settings

    settings = load_settings(env.config)
    before = env.config.read_bytes()
    assert remove_outputs([env.config], settings) == []
    assert env.config.read_bytes() == before


def test_upgrading_records_the_batches_an_older_version_made(cohort: Env) -> None:
    from alembic import command

    from casework.db import _alembic_config

    invite(cohort, 1, 2)
    [sent] = render(cohort)["batches"]
    cohort.ok("letters", "batch", "mark-sent", sent["batch"])
    invite(cohort, 3)
    [made] = render(cohort)["batches"]
    engine = cohort.engine()
    try:
        command.downgrade(_alembic_config(engine.db), "0014")
    finally:
        engine.db.dispose()
    from casework.db import head_revision

    assert f"to {head_revision()}" in cohort.ok("db", "upgrade").stdout

    found = {b["batch"]: b for b in batches(cohort)}
    assert [(found[name]["status"], found[name]["letters"], found[name]["to_post"])
            for name in (sent["batch"], made["batch"])] == [("sent", 2, 2), ("made", 1, 1)]
    assert Path(found[made["batch"]]["pdf"]) == out_dir(cohort).resolve() / made["pdf"]
    cohort.ok("letters", "cancel", "3")
    age(*files_of(cohort, sent), *files_of(cohort, made))
    assert render(cohort)["removed_files"] == []  # their files match a batch: kept
    assert cohort.json("letters", "batch", "mark-sent", made["batch"])["pulled"] == [3]
