"""Consent per scope: `casework consent grant|withdraw|list`, the conversation's consent field,
referrals that need `share:<partner>`, what a withdrawal stops, and `casework referral export`.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import Env
from helpers import advance, made_up_bsns, query, show
from sqlalchemy import insert, select

from casework.models import Letter, Task

WORKFLOW = "kansen-in-kaart"
HEADER = ("bsn,initials,prefix,surname,street,house_number,house_number_suffix,postcode,city,"
          "wijk,phone,email,wij_team_contact,last_guidance")
INVITE = ("invite", "--set", "appointment=2099-01-05 10:00")
CONVERSATION = ("hold_conversation", "--set", "classification=work_potential",
                "--set", "participation_potential=supported")


BSNS = made_up_bsns(3)


@pytest.fixture
def people(env: Env) -> Env:
    """Three people in cases 1-3 of Kansen in Kaart (nobody excluded)."""
    rows = [f"{number},A.,,Mulder{n},Vinkenstraat,{n + 1},,9712 AB,Groningen,Vinkhuizen,"
            f"06-1234567{n},,no," for n, number in enumerate(BSNS)]
    path = env.root / "people.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    env.ok("cohort", "import", str(path), "--workflow", WORKFLOW)
    return env


def refused(env: Env, *args: str) -> str:
    """Return the one error line of a command that must be refused (exit code 1)."""
    result = env.run(*args)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def spoken(env: Env, case_id: int, *consent: str) -> None:
    """Invite the case and hold the conversation, giving the consent scopes in it."""
    advance(env, case_id, *INVITE)
    extra = ["--set", "consent=" + ",".join(consent)] if consent else []
    advance(env, case_id, *CONVERSATION, *extra)



def execute(env: Env, statement: Any) -> None:
    engine = env.engine()
    try:
        with engine.db.begin() as conn:
            conn.execute(statement)
    finally:
        engine.db.dispose()


def tasks(env: Env, case_id: int, kind: str) -> list[str]:
    return [r.status for r in query(env, select(Task.status).where(
        Task.case_id == case_id, Task.kind == kind).order_by(Task.id))]


def queue_letter(env: Env, case_id: int, template: str, partner: str | None = None) -> None:
    """Make sure a letter of this kind (about partner) waits in the print queue."""
    table = Letter.__table__
    which = [table.c.case_id == case_id, table.c.template == template,
             table.c.status == "queued"]
    values: dict[str, Any] = {"case_id": case_id, "template": template, "status": "queued",
                              "created_at": datetime.now(UTC)}
    if partner is not None and "partner" in table.c:  # the letter names the partner
        which.append(table.c.partner == partner)
        values.update(partner=partner, payload={"partner": partner})
    if not query(env, select(table.c.id).where(*which)):
        execute(env, insert(table).values(values))


def letters(env: Env, case_id: int) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for r in query(env, select(Letter.template, Letter.status)
                  .where(Letter.case_id == case_id).order_by(Letter.id)):
        found.setdefault(r.template, []).append(r.status)
    return found


# --- grant, withdraw, list --------------------------------------------------------------------


def test_grant_is_listed_with_who_when_and_how(people: Env) -> None:
    before = datetime.now(UTC)
    result = people.ok("consent", "grant", "1", "share:coach_meedoen", "--how", "phone")
    assert "consent share:coach_meedoen granted (phone)" in result.output
    data = people.json("consent", "list", "1", user="bram")
    assert data["current"] == {"share:coach_meedoen": True}
    [entry] = data["history"]
    assert entry["scope"] == "share:coach_meedoen"
    assert entry["granted"] is True
    assert entry["how"] == "phone"
    assert entry["recorded_by"] == "anna"
    assert entry["case_id"] == 1
    assert datetime.fromisoformat(entry["at"]) >= before.replace(microsecond=0)


def test_grant_json_says_what_was_recorded(people: Env) -> None:
    data = people.json("consent", "grant", "2", "record_report", "--how", "letter")
    assert data == {"case_id": 2, "scope": "record_report", "granted": True, "how": "letter"}


def test_withdrawal_wins_over_the_earlier_grant_and_both_stay_in_the_history(
        people: Env) -> None:
    people.ok("consent", "grant", "1", "record_report", "--how", "conversation")
    result = people.ok("consent", "withdraw", "1", "record_report", "--how", "letter")
    assert "consent record_report withdrawn (letter)" in result.output
    data = people.json("consent", "list", "1")
    assert data["current"] == {"record_report": False}
    assert [(h["scope"], h["granted"], h["how"]) for h in data["history"]] == [
        ("record_report", True, "conversation"), ("record_report", False, "letter")]


def test_consent_list_without_anything_recorded_says_so(people: Env) -> None:
    assert "no consent recorded" in people.ok("consent", "list", "3").output
    assert people.json("consent", "list", "3") == {"case_id": 3, "current": {}, "history": []}


def test_consent_list_table_shows_current_scopes_and_history(people: Env) -> None:
    people.ok("consent", "grant", "1", "record_report", "--how", "conversation")
    people.ok("consent", "grant", "1", "share:wij_team", "--how", "phone")
    people.ok("consent", "withdraw", "1", "share:wij_team", "--how", "phone")
    out = people.ok("consent", "list", "1", env={"COLUMNS": "200"}).output
    assert "record_report" in out and "granted" in out
    assert "share:wij_team" in out and "withdrawn" in out
    assert "History" in out and "anna" in out


def test_grant_and_withdrawal_show_in_the_timeline(people: Env) -> None:
    people.ok("consent", "grant", "1", "share:wij_team", "--how", "conversation")
    people.ok("consent", "withdraw", "1", "share:wij_team", "--how", "phone", user="bram")
    timeline = show(people, 1)["timeline"]
    granted, withdrawn = timeline[-2:]
    assert (granted["trigger"], granted["actor"]) == ("consent_granted", "anna")
    assert granted["data"] == {"scope": "share:wij_team", "how": "conversation"}
    assert (withdrawn["trigger"], withdrawn["actor"]) == ("consent_withdrawn", "bram")
    assert withdrawn["data"]["scope"] == "share:wij_team"
    assert withdrawn["data"]["how"] == "phone"
    assert show(people, 1)["state"] == "selected"  # consent does not move the case


def test_unknown_scope_is_refused_naming_the_known_ones(people: Env) -> None:
    line = refused(people, "consent", "grant", "1", "share:bakery", "--how", "phone")
    assert "share:bakery" in line
    assert "record_report" in line and "share:coach_meedoen" in line
    assert people.json("consent", "list", "1")["history"] == []


def test_how_must_be_conversation_letter_or_phone(people: Env) -> None:
    result = people.run("consent", "grant", "1", "record_report", "--how", "email")
    assert result.exit_code == 2
    assert "conversation" in result.output and "letter" in result.output
    assert people.json("consent", "list", "1")["history"] == []


def test_consent_of_an_unknown_case_is_refused(people: Env) -> None:
    line = refused(people, "consent", "grant", "99", "record_report", "--how", "phone")
    assert "no case 99" in line


# --- the conversation's consent field ---------------------------------------------------------


def test_consent_given_in_the_conversation_is_recorded_as_given_in_conversation(
        people: Env) -> None:
    spoken(people, 1, "record_report", "share:coach_meedoen")
    data = people.json("consent", "list", "1")
    assert data["current"] == {"record_report": True, "share:coach_meedoen": True}
    assert {(h["how"], h["recorded_by"]) for h in data["history"]} == {("conversation", "anna")}
    conversation = show(people, 1)["timeline"][-1]
    assert conversation["trigger"] == "hold_conversation"
    assert conversation["data"]["consent"] == ["record_report", "share:coach_meedoen"]


def test_conversation_consent_outside_the_known_scopes_is_refused(people: Env) -> None:
    advance(people, 1, *INVITE)
    line = refused(people, "case", "advance", "1", *CONVERSATION, "--set", "consent=share:bakery")
    assert "consent" in line
    assert show(people, 1)["state"] == "invited"
    assert people.json("consent", "list", "1")["history"] == []


def test_themes_need_record_report_consent(people: Env) -> None:
    advance(people, 1, *INVITE)
    line = refused(people, "case", "advance", "1", *CONVERSATION,
                   "--set", "themes.health=rugklachten")
    assert "record_report" in line and "(rule consent)" in line
    assert "casework consent grant 1 record_report" in line
    assert show(people, 1)["state"] == "invited"
    assert "themes" not in show(people, 1)["data"]


def test_themes_may_be_recorded_with_consent_given_in_the_same_conversation(
        people: Env) -> None:
    advance(people, 1, *INVITE)
    advance(people, 1, *CONVERSATION, "--set", "consent=record_report",
            "--set", "themes.health=rugklachten")
    case = show(people, 1)
    assert case["state"] == "spoken"
    assert case["data"]["themes"] == {"health": "rugklachten"}


def test_themes_may_be_recorded_with_consent_granted_before(people: Env) -> None:
    people.ok("consent", "grant", "1", "record_report", "--how", "letter")
    advance(people, 1, *INVITE)
    advance(people, 1, *CONVERSATION, "--set", "themes.work_chances=wil koken")
    assert show(people, 1)["data"]["themes"] == {"work_chances": "wil koken"}


def test_themes_are_refused_once_record_report_is_withdrawn(people: Env) -> None:
    people.ok("consent", "grant", "1", "record_report", "--how", "letter")
    people.ok("consent", "withdraw", "1", "record_report", "--how", "phone")
    advance(people, 1, *INVITE)
    line = refused(people, "case", "advance", "1", *CONVERSATION,
                   "--set", "themes.health=rugklachten")
    assert "record_report" in line and "withdrawn" in line


def test_conversation_without_themes_needs_no_consent(people: Env) -> None:
    advance(people, 1, *INVITE)
    advance(people, 1, *CONVERSATION)
    assert show(people, 1)["state"] == "spoken"


# --- referrals need share:<partner> -----------------------------------------------------------


def test_refer_without_consent_to_share_is_refused_and_nothing_is_sent(people: Env) -> None:
    spoken(people, 1)
    line = refused(people, "case", "advance", "1", "refer", "--set", "partner=coach_meedoen")
    assert "share:coach_meedoen" in line and "(rule consent)" in line
    assert "casework consent grant 1 share:coach_meedoen --how" in line
    case = show(people, 1)
    assert case["state"] == "spoken"
    assert case["referrals"] == []


def test_consent_for_one_partner_does_not_allow_another(people: Env) -> None:
    spoken(people, 1, "share:wij_team")
    line = refused(people, "case", "advance", "1", "refer", "--set", "partner=coach_meedoen")
    assert "share:coach_meedoen" in line
    advance(people, 1, "refer", "--set", "partner=wij_team")
    assert [r["partner"] for r in show(people, 1)["referrals"]] == ["wij_team"]


def test_refer_with_consent_from_the_conversation_sends_the_referral(people: Env) -> None:
    spoken(people, 1, "share:coach_meedoen")
    advance(people, 1, "refer", "--set", "partner=coach_meedoen")
    case = show(people, 1)
    assert case["state"] == "referred"
    assert [(r["partner"], r["status"]) for r in case["referrals"]] == [("coach_meedoen", "sent")]
    assert tasks(people, 1, "referral_answer") == ["open"]


def test_refer_with_consent_granted_by_phone_later_sends_the_referral(people: Env) -> None:
    spoken(people, 1)
    people.ok("consent", "grant", "1", "share:centrum_naar_werk", "--how", "phone")
    advance(people, 1, "refer", "--set", "partner=centrum_naar_werk")
    assert [r["partner"] for r in show(people, 1)["referrals"]] == ["centrum_naar_werk"]


def test_refer_after_the_consent_was_withdrawn_is_refused(people: Env) -> None:
    spoken(people, 1, "share:coach_meedoen")
    people.ok("consent", "withdraw", "1", "share:coach_meedoen", "--how", "phone")
    line = refused(people, "case", "advance", "1", "refer", "--set", "partner=coach_meedoen")
    assert "share:coach_meedoen" in line and "withdrawn" in line
    assert show(people, 1)["referrals"] == []


def test_consent_granted_again_after_a_withdrawal_allows_referring(people: Env) -> None:
    spoken(people, 1, "share:coach_meedoen")
    people.ok("consent", "withdraw", "1", "share:coach_meedoen", "--how", "phone")
    people.ok("consent", "grant", "1", "share:coach_meedoen", "--how", "letter")
    advance(people, 1, "refer", "--set", "partner=coach_meedoen")
    assert [r["status"] for r in show(people, 1)["referrals"]] == ["sent"]


def test_a_follow_up_call_cannot_refer_to_the_social_team_without_consent(people: Env) -> None:
    spoken(people, 1)
    advance(people, 1, "self_action")
    data = people.json("task", "list", "--kind", "follow_up_call", "--due", "2099-12-31")
    [task] = data["tasks"]
    line = refused(people, "task", "done", str(task["id"]), "--outcome", "reached",
                   "--set", "result=to_social_team")
    assert "share:wij_team" in line
    assert show(people, 1)["state"] == "follow_up"
    assert show(people, 1)["referrals"] == []
    people.ok("consent", "grant", "1", "share:wij_team", "--how", "phone")
    people.ok("task", "done", str(task["id"]), "--outcome", "reached",
              "--set", "result=to_social_team")
    assert [r["partner"] for r in show(people, 1)["referrals"]] == ["wij_team"]


def test_bulk_apply_refuses_referrals_without_consent_line_by_line(people: Env) -> None:
    spoken(people, 1, "share:coach_meedoen")
    spoken(people, 2)
    path = people.root / "refer.csv"
    path.write_text("case,trigger,partner\n1,refer,coach_meedoen\n2,refer,coach_meedoen\n",
                    encoding="utf-8")
    result = people.run("case", "apply", str(path))
    assert result.exit_code == 1
    assert "line 3: case 2:" in result.stderr and "share:coach_meedoen" in result.stderr
    assert [r["partner"] for r in show(people, 1)["referrals"]] == ["coach_meedoen"]
    assert show(people, 2)["referrals"] == []


def test_bulk_apply_sees_consent_given_earlier_in_the_same_file(people: Env) -> None:
    advance(people, 1, *INVITE)
    path = people.root / "conversation.jsonl"
    path.write_text(
        '{"case": 1, "trigger": "hold_conversation", "classification": "work_potential", '
        '"participation_potential": "supported", "consent": ["share:wij_team"]}\n'
        '{"case": 1, "trigger": "refer", "partner": "wij_team"}\n', encoding="utf-8")
    people.ok("case", "apply", str(path))
    assert [r["partner"] for r in show(people, 1)["referrals"]] == ["wij_team"]
    assert people.json("consent", "list", "1")["current"] == {"share:wij_team": True}


# --- withdrawing stops what is pending --------------------------------------------------------


def test_withdrawing_share_withdraws_the_sent_referral_and_stops_its_timer_and_letter(
        people: Env) -> None:
    spoken(people, 1, "share:coach_meedoen")
    advance(people, 1, "refer", "--set", "partner=coach_meedoen")
    queue_letter(people, 1, "verwijzing", "coach_meedoen")
    queue_letter(people, 1, "verslag")
    queued = letters(people, 1)["verwijzing"].count("queued")
    result = people.ok("consent", "withdraw", "1", "share:coach_meedoen", "--how", "phone")
    assert f"cancelled: 1 referral(s), 1 task(s), {queued} letter(s)" in result.output
    case = show(people, 1)
    assert [(r["partner"], r["status"]) for r in case["referrals"]] == [
        ("coach_meedoen", "withdrawn")]
    assert tasks(people, 1, "referral_answer") == ["cancelled"]
    after = letters(people, 1)
    assert "queued" not in after["verwijzing"]
    assert after["verslag"][-1] == "queued"
    withdrawn = case["timeline"][-1]
    assert withdrawn["trigger"] == "consent_withdrawn"
    assert withdrawn["data"]["cancelled"] == {"referrals": 1, "tasks": 1, "letters": queued}


def test_withdraw_json_counts_what_was_cancelled(people: Env) -> None:
    spoken(people, 1, "share:wij_team")
    advance(people, 1, "refer", "--set", "partner=wij_team")
    queued = letters(people, 1).get("verwijzing", []).count("queued")
    data = people.json("consent", "withdraw", "1", "share:wij_team", "--how", "letter")
    assert data == {"case_id": 1, "scope": "share:wij_team", "granted": False, "how": "letter",
                    "cancelled": {"referrals": 1, "tasks": 1, "letters": queued},
                    "to_pull": []}


def test_withdrawing_without_pending_work_cancels_nothing(people: Env) -> None:
    people.ok("consent", "grant", "1", "share:wij_team", "--how", "phone")
    result = people.ok("consent", "withdraw", "1", "share:wij_team", "--how", "phone")
    assert "cancelled" not in result.output
    data = people.json("consent", "withdraw", "1", "share:wij_team", "--how", "phone")
    assert data["cancelled"] == {"referrals": 0, "tasks": 0, "letters": 0}


def test_withdrawing_share_with_one_partner_leaves_the_referral_to_another(
        people: Env) -> None:
    spoken(people, 1, "share:coach_meedoen", "share:wij_team")
    advance(people, 1, "refer", "--set", "partner=wij_team")
    advance(people, 1, "refer", "--set", "partner=coach_meedoen")
    people.ok("consent", "withdraw", "1", "share:coach_meedoen", "--how", "phone")
    statuses = {r["partner"]: r["status"] for r in show(people, 1)["referrals"]}
    assert statuses == {"wij_team": "sent", "coach_meedoen": "withdrawn"}


def test_withdrawing_share_with_one_partner_keeps_the_answer_timer_of_another_partner(
        people: Env) -> None:
    """The wij_team referral is still waiting for an answer: its timer must keep running."""
    spoken(people, 1, "share:coach_meedoen", "share:wij_team")
    advance(people, 1, "refer", "--set", "partner=coach_meedoen")
    advance(people, 1, "refer", "--set", "partner=wij_team")
    assert tasks(people, 1, "referral_answer")[-1] == "open"
    people.ok("consent", "withdraw", "1", "share:coach_meedoen", "--how", "phone")
    assert {r["partner"]: r["status"] for r in show(people, 1)["referrals"]}["wij_team"] == "sent"
    assert "open" in tasks(people, 1, "referral_answer")


def test_withdrawing_share_with_one_partner_keeps_the_referral_letter_to_another_partner(
        people: Env) -> None:
    """The letter telling about the wij_team referral is still to go out."""
    spoken(people, 1, "share:coach_meedoen", "share:wij_team")
    advance(people, 1, "refer", "--set", "partner=coach_meedoen")
    advance(people, 1, "refer", "--set", "partner=wij_team")
    queue_letter(people, 1, "verwijzing", partner="wij_team")
    people.ok("consent", "withdraw", "1", "share:coach_meedoen", "--how", "phone")
    assert letters(people, 1)["verwijzing"][-1] == "queued"


def test_withdrawing_record_report_leaves_referrals_alone(people: Env) -> None:
    spoken(people, 1, "record_report", "share:wij_team")
    advance(people, 1, "refer", "--set", "partner=wij_team")
    people.ok("consent", "withdraw", "1", "record_report", "--how", "phone")
    assert [r["status"] for r in show(people, 1)["referrals"]] == ["sent"]
    assert tasks(people, 1, "referral_answer") == ["open"]


def test_withdrawing_does_not_touch_an_accepted_referral(people: Env) -> None:
    from casework.models import Referral

    spoken(people, 1, "share:wij_team")
    advance(people, 1, "refer", "--set", "partner=wij_team")
    execute(people, Referral.__table__.update().values(status="accepted"))
    data = people.json("consent", "withdraw", "1", "share:wij_team", "--how", "phone")
    assert data["cancelled"]["referrals"] == 0
    assert [r["status"] for r in show(people, 1)["referrals"]] == ["accepted"]


# --- referral export --------------------------------------------------------------------------


def export_csv(env: Env, partner: str, *args: str) -> tuple[list[dict[str, str]], str]:
    result = env.ok("referral", "export", "--partner", partner, *args)
    return list(csv.DictReader(io.StringIO(result.stdout), delimiter=";")), result.stderr


def test_export_lists_only_people_whose_consent_to_share_holds(people: Env) -> None:
    for case_id in (1, 2, 3):
        spoken(people, case_id, "share:coach_meedoen")
        advance(people, case_id, "refer", "--set", "partner=coach_meedoen")
    people.ok("consent", "withdraw", "2", "share:coach_meedoen", "--how", "phone")
    data = people.json("referral", "export", "--partner", "coach_meedoen")
    assert data["partner"] == "coach_meedoen"
    assert [r["case_id"] for r in data["referrals"]] == [1, 3]
    assert data["referrals"][0]["name"] == "A. Mulder0"
    assert data["referrals"][0]["address"] == "Vinkenstraat 1"
    assert data["referrals"][0]["status"] == "sent"
    assert data["left_out_without_consent"] == 0  # the withdrawn referral is no longer open


def test_export_leaves_out_an_accepted_referral_once_consent_is_withdrawn(
        people: Env) -> None:
    from casework.models import Referral

    spoken(people, 1, "share:wij_team")
    advance(people, 1, "refer", "--set", "partner=wij_team")
    execute(people, Referral.__table__.update().values(status="accepted"))
    assert len(people.json("referral", "export", "--partner", "wij_team")["referrals"]) == 1
    people.ok("consent", "withdraw", "1", "share:wij_team", "--how", "phone")
    data = people.json("referral", "export", "--partner", "wij_team")
    assert data["referrals"] == []
    assert data["left_out_without_consent"] == 1
    rows_, message = export_csv(people, "wij_team")
    assert rows_ == []
    assert "1 left out (no consent to share)" in message


def test_export_is_only_for_the_partner_asked(people: Env) -> None:
    spoken(people, 1, "share:coach_meedoen", "share:wij_team")
    advance(people, 1, "refer", "--set", "partner=wij_team")
    assert people.json("referral", "export", "--partner", "coach_meedoen")["referrals"] == []
    assert len(people.json("referral", "export", "--partner", "wij_team")["referrals"]) == 1


def test_export_never_contains_a_bsn(people: Env, tmp_path: Path) -> None:
    spoken(people, 1, "share:coach_meedoen")
    advance(people, 1, "refer", "--set", "partner=coach_meedoen")
    as_json = people.ok("referral", "export", "--partner", "coach_meedoen", "--json").stdout
    printed, message = export_csv(people, "coach_meedoen")
    out = tmp_path / "coach.csv"
    people.ok("referral", "export", "--partner", "coach_meedoen", "--out", str(out))
    written = out.read_text(encoding="utf-8-sig")
    for text in (as_json, written, "\n".join(str(r) for r in printed), message):
        assert BSNS[0] not in text
        assert "bsn" not in text.lower()
    assert "1 referral(s) for Coach Meedoen" in message
    [row] = list(csv.DictReader(io.StringIO(written), delimiter=";"))
    assert row["case_id"] == "1"
    assert row["name"] == "A. Mulder0"
    assert row["postcode"] == "9712 AB"


def test_export_is_logged_as_a_read_of_the_listed_cases(people: Env) -> None:
    from casework.models import AccessLog

    spoken(people, 1, "share:coach_meedoen")
    advance(people, 1, "refer", "--set", "partner=coach_meedoen")
    people.ok("referral", "export", "--partner", "coach_meedoen", user="carla")
    logged = query(people, select(AccessLog.actor, AccessLog.action, AccessLog.case_ids)
                  .where(AccessLog.action == "referral export"))
    assert [(r.actor, list(r.case_ids)) for r in logged] == [("carla", [1])]


def test_export_with_no_referrals_is_empty(people: Env) -> None:
    data = people.json("referral", "export", "--partner", "wijkwerkmakelaar")
    assert data == {"partner": "wijkwerkmakelaar", "referrals": [],
                    "left_out_without_consent": 0}
