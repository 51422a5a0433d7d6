"""A letter's life: queued by a step or a finished task (never rendered inside it), rendered
and batched, handed to the mail house, maybe returned; cancelled while it has not gone, by
hand, by declining, by withdrawn consent or by a moved appointment (in a batch not yet sent it
is marked to be pulled: tests/test_letter_batches.py). The daily run renders it."""

from __future__ import annotations

import csv
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, TEMPLATES, Env, lift_exclusions
from helpers import advance, flat, invite, open_tasks, pdf_text, pdfs_in, render, staff, today
from sqlalchemy import select, update

from casework.cases import correct_report, flag_person
from casework.mailroom import list_letters, render_queue
from casework.models import Case, Participant


@pytest.fixture
def cohort(cohort: Env) -> Env:
    """The sample cohort with its exclusions lifted: the tests here invite whom they like
    (the exclusion rule is tested in test_exclusion.py)."""
    return lift_exclusions(cohort)


APPOINTMENT = "2100-01-04 10:00"
INVITE = ("invite", "--set", f"appointment={APPOINTMENT}")
PARTNERS = ["coach_meedoen", "wijkwerkmakelaar", "centrum_naar_werk", "wij_team",
            "ontheffing_review"]
CONSENT = ["record_report", *(f"share:{partner}" for partner in PARTNERS)]
CONVERSATION = ("hold_conversation", "--set", "classification=work_potential",
                "--set", "participation_potential=supported",
                "--set", "consent=" + ",".join(CONSENT))


# --- helpers ----------------------------------------------------------------------------------


def listed(env: Env, *args: str) -> list[dict[str, Any]]:
    return env.json("letters", "list", *args)["letters"]  # type: ignore[no-any-return]


def letters_of(env: Env, case_id: int) -> list[tuple[str, str]]:
    """(template, status) of a case's letters, oldest first."""
    return [(item["template"], item["status"])
            for item in reversed(listed(env, "--case", str(case_id)))]


def letter(env: Env, letter_id: int) -> dict[str, Any]:
    [found] = [item for item in listed(env) if item["id"] == letter_id]
    return found


def out_dir(env: Env) -> Path:
    return env.root / "letters-out"


def manifest_ids(env: Env, batch: dict[str, Any], folder: Path | None = None) -> list[int]:
    path = (folder or out_dir(env)) / batch["manifest"]
    with path.open(encoding="utf-8", newline="") as fh:
        return [int(row["letter_id"]) for row in csv.DictReader(fh, delimiter=";")]


def open_task(env: Env, case_id: int, kind: str) -> dict[str, Any]:
    [task] = [t for t in env.json("task", "list", "--kind", kind)["tasks"]
              if t["case_id"] == case_id]
    return task  # type: ignore[no-any-return]


def finish(env: Env, task: dict[str, Any], outcome: str) -> dict[str, Any]:
    return env.json("task", "done", str(task["id"]), "--outcome", outcome)  # type: ignore[no-any-return]


# --- queued by the step, rendered later -------------------------------------------------------


def test_invitation_is_queued_by_the_step_and_no_pdf_is_made_yet(cohort: Env) -> None:
    invite(cohort, 1)
    [queued] = listed(cohort)
    assert (queued["case_id"], queued["template"], queued["status"]) == (1, "uitnodiging",
                                                                          "queued")
    assert (queued["file"], queued["checksum"], queued["pages"]) == (None, None, None)
    assert pdfs_in(out_dir(cohort)) == []


def test_refused_step_queues_no_letter(cohort: Env) -> None:
    invite(cohort, 1)
    advance(cohort, 1, "hold_conversation", "--set", "classification=work_potential",
            "--set", "participation_potential=supported")  # no consent to share
    result = cohort.run("case", "advance", "1", "refer", "--set", "partner=wij_team")
    assert result.exit_code == 1
    assert letters_of(cohort, 1) == [("uitnodiging", "queued")]


# --- rendered, batched, sent, returned --------------------------------------------------------


def test_letter_goes_from_queued_to_in_batch_to_sent_to_returned(cohort: Env) -> None:
    invite(cohort, 1)
    [batch] = render(cohort)["batches"]
    [made] = listed(cohort)
    assert (made["status"], made["batch"]) == ("in_batch", batch["batch"])

    out = cohort.ok("letters", "batch", "mark-sent", batch["batch"]).stdout
    assert f"Batch {batch['batch']}: 1 letter(s) marked sent." in out
    sent = letter(cohort, made["id"])
    assert sent["status"] == "sent" and sent["sent_at"] is not None

    out = cohort.ok("letters", "returned", str(made["id"])).stdout
    assert "case 1 has a task to check the address" in out
    returned = letter(cohort, made["id"])
    assert returned["status"] == "returned" and returned["returned_at"] is not None
    task = open_task(cohort, 1, "address_check")
    assert str(made["id"]) in task["label"]


def test_batch_can_be_marked_sent_once(cohort: Env) -> None:
    invite(cohort, 1)
    [batch] = render(cohort)["batches"]
    cohort.ok("letters", "batch", "mark-sent", batch["batch"])
    again = cohort.run("letters", "batch", "mark-sent", batch["batch"])
    assert again.exit_code == 1
    assert "already marked sent" in again.stderr
    unknown = cohort.run("letters", "batch", "mark-sent", "20991201-999")
    assert unknown.exit_code == 1
    assert "no batch 20991201-999" in unknown.stderr


def test_only_a_sent_letter_can_come_back(cohort: Env) -> None:
    invite(cohort, 1)
    render(cohort)
    result = cohort.run("letters", "returned", "1")
    assert result.exit_code == 1
    assert "in_batch" in result.stderr
    assert letter(cohort, 1)["status"] == "in_batch"
    assert open_tasks(cohort, 1, "address_check") == []


# --- cancelled until the batch is sent --------------------------------------------------------


def test_cancelled_queued_letter_is_never_rendered(cohort: Env) -> None:
    invite(cohort, 1, 2)
    out = cohort.ok("letters", "cancel", "1").stdout
    assert "Letter 1 cancelled." in out
    summary = render(cohort)
    assert summary["rendered"] == 1
    assert letter(cohort, 1)["status"] == "cancelled"
    assert [p.name for p in pdfs_in(out_dir(cohort) / summary["run_date"] / "letters")] == [
        "2.pdf"]


def test_sent_letter_cannot_be_cancelled(cohort: Env) -> None:
    invite(cohort, 1)
    [batch] = render(cohort)["batches"]
    cohort.ok("letters", "batch", "mark-sent", batch["batch"])
    result = cohort.run("letters", "cancel", "1")
    assert result.exit_code == 1
    assert "sent" in result.stderr
    assert letter(cohort, 1)["status"] == "sent"


# --- cancelled by what happens to the case ----------------------------------------------------


def test_declining_cancels_unsent_letters_and_queues_the_confirmation(cohort: Env) -> None:
    invite(cohort, 1)
    render(cohort)  # the invitation is in a batch
    advance(cohort, 1, "reschedule", "--set", "appointment=2100-01-11 10:00")  # queued again
    advance(cohort, 1, "decline")

    assert letters_of(cohort, 1) == [("uitnodiging", "to_pull"), ("uitnodiging", "cancelled"),
                                     ("afmelding", "queued")]
    summary = render(cohort)
    assert summary["rendered"] == 1
    [batch] = summary["batches"]
    [confirmation] = [item for item in listed(cohort) if item["template"] == "afmelding"]
    assert manifest_ids(cohort, batch) == [confirmation["id"]]
    text = flat(pdf_text(out_dir(cohort) / confirmation["file"]))
    assert "U doet niet mee: bevestiging" in text
    assert "U heeft laten weten dat u niet wilt meedoen" in text


def test_declining_keeps_letters_that_went_to_the_mail_house_and_pulls_the_batched_ones(
        cohort: Env) -> None:
    invite(cohort, 1, 2)
    [batch] = render(cohort)["batches"]
    cohort.ok("letters", "batch", "mark-sent", batch["batch"])
    invite(cohort, 3, 4)
    [second] = render(cohort)["batches"]
    assert sorted(manifest_ids(cohort, second)) == [3, 4]

    advance(cohort, 1, "decline")  # its invitation was sent: it stays sent
    advance(cohort, 3, "decline")  # its invitation is in a batch: to be pulled from it
    assert letters_of(cohort, 1) == [("uitnodiging", "sent"), ("afmelding", "queued")]
    assert letters_of(cohort, 3) == [("uitnodiging", "to_pull"), ("afmelding", "queued")]
    assert letter(cohort, 4)["status"] == "in_batch"

    summary = render(cohort)
    assert summary["rendered"] == 2
    [third] = summary["batches"]
    assert sorted(manifest_ids(cohort, third)) == sorted(
        item["id"] for item in listed(cohort) if item["template"] == "afmelding")
    assert sorted(manifest_ids(cohort, second)) == [3, 4]  # the batch is as it was made


def test_closing_a_case_queues_the_closing_letter(cohort: Env) -> None:
    invite(cohort, 1)
    advance(cohort, 1, "close", "--set", "reason=no_support_needed")
    assert letters_of(cohort, 1) == [("uitnodiging", "cancelled"), ("afsluiting", "queued")]
    render(cohort)
    [closing] = [item for item in listed(cohort) if item["template"] == "afsluiting"]
    assert "Wij sluiten uw dossier" in flat(pdf_text(out_dir(cohort) / closing["file"]))


def test_withdrawing_consent_for_a_partner_cancels_only_that_partners_referral_letter(
        cohort: Env) -> None:
    for case_id in (1, 2):
        invite(cohort, case_id)
        advance(cohort, case_id, *CONVERSATION)
        advance(cohort, case_id, "refer", "--set", "partner=wij_team")
    data = cohort.json("consent", "withdraw", "1", "share:wij_team", "--how", "phone")
    assert data["cancelled"]["letters"] == 1
    assert letters_of(cohort, 1) == [("uitnodiging", "queued"), ("verwijzing", "cancelled")]
    assert letters_of(cohort, 2) == [("uitnodiging", "queued"), ("verwijzing", "queued")]
    assert render(cohort)["rendered"] == 3


def test_withdrawing_consent_after_rendering_marks_the_referral_to_be_pulled(
        cohort: Env) -> None:
    invite(cohort, 1)
    advance(cohort, 1, *CONVERSATION)
    advance(cohort, 1, "refer", "--set", "partner=wij_team")
    [batch] = render(cohort)["batches"]
    assert len(manifest_ids(cohort, batch)) == 2
    out = cohort.ok("consent", "withdraw", "1", "share:wij_team", "--how", "letter").stdout
    assert f"is in batch {batch['batch']}, not yet sent: pull it" in out
    assert letters_of(cohort, 1) == [("uitnodiging", "in_batch"), ("verwijzing", "to_pull")]
    assert render(cohort)["batches"] == []


def test_referrals_to_two_partners_each_get_their_letter(cohort: Env) -> None:
    invite(cohort, 1)
    advance(cohort, 1, *CONVERSATION)
    advance(cohort, 1, "refer", "--set", "partner=wij_team")
    advance(cohort, 1, "refer", "--set", "partner=coach_meedoen")
    assert letters_of(cohort, 1) == [("uitnodiging", "queued"), ("verwijzing", "queued"),
                                     ("verwijzing", "queued")]
    render(cohort)
    texts = [flat(pdf_text(out_dir(cohort) / item["file"])) for item in listed(cohort)
             if item["template"] == "verwijzing"]
    assert any("het WIJ-team" in text for text in texts)
    assert any("Coach Meedoen" in text for text in texts)


def test_rescheduling_replaces_the_still_queued_invitation(cohort: Env) -> None:
    invite(cohort, 1)
    advance(cohort, 1, "reschedule", "--set", "appointment=2100-01-11 14:00")
    [new, old] = listed(cohort, "--case", "1")
    assert (old["status"], new["status"]) == ("cancelled", "queued")
    assert "replaced" in old["reason"]
    assert render(cohort)["rendered"] == 1
    text = flat(pdf_text(out_dir(cohort) / letter(cohort, new["id"])["file"]))
    assert "maandag 11 januari 2100 om 14.00 uur" in text
    assert "4 januari 2100" not in text


# --- letters from finished tasks --------------------------------------------------------------


def test_finished_report_queues_the_report_letter(cohort: Env) -> None:
    invite(cohort, 1)
    advance(cohort, 1, *CONVERSATION, "--set", "themes.health=Last van de rug")
    report = finish(cohort, open_task(cohort, 1, "report_due"), "done")
    assert report["letter"] == "verslag"
    assert letters_of(cohort, 1) == [("uitnodiging", "queued"), ("verslag", "queued")]
    assert pdfs_in(out_dir(cohort)) == []
    render(cohort)
    [made] = [item for item in listed(cohort) if item["template"] == "verslag"]
    assert "Gezondheid: Last van de rug" in flat(pdf_text(out_dir(cohort) / made["file"]))


def test_unreached_reminder_call_queues_a_reminder_letter_with_the_appointment(
        cohort: Env) -> None:
    invite(cohort, 1)
    render(cohort)
    report = finish(cohort, open_task(cohort, 1, "reminder_call"), "not_reached")
    assert report["letter"] == "herinnering"
    assert letters_of(cohort, 1) == [("uitnodiging", "in_batch"), ("herinnering", "queued")]
    render(cohort)
    [made] = [item for item in listed(cohort) if item["template"] == "herinnering"]
    text = flat(pdf_text(out_dir(cohort) / made["file"]))
    assert "Herinnering aan uw afspraak" in text
    assert "Wanneer: maandag 4 januari 2100 om 10.00 uur" in text


def test_reached_reminder_call_queues_no_letter(cohort: Env) -> None:
    invite(cohort, 1)
    report = finish(cohort, open_task(cohort, 1, "reminder_call"), "reached")
    assert report["letter"] is None
    assert letters_of(cohort, 1) == [("uitnodiging", "queued")]


def test_unreached_follow_up_call_queues_a_letter_asking_them_to_call(cohort: Env) -> None:
    invite(cohort, 1)
    advance(cohort, 1, *CONVERSATION)
    advance(cohort, 1, "self_action")
    report = finish(cohort, open_task(cohort, 1, "follow_up_call"), "not_reached")
    assert report["letter"] == "nabellen"
    assert report["next_round"] is not None  # staff still call again
    assert letters_of(cohort, 1)[-1] == ("nabellen", "queued")
    render(cohort)
    [made] = [item for item in listed(cohort) if item["template"] == "nabellen"]
    assert "Wij konden u niet bereiken" in flat(pdf_text(out_dir(cohort) / made["file"]))


# --- the report owed to the person ----------------------------------------------------------


def test_a_person_spoken_to_and_closed_gets_the_report_from_the_daily_run(cohort: Env) -> None:
    """No support needed: the case closes, the report is still owed; the case worker writes
    it after closing and the next daily run makes and batches it."""
    invite(cohort, 1)
    advance(cohort, 1, *CONVERSATION, "--set", "themes.health=Last van de rug")
    advance(cohort, 1, "close", "--set", "reason=no_support_needed")
    task = open_task(cohort, 1, "report_due")
    assert task["case_state"] == "closed"
    assert finish(cohort, task, "done")["letter"] == "verslag"
    letters = cohort.json("daily")["letters"]
    assert letters["failed"] == [] and letters["held"] == []
    [batch] = letters["batches"]
    [report] = [item for item in listed(cohort) if item["template"] == "verslag"]
    assert (report["status"], report["batch"]) == ("in_batch", batch["batch"])
    assert report["id"] in manifest_ids(cohort, batch)
    text = flat(pdf_text(out_dir(cohort) / report["file"]))
    assert "Verslag van ons gesprek" in text
    assert "Gezondheid: Last van de rug" in text
    assert "binnen 14 dagen" in text  # they may still correct it
    assert "afspraak" not in text.lower().replace("afgesproken", "")  # no appointment left
    cohort.ok("letters", "batch", "mark-sent", batch["batch"])
    assert letter(cohort, report["id"])["status"] == "sent"


def test_closing_keeps_a_report_letter_not_yet_sent_and_stops_the_others(cohort: Env) -> None:
    invite(cohort, 1)
    advance(cohort, 1, *CONVERSATION, "--set", "themes.health=Last van de rug")
    finish(cohort, open_task(cohort, 1, "report_due"), "done")
    advance(cohort, 1, "record_outflow", "--set", "outflow_date=2026-11-01", "--set", "fte=1")
    assert letters_of(cohort, 1) == [("uitnodiging", "cancelled"), ("verslag", "queued")]
    summary = render(cohort)
    assert summary["rendered"] == 1
    assert [item["template"] for item in listed(cohort, "--status", "in_batch")] == ["verslag"]


@pytest.mark.parametrize("reason", ["deceased", "moved"])
def test_closing_for_someone_who_died_or_moved_stops_the_report_and_its_letter(
        cohort: Env, reason: str) -> None:
    invite(cohort, 1, 2)
    for case_id in (1, 2):
        advance(cohort, case_id, *CONVERSATION, "--set", "themes.health=Last van de rug")
    finish(cohort, open_task(cohort, 1, "report_due"), "done")  # its letter is queued
    for case_id in (1, 2):
        advance(cohort, case_id, "close", "--set", f"reason={reason}")
    assert letters_of(cohort, 1) == [("uitnodiging", "cancelled"), ("verslag", "cancelled")]
    assert letters_of(cohort, 2) == [("uitnodiging", "cancelled")]
    assert cohort.json("task", "list", "--kind", "report_due")["tasks"] == []
    assert render(cohort)["rendered"] == 0


def test_flagging_a_closed_case_s_person_as_deceased_stops_the_report_owed_to_them(
        cohort: Env) -> None:
    invite(cohort, 1, 2)
    for case_id in (1, 2):
        advance(cohort, case_id, *CONVERSATION, "--set", "themes.health=Last van de rug")
        advance(cohort, case_id, "close", "--set", "reason=no_support_needed")
    finish(cohort, open_task(cohort, 1, "report_due"), "done")  # its letter is queued
    [batch] = render(cohort)["batches"]  # the report and both closing letters, not yet sent
    flagged = cohort.json("case", "flag", "1", "deceased")
    assert flagged["cancelled"] == {"tasks": 0, "letters": 2}
    assert {p["template"] for p in flagged["to_pull"]} == {"verslag", "afsluiting"}
    assert {t for t, status in letters_of(cohort, 1) if status == "to_pull"} == {
        "verslag", "afsluiting"}
    out = cohort.ok("case", "flag", "2", "moved").stdout
    assert "cancelled 1 task(s), 1 letter(s)" in out
    assert cohort.json("task", "list", "--kind", "report_due")["tasks"] == []
    assert sorted(manifest_ids(cohort, batch)) == sorted(  # the batch is as it was made
        item["id"] for item in listed(cohort) if item["batch"] == batch["batch"])


# --- the mail room and a person flagged deceased or moved away ------------------------------

TALK = {"classification": "work_potential", "participation_potential": "supported",
        "consent": ["record_report"], "themes": {"health": "Last van de rug"}}


@pytest.fixture
def core(cohort: Env) -> Iterator[Any]:
    engine = cohort.engine()
    yield engine
    engine.db.dispose()


def statuses(engine: Any, case_id: int) -> list[tuple[str, str, str | None]]:
    found = list_letters(engine, staff(engine, "anna"), case_id)["letters"]
    return [(item["template"], item["status"], item["reason"]) for item in reversed(found)]


@pytest.mark.parametrize("flag", ["deceased", "moved"])
def test_no_letter_is_made_for_a_flagged_person_whatever_closed_their_case(
        core: Any, flag: str) -> None:
    """The field's case: the person is flagged while their case is open (it stays open); the
    case is then closed for another reason. Neither the invitation queued before the flag
    nor the closing letter queued after it is made: each is held with the reason."""
    anna = staff(core, "anna")
    core.advance(1, "invite", anna, {"appointment": "2100-01-04 10:00"})
    flag_person(core, anna, 1, flag)
    first = render_queue(core, today())
    assert (first.rendered, first.batches) == (0, [])
    assert [item["template"] for item in first.flagged] == ["uitnodiging"]
    core.advance(1, "close", anna, {"reason": "no_support_needed"})
    summary = render_queue(core, today())
    assert (summary.rendered, summary.batches) == (0, [])
    assert [item["template"] for item in summary.flagged] == ["afsluiting"]
    letters = statuses(core, 1)
    assert [(t, s) for t, s, _ in letters] == [("uitnodiging", "cancelled"),
                                               ("afsluiting", "held")]
    words = {"deceased": "died", "moved": "moved away"}[flag]
    assert (letters[-1][2] or "").startswith(f"not sent: the person {words} (flag {flag})")
    assert render_queue(core, today()).flagged == []  # held once, not again each run


def test_clearing_the_flag_queues_the_held_letters_again(core: Any) -> None:
    anna = staff(core, "anna")
    core.advance(1, "invite", anna, {"appointment": "2100-01-04 10:00"})
    flag_person(core, anna, 1, "deceased")  # by mistake: the wrong person
    assert [t["template"] for t in render_queue(core, today()).flagged] == ["uitnodiging"]
    cleared = flag_person(core, anna, 1, "none")
    assert cleared["requeued"] == 1
    summary = render_queue(core, today())
    assert summary.rendered == 1 and summary.flagged == []
    assert [(t, s) for t, s, _ in statuses(core, 1)] == [("uitnodiging", "in_batch")]


def test_a_letter_queued_later_for_a_closed_case_is_held_when_another_case_was_flagged(
        cohort: Env, core: Any) -> None:
    """A letter queued after closing (the corrected report sent again) for a person flagged
    through another of their cases is not made."""

    rows = (EXAMPLES / "cohort.csv").read_text(encoding="utf-8").splitlines()
    (cohort.root / "again.csv").write_text(rows[0] + "\n" + rows[1] + "\n", encoding="utf-8")
    cohort.ok("cohort", "import", str(cohort.root / "again.csv"), "--workflow",
              "participatiecoach")  # the person of case 1 gets a second case
    [other] = [c["id"] for c in cohort.json("case", "list", "--workflow", "participatiecoach")
               ["cases"]]
    anna = staff(core, "anna")
    core.advance(1, "invite", anna, {"appointment": "2100-01-04 10:00"})
    core.advance(1, "hold_conversation", anna, TALK)
    core.advance(1, "close", anna, {"reason": "no_support_needed"})
    assert render_queue(core, today()).batches  # the closing letter goes
    flag_person(core, anna, other, "moved")
    correct_report(core, anna, 1, {"health": "Last van de knie"}, resend=True)
    summary = render_queue(core, today())
    assert summary.rendered == 0 and summary.batches == []
    assert [(t, s) for t, s, _ in statuses(core, 1)][-1] == ("verslag", "held")


def test_flagging_a_person_pulls_the_batched_letters_of_their_open_case(core: Any) -> None:
    anna = staff(core, "anna")
    core.advance(1, "invite", anna, {"appointment": "2100-01-04 10:00"})
    [batch] = render_queue(core, today()).batches
    flagged = flag_person(core, anna, 1, "moved")
    assert [(p["template"], p["batch"]) for p in flagged["to_pull"]] == [
        ("uitnodiging", batch["batch"])]
    assert [s for _, s, _ in statuses(core, 1)] == ["to_pull"]


@pytest.mark.backends("postgresql")  # on SQLite one writer at a time: no race to lose
def test_a_person_flagged_while_a_batch_is_formed_gets_no_letter_in_it(core: Any) -> None:
    """The field's race: the person is flagged in a transaction that has not committed yet
    while the daily run forms its batch. The batch leaves their letter out (it was batched
    before: the flag found nothing in a batch to pull, and the letter went to the mail
    house); once the flag commits, the next run holds it."""
    anna = staff(core, "anna")
    for case_id in (1, 2):
        core.advance(case_id, "invite", anna, {"appointment": "2100-01-04 10:00"})
    person = core.db.connect()
    person.begin()
    person.execute(update(Participant).where(Participant.id == select(Case.participant_id)
                                             .where(Case.id == 1).scalar_subquery())
                   .values(flag="deceased"))
    safety = threading.Timer(30, person.rollback)  # a run that waits would hang: fail instead
    safety.start()
    try:
        summary = render_queue(core, today())
    finally:
        safety.cancel()
        person.commit()
        person.close()
    assert [b["letters"] for b in summary.batches] == [1]
    assert [s for _, s, _ in statuses(core, 2)] == ["in_batch"]
    assert [s for _, s, _ in statuses(core, 1)] == ["rendered"]
    later = render_queue(core, today())
    assert ([item["template"] for item in later.flagged], later.batches) == (["uitnodiging"], [])
    assert [s for _, s, _ in statuses(core, 1)] == ["held"]


# --- the daily run --------------------------------------------------------------------------


def test_daily_run_renders_and_batches_what_was_queued(cohort: Env) -> None:
    invite(cohort, 1, 2)
    summary = cohort.json("daily")
    letters = summary["letters"]
    assert letters["rendered"] == 2
    assert [b["letters"] for b in letters["batches"]] == [2]
    assert {item["status"] for item in listed(cohort)} == {"in_batch"}
    assert (out_dir(cohort) / letters["batches"][0]["pdf"]).is_file()
    again = cohort.json("daily")
    assert (again["letters"]["rendered"], again["letters"]["batches"]) == (0, [])


def test_daily_run_with_a_letter_that_fails_exits_1(cohort: Env) -> None:
    """A broken template fails the letter; the run reports it the way it reports any item
    that failed: exit code 1, for whoever watches the scheduler."""
    invite(cohort, 1)
    folder = cohort.root / "templates"
    shutil.copytree(TEMPLATES, folder)
    invitation = folder / "uitnodiging.typ.j2"
    invitation.write_text(invitation.read_text(encoding="utf-8")
                          .replace("{{ location }}", "{{ place }}"), encoding="utf-8")
    config = cohort.config.read_text(encoding="utf-8")
    cohort.config.write_text(config.replace(f'templates = "{TEMPLATES.as_posix()}"',
                                            f'templates = "{folder.as_posix()}"'),
                             encoding="utf-8")

    result = cohort.run("daily", "--json")
    summary = json.loads(result.stdout)
    [failed] = summary["letters"]["failed"]
    assert failed["template"] == "uitnodiging"
    assert summary["status"] == "failed"
    assert result.exit_code == 1
