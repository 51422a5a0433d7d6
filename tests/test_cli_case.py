"""`casework case list|show|triggers|advance|assign` on the Kansen in Kaart route, via the CLI."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import Env
from helpers import advance, cohort_rows, show, staff
from sqlalchemy import select

from casework.models import AccessLog

APPOINTMENT = "2099-01-05 10:00"
INVITE = ("invite", "--set", f"appointment={APPOINTMENT}")
PARTNERS = ["coach_meedoen", "wijkwerkmakelaar", "centrum_naar_werk", "wij_team",
            "ontheffing_review"]
# In the conversation the person agrees to the report and to sharing with every partner.
CONSENT = ["record_report", *(f"share:{partner}" for partner in PARTNERS)]
CONVERSATION = ("hold_conversation", "--set", "classification=work_potential",
                "--set", "participation_potential=supported",
                "--set", "consent=" + ",".join(CONSENT))
ROUTE_KEYS = {"id", "workflow", "workflow_version", "state", "wijk", "assigned_to", "name",
              "state_entered_at", "closed_at", "close_reason"}
WIDE = {"COLUMNS": "200"}  # a wide terminal, so rich tables do not wrap
TRIGGERS = ["invite", "reschedule", "not_home", "hold_conversation", "refer", "self_action",
            "start_activity", "follow_up", "record_outflow", "decline", "close"]


def access_rows(env: Env) -> list[Any]:
    engine = env.engine()
    try:
        with engine.db.connect() as conn:
            return list(conn.execute(
                select(AccessLog.actor, AccessLog.action, AccessLog.case_ids)
                .order_by(AccessLog.id)
            ).all())
    finally:
        engine.db.dispose()


def one_line_error(result: Any) -> str:
    """Return the error line; fail unless the command stopped with exit 1 and one line."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return str(lines[0])


# --- case list --------------------------------------------------------------------------------


def test_list_json_gives_total_shown_offset_and_documented_case_keys(cohort: Env) -> None:
    data = cohort.json("case", "list", "--limit", "3")
    assert set(data) == {"total", "shown", "offset", "cases"}
    assert (data["total"], data["shown"], data["offset"]) == (200, 3, 0)
    assert [c["id"] for c in data["cases"]] == [1, 2, 3]
    first = data["cases"][0]
    assert set(first) == ROUTE_KEYS
    assert first["workflow"] == "kansen-in-kaart"
    assert first["workflow_version"] == 6
    assert first["state"] == "selected"
    assert first["wijk"] == "Oosterparkwijk"
    assert first["name"] == "B. El Amrani"
    assert first["assigned_to"] is None
    assert first["closed_at"] is None and first["close_reason"] is None
    assert datetime.fromisoformat(first["state_entered_at"]).tzinfo is not None
    assert data["cases"][1]["name"] == "W. van den Bosch"


def test_list_shows_100_cases_by_default_and_all_with_limit_zero(cohort: Env) -> None:
    assert cohort.json("case", "list")["shown"] == 100
    everything = cohort.json("case", "list", "--limit", "0")
    assert everything["shown"] == everything["total"] == 200
    assert [c["id"] for c in everything["cases"]] == list(range(1, 201))


def test_list_limit_and_offset_page_through_the_cases(cohort: Env) -> None:
    page = cohort.json("case", "list", "--limit", "10", "--offset", "10")
    assert (page["total"], page["shown"], page["offset"]) == (200, 10, 10)
    assert [c["id"] for c in page["cases"]] == list(range(11, 21))
    tail = cohort.json("case", "list", "--limit", "10", "--offset", "195")
    assert [c["id"] for c in tail["cases"]] == [196, 197, 198, 199, 200]
    assert tail["total"] == 200  # a short last page still says how many there are
    beyond = cohort.json("case", "list", "--limit", "10", "--offset", "300")
    assert (beyond["total"], beyond["shown"]) == (200, 0)


def test_list_filters_by_wijk(cohort: Env) -> None:
    expected = sum(1 for row in cohort_rows() if row["wijk"] == "Vinkhuizen")
    data = cohort.json("case", "list", "--wijk", "Vinkhuizen", "--limit", "0")
    assert data["total"] == data["shown"] == expected > 0
    assert {c["wijk"] for c in data["cases"]} == {"Vinkhuizen"}


def test_list_filters_by_state(cohort: Env) -> None:
    advance(cohort, 4, *INVITE)
    advance(cohort, 9, *INVITE)
    invited = cohort.json("case", "list", "--state", "invited")
    assert invited["total"] == 2
    assert [(c["id"], c["state"]) for c in invited["cases"]] == [(4, "invited"), (9, "invited")]
    assert cohort.json("case", "list", "--state", "selected")["total"] == 198


def test_list_filters_by_workflow(cohort: Env) -> None:
    assert cohort.json("case", "list", "--workflow", "kansen-in-kaart")["total"] == 200
    # A route that does not exist is a typo, not "0 cases" (exit 2, naming the routes).
    other = cohort.run("case", "list", "--workflow", "some-other-route")
    assert other.exit_code == 2 and "Known: dienstencentrum, kansen-in-kaart" in other.stderr


def test_list_open_leaves_out_closed_cases(cohort: Env) -> None:
    advance(cohort, 2, "decline")
    open_cases = cohort.json("case", "list", "--open", "--limit", "0")
    assert open_cases["total"] == 199
    assert 2 not in {c["id"] for c in open_cases["cases"]}
    closed = cohort.json("case", "list", "--state", "closed")
    assert [(c["id"], c["close_reason"]) for c in closed["cases"]] == [(2, "declined")]
    assert closed["cases"][0]["closed_at"] is not None


def test_list_assigned_filters_by_worker_and_dash_means_unassigned(cohort: Env) -> None:
    cohort.ok("staff", "add", "piet", "--role", "case_worker")
    cohort.ok("staff", "add", "sara", "--role", "case_worker")
    cohort.ok("case", "assign", "5", "piet")
    cohort.ok("case", "assign", "9", "piet")
    cohort.ok("case", "assign", "6", "sara")
    piet = cohort.json("case", "list", "--assigned", "piet")
    assert [(c["id"], c["assigned_to"]) for c in piet["cases"]] == [(5, "piet"), (9, "piet")]
    unassigned = cohort.json("case", "list", "--assigned", "-", "--limit", "0")
    assert unassigned["total"] == 197
    assert {c["assigned_to"] for c in unassigned["cases"]} == {None}
    assert not {5, 6, 9} & {c["id"] for c in unassigned["cases"]}


def test_list_filters_combine(cohort: Env) -> None:
    rows = cohort_rows()
    beijum = [n for n, row in enumerate(rows, 1) if row["wijk"] == "Beijum"]
    advance(cohort, beijum[1], *INVITE)  # the first one is in contact with the social team
    advance(cohort, 1, *INVITE)  # Oosterparkwijk: invited but another wijk
    data = cohort.json("case", "list", "--wijk", "Beijum", "--state", "invited")
    assert [c["id"] for c in data["cases"]] == [beijum[1]]


def test_list_as_table_shows_names_and_says_how_to_see_more(cohort: Env) -> None:
    out = cohort.ok("case", "list", "--limit", "5", env=WIDE).stdout
    assert "El Amrani" in out and "Oosterparkwijk" in out
    assert "showing 5 of 200 cases" in out
    assert "--offset" in out


def test_list_records_one_access_log_row_with_all_shown_case_ids(cohort: Env) -> None:
    before = len(access_rows(cohort))
    cohort.ok("case", "list", "--limit", "7", "--offset", "3", user="bert")
    rows = access_rows(cohort)
    assert len(rows) == before + 1
    entry = rows[-1]
    assert entry.actor == "bert"
    assert entry.action == "list"
    assert entry.case_ids == [4, 5, 6, 7, 8, 9, 10]


def test_list_of_everything_logs_every_shown_case_in_one_row(cohort: Env) -> None:
    cohort.json("case", "list", "--limit", "0", "--wijk", "Vinkhuizen")
    entry = access_rows(cohort)[-1]
    expected = [n for n, row in enumerate(cohort_rows(), 1) if row["wijk"] == "Vinkhuizen"]
    assert entry.action == "list"
    assert entry.case_ids == expected


# --- case show --------------------------------------------------------------------------------


def test_show_gives_person_state_data_appointments_referrals_and_timeline(cohort: Env) -> None:
    advance(cohort, 1, *INVITE, "--set", "location=Buurthuis De Kroon")
    advance(cohort, 1, *CONVERSATION, "--set", "themes.health=rugklachten",
            "--note", "goed gesprek")
    advance(cohort, 1, "refer", "--set", "partner=coach_meedoen")
    data = show(cohort, 1)
    assert data["id"] == 1
    assert data["state"] == "referred"
    assert data["workflow"] == "kansen-in-kaart"
    person = data["person"]
    assert person["name"] == "B. El Amrani"
    assert person["address"] == "Jacob van Ruysdaelstraat 234"
    assert person["postcode"] == "9713 BK"
    assert person["city"] == "Groningen"
    assert person["bsn_masked"].endswith("520")
    assert data["data"]["classification"] == "work_potential"
    assert data["data"]["themes"] == {"health": "rugklachten"}
    assert data["data"]["partner"] == "coach_meedoen"
    assert data["appointments"] == [{
        "starts_at": "2099-01-05T09:00:00+00:00", "location": "Buurthuis De Kroon",
        "status": "held", "specialist": None,
    }]
    assert [(r["partner"], r["status"]) for r in data["referrals"]] == [("coach_meedoen", "sent")]
    timeline = data["timeline"]
    assert [e["seq"] for e in timeline] == [1, 2, 3, 4]
    assert [e["trigger"] for e in timeline] == ["open", "invite", "hold_conversation", "refer"]
    assert [(e["from"], e["to"]) for e in timeline] == [
        (None, "selected"), ("selected", "invited"), ("invited", "spoken"),
        ("spoken", "referred"),
    ]
    talk = timeline[2]
    assert talk["actor"] == "anna"
    assert talk["note"] == "goed gesprek"
    assert talk["data"] == {"classification": "work_potential",
                            "participation_potential": "supported",
                            "themes": {"health": "rugklachten"}, "consent": CONSENT}
    assert talk["reason"] is None
    for event in timeline:
        assert {"seq", "at", "actor", "trigger", "from", "to", "data", "note",
                "reason"} <= set(event)
        assert datetime.fromisoformat(event["at"]).tzinfo is not None


def test_show_never_prints_the_full_bsn(cohort: Env) -> None:
    bsn = cohort_rows()[0]["bsn"]
    advance(cohort, 1, *INVITE)
    as_json = cohort.ok("case", "show", "1", "--json").output
    as_text = cohort.ok("case", "show", "1", env=WIDE).output
    listing = cohort.ok("case", "list", "--json").output
    for out in (as_json, as_text, listing):
        assert bsn not in out
    assert "******520" in as_text
    assert "El Amrani" in as_text


def test_show_as_text_has_state_person_appointment_and_timeline(cohort: Env) -> None:
    advance(cohort, 1, *INVITE, "--note", "brief verstuurd")
    out = cohort.ok("case", "show", "1", env=WIDE).stdout
    assert "Case 1" in out and "invited" in out
    assert "B. El Amrani" in out
    assert "appointment 2099-01-05 10:00" in out
    assert "Timeline" in out
    assert "brief verstuurd" in out


def test_show_records_access_log_row_with_actor_and_case(cohort: Env) -> None:
    cohort.ok("case", "show", "12", user="carla")
    entry = access_rows(cohort)[-1]
    assert (entry.actor, entry.action, entry.case_ids) == ("carla", "show", [12])
    cohort.json("case", "show", "13", user="dirk")
    entry = access_rows(cohort)[-1]
    assert (entry.actor, entry.action, entry.case_ids) == ("dirk", "show", [13])


def test_triggers_is_a_read_logged_with_its_actor(cohort: Env) -> None:
    cohort.json("case", "triggers", "14", user="erik")
    entry = access_rows(cohort)[-1]
    assert (entry.actor, entry.case_ids) == ("erik", [14])


def test_show_of_unknown_case_is_a_clear_error(cohort: Env) -> None:
    line = one_line_error(cohort.run("case", "show", "9999"))
    assert "no case 9999" in line


# --- the actor --------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ("case", "list"),
    ("case", "show", "1"),
    ("case", "triggers", "1"),
    ("case", "advance", "1", *INVITE),
    ("case", "assign", "1", "piet"),
], ids=["list", "show", "triggers", "advance", "assign"])
def test_commands_refuse_without_an_actor(cohort: Env, args: tuple[str, ...]) -> None:
    cohort.ok("staff", "add", "piet", "--role", "case_worker")
    logged = len(access_rows(cohort))
    before = show(cohort, 1)
    result = cohort.run(*args, user=None)
    assert result.exit_code != 0
    assert "--as" in result.stderr and "CASEWORK_USER" in result.stderr
    assert "Traceback" not in result.output
    after = show(cohort, 1)
    assert after["version"] == before["version"]
    assert after["timeline"] == before["timeline"]
    assert after["assigned_to"] is None
    assert len(access_rows(cohort)) == logged + 2  # only the two checks above


def test_actor_comes_from_as_option(cohort: Env) -> None:
    cohort.ok("case", "advance", "1", *INVITE, "--as", "bert", user=None)
    cohort.ok("--as", "carla", "case", "advance", "1", "decline", user=None)
    timeline = show(cohort, 1)["timeline"]
    assert [e["actor"] for e in timeline[1:]] == ["bert", "carla"]


def test_as_option_wins_over_casework_user(cohort: Env) -> None:
    cohort.ok("case", "show", "3", "--as", "bert", user="anna")
    assert access_rows(cohort)[-1].actor == "bert"


def test_actor_comes_from_casework_user(cohort: Env) -> None:
    cohort.ok("case", "advance", "1", *INVITE, user="dirk")
    assert show(cohort, 1)["timeline"][-1]["actor"] == "dirk"


# --- case triggers ----------------------------------------------------------------------------


def test_triggers_lists_every_trigger_possible_or_why_not(cohort: Env) -> None:
    data = cohort.json("case", "triggers", "1")
    assert data["state"] == "selected"
    entries = {t["trigger"]: t for t in data["triggers"]}
    assert list(entries) == TRIGGERS
    possible = {name for name, t in entries.items() if t["possible"]}
    assert possible == {"invite", "decline", "close"}
    assert entries["invite"]["needs"] == ["appointment"]
    assert entries["invite"]["dest"] == "invited"
    assert entries["close"]["needs"] == ["reason"]
    for name, entry in entries.items():
        if name in possible:
            assert entry["reason"] is None
        else:
            assert "not possible from state 'selected'" in entry["reason"]
    assert "only from: invited" in entries["hold_conversation"]["reason"]


def test_triggers_follow_the_case_along_its_route(cohort: Env) -> None:
    advance(cohort, 1, *INVITE)
    invited = {t["trigger"] for t in cohort.json("case", "triggers", "1")["triggers"]
               if t["possible"]}
    assert invited == {"reschedule", "not_home", "hold_conversation", "decline", "close"}
    advance(cohort, 1, *CONVERSATION)
    spoken = {t["trigger"] for t in cohort.json("case", "triggers", "1")["triggers"]
              if t["possible"]}
    assert spoken == {"refer", "self_action", "record_outflow", "decline", "close"}


def test_triggers_as_text_says_can_and_cannot(cohort: Env) -> None:
    out = cohort.ok("case", "triggers", "1", env=WIDE).stdout
    assert "selected" in out
    assert "invite -> invited" in out
    assert "cannot refer" in out


def test_triggers_of_closed_case_says_nothing_can_happen(cohort: Env) -> None:
    advance(cohort, 1, "decline")
    data = cohort.json("case", "triggers", "1")
    assert data["state"] == "closed"
    assert not any(t["possible"] for t in data["triggers"])
    assert all("final" in t["reason"] for t in data["triggers"])


# --- advancing along the route ----------------------------------------------------------------


def test_invite_records_a_planned_appointment_with_location(cohort: Env) -> None:
    result = cohort.ok("case", "advance", "1", *INVITE, "--set", "location=thuis")
    assert "selected -> invited" in result.stdout
    data = show(cohort, 1)
    assert data["state"] == "invited"
    assert data["appointments"] == [
        {"starts_at": "2099-01-05T09:00:00+00:00", "location": "thuis", "status": "planned",
         "specialist": None},
    ]


def test_advance_json_reports_the_step(cohort: Env) -> None:
    step = cohort.json("case", "advance", "1", *INVITE)
    assert step["case_id"] == 1
    assert (step["trigger"], step["from"], step["to"]) == ("invite", "selected", "invited")
    assert step["data"] == {"appointment": "2099-01-05T09:00:00+00:00",
                            "invitation_variant": "with_sentence"}
    assert step["closed"] is False
    assert step["version"] == 2


def test_reschedule_moves_the_old_appointment_and_plans_the_new_one(cohort: Env) -> None:
    advance(cohort, 1, *INVITE)
    advance(cohort, 1, "reschedule", "--set", "appointment=2099-01-12 14:30")
    data = show(cohort, 1)
    assert data["state"] == "invited"
    assert [(a["starts_at"], a["status"]) for a in data["appointments"]] == [
        ("2099-01-05T09:00:00+00:00", "moved"),
        ("2099-01-12T13:30:00+00:00", "planned"),
    ]
    assert data["timeline"][-1]["trigger"] == "reschedule"


def test_reschedule_needs_an_appointment(cohort: Env) -> None:
    advance(cohort, 1, *INVITE)
    line = one_line_error(cohort.run("case", "advance", "1", "reschedule"))
    assert "needs field 'appointment'" in line


def test_not_home_marks_the_appointment_and_may_propose_a_new_one(cohort: Env) -> None:
    advance(cohort, 1, *INVITE)
    advance(cohort, 1, "not_home", "--set", "appointment=2099-01-19 10:00")
    data = show(cohort, 1)
    assert data["state"] == "invited"
    assert [a["status"] for a in data["appointments"]] == ["not_home", "planned"]
    assert data["data"]["attempts"] == {"not_home": 1}


def test_after_three_not_home_only_close_or_decline_remain(cohort: Env) -> None:
    advance(cohort, 1, *INVITE)
    for _ in range(3):
        advance(cohort, 1, "not_home")
    triggers = {t["trigger"]: t for t in cohort.json("case", "triggers", "1")["triggers"]}
    assert {n for n, t in triggers.items() if t["possible"]} == {"close", "decline"}
    for name in ("not_home", "reschedule", "hold_conversation"):
        assert "3 times" in triggers[name]["reason"]
        assert "close or decline" in triggers[name]["reason"]
    text = cohort.ok("case", "triggers", "1", env=WIDE).stdout
    assert "has happened 3 times" in text
    version = show(cohort, 1)["version"]
    line = one_line_error(cohort.run("case", "advance", "1", "not_home"))
    assert "3 times" in line
    one_line_error(cohort.run("case", "advance", "1", *CONVERSATION))
    assert show(cohort, 1)["version"] == version
    cohort.ok("case", "advance", "1", "close", "--set", "reason=unreachable")
    data = show(cohort, 1)
    assert (data["state"], data["close_reason"]) == ("closed", "unreachable")


def test_two_not_home_still_allow_the_conversation(cohort: Env) -> None:
    advance(cohort, 1, *INVITE)
    advance(cohort, 1, "not_home")
    advance(cohort, 1, "not_home")
    assert show(cohort, 1)["data"]["attempts"] == {"not_home": 2}
    advance(cohort, 1, *CONVERSATION)
    data = show(cohort, 1)
    assert data["state"] == "spoken"
    assert "attempts" not in data["data"]


def test_hold_conversation_stores_classification_kinds_and_themes(cohort: Env) -> None:
    advance(cohort, 1, *INVITE)
    advance(cohort, 1, "hold_conversation", "--set", "classification=socially_active",
            "--set", "participation_potential=self",
            "--set", "activity_kinds=volunteering,activities",
            "--set", "themes.health=slaapt slecht",
            "--set", "themes.social_network=veel familie",
            "--set", "themes.work_chances=wil parttime werken",
            "--set", "consent=record_report")
    data = show(cohort, 1)
    assert data["state"] == "spoken"
    assert data["data"]["classification"] == "socially_active"
    assert data["data"]["participation_potential"] == "self"
    assert data["data"]["activity_kinds"] == ["volunteering", "activities"]
    assert data["data"]["themes"] == {
        "health": "slaapt slecht", "social_network": "veel familie",
        "work_chances": "wil parttime werken",
    }


@pytest.mark.parametrize("classification", ["socially_active", "work_potential", "not_active"])
@pytest.mark.parametrize("potential", ["none", "self", "supported"])
def test_hold_conversation_accepts_every_classification_and_potential(
    cohort: Env, classification: str, potential: str,
) -> None:
    advance(cohort, 1, *INVITE)
    advance(cohort, 1, "hold_conversation", "--set", f"classification={classification}",
            "--set", f"participation_potential={potential}")
    data = show(cohort, 1)["data"]
    assert (data["classification"], data["participation_potential"]) == (classification,
                                                                          potential)


@pytest.mark.parametrize("partner", PARTNERS)
def test_refer_creates_a_referral_to_the_partner(cohort: Env, partner: str) -> None:
    advance(cohort, 1, *INVITE)
    advance(cohort, 1, *CONVERSATION)
    advance(cohort, 1, "refer", "--set", f"partner={partner}")
    data = show(cohort, 1)
    assert data["state"] == "referred"
    assert [(r["partner"], r["status"]) for r in data["referrals"]] == [(partner, "sent")]
    assert data["referrals"][0]["referred_at"] == data["timeline"][-1]["at"]


def test_refer_again_from_referred_and_from_active_adds_referrals(cohort: Env) -> None:
    advance(cohort, 1, *INVITE)
    advance(cohort, 1, *CONVERSATION)
    advance(cohort, 1, "refer", "--set", "partner=wij_team")
    advance(cohort, 1, "refer", "--set", "partner=coach_meedoen")
    advance(cohort, 1, "start_activity", "--set", "activity=volunteering")
    advance(cohort, 1, "refer", "--set", "partner=centrum_naar_werk")
    data = show(cohort, 1)
    assert data["state"] == "referred"
    assert [r["partner"] for r in data["referrals"]] == [
        "wij_team", "coach_meedoen", "centrum_naar_werk"]


def test_full_route_to_closed_records_closed_at_and_reason(cohort: Env) -> None:
    advance(cohort, 1, *INVITE)
    advance(cohort, 1, *CONVERSATION)
    advance(cohort, 1, "refer", "--set", "partner=centrum_naar_werk")
    advance(cohort, 1, "start_activity", "--set", "activity=part_time_self_employment")
    advance(cohort, 1, "follow_up")
    advance(cohort, 1, "start_activity", "--set", "activity=work")
    result = cohort.ok("case", "advance", "1", "close", "--set", "reason=completed",
                       "--note", "werkt nu 20 uur")
    assert "closed: completed" in result.stdout
    data = show(cohort, 1)
    assert data["state"] == "closed"
    assert data["close_reason"] == "completed"
    assert data["closed_at"] == data["timeline"][-1]["at"]
    assert data["data"]["activity"] == "work"
    assert [(e["trigger"], e["to"]) for e in data["timeline"]] == [
        ("open", "selected"), ("invite", "invited"), ("hold_conversation", "spoken"),
        ("refer", "referred"), ("start_activity", "active"), ("follow_up", "follow_up"),
        ("start_activity", "active"), ("close", "closed"),
    ]
    last = data["timeline"][-1]
    assert (last["reason"], last["note"]) == ("completed", "werkt nu 20 uur")
    listed = cohort.json("case", "list", "--state", "closed")["cases"]
    assert [(c["id"], c["close_reason"], c["closed_at"]) for c in listed] == [
        (1, "completed", data["closed_at"])]


def test_self_action_route_goes_by_follow_up_to_active(cohort: Env) -> None:
    advance(cohort, 1, *INVITE)
    advance(cohort, 1, *CONVERSATION)
    advance(cohort, 1, "self_action")
    assert show(cohort, 1)["state"] == "follow_up"
    advance(cohort, 1, "start_activity", "--set", "activity=education")
    data = show(cohort, 1)
    assert data["state"] == "active"
    assert data["closed_at"] is None


@pytest.mark.parametrize("steps", [
    [],
    [INVITE],
    [INVITE, CONVERSATION],
    [INVITE, CONVERSATION, ("self_action",)],
], ids=["selected", "invited", "spoken", "follow_up"])
def test_decline_closes_from_any_open_state_with_reason_declined(
    cohort: Env, steps: list[tuple[str, ...]],
) -> None:
    for step in steps:
        advance(cohort, 1, *step)
    result = cohort.ok("case", "advance", "1", "decline")
    assert "closed: declined" in result.stdout
    data = show(cohort, 1)
    assert (data["state"], data["close_reason"]) == ("closed", "declined")
    assert data["closed_at"] is not None
    assert data["timeline"][-1]["reason"] == "declined"


def test_state_entered_at_changes_only_when_the_state_changes(cohort: Env) -> None:
    advance(cohort, 1, *INVITE)
    entered = show(cohort, 1)["state_entered_at"]
    advance(cohort, 1, "reschedule", "--set", "appointment=2099-02-01 09:00")
    data = show(cohort, 1)
    assert data["state_entered_at"] == entered == data["timeline"][1]["at"]


# --- errors: one clear line, nothing written --------------------------------------------------

ERRORS = [
    pytest.param([], ("invite",), "needs field 'appointment'", id="missing-needed-field"),
    pytest.param([], ("close",), "needs field 'reason'", id="close-without-reason"),
    pytest.param([], ("close", "--set", "reason=bored"), "field 'reason' must be one of",
                 id="reason-outside-list"),
    pytest.param([INVITE], ("hold_conversation", "--set", "classification=rich",
                            "--set", "participation_potential=self"),
                 "field 'classification' must be one of", id="classification-outside-list"),
    pytest.param([INVITE], ("hold_conversation", "--set", "classification=not_active"),
                 "needs field 'participation_potential'", id="missing-potential"),
    pytest.param([INVITE], (*CONVERSATION, "--set", "activity_kinds=volunteering,gardening"),
                 "'gardening' is not allowed", id="activity-kind-outside-list"),
    pytest.param([INVITE], (*CONVERSATION, "--set", "themes.hobbies=vissen"),
                 "no theme 'hobbies'", id="unknown-theme"),
    pytest.param([INVITE, CONVERSATION], ("refer", "--set", "partner=uwv"),
                 "field 'partner' must be one of", id="partner-outside-list"),
    pytest.param([], ("invite", "--set", f"appointment={APPOINTMENT}", "--set", "colour=blue"),
                 "does not take field 'colour'", id="unknown-field"),
    pytest.param([], ("decline", "--set", "reason=moved"), "does not take field 'reason'",
                 id="field-the-trigger-does-not-take"),
    pytest.param([], ("invite", "--set", "appointment=volgende week"),
                 "field 'appointment' must be a date and time", id="not-a-datetime"),
    pytest.param([], ("invite", "--set", "appointment=2020-01-06 10:00"),
                 "'appointment' lies before the moment", id="appointment-in-the-past"),
    pytest.param([], ("dance",), "'dance' is not a trigger", id="unknown-trigger"),
    pytest.param([], ("refer", "--set", "partner=wij_team"),
                 "not possible from state 'selected'", id="not-possible-from-state"),
    pytest.param([INVITE], ("start_activity", "--set", "activity=work"),
                 "not possible from state 'invited'", id="not-possible-from-invited"),
    pytest.param([("decline",)], ("close", "--set", "reason=completed"), "is closed",
                 id="closed-case"),
    pytest.param([("close", "--set", "reason=moved")], INVITE, "is closed",
                 id="closed-case-invite"),
]


@pytest.mark.parametrize(("steps", "args", "message"), ERRORS)
def test_bad_advance_is_one_clear_line_and_writes_nothing(
    cohort: Env, steps: list[tuple[str, ...]], args: tuple[str, ...], message: str,
) -> None:
    for step in steps:
        advance(cohort, 1, *step)
    before = show(cohort, 1)
    line = one_line_error(cohort.run("case", "advance", "1", *args))
    assert message in line
    assert "Traceback" not in line
    after = show(cohort, 1)
    for key in ("version", "state", "data", "timeline", "appointments", "referrals",
                "closed_at", "close_reason"):
        assert after[key] == before[key], key


def test_advance_of_unknown_case_is_a_clear_error(cohort: Env) -> None:
    line = one_line_error(cohort.run("case", "advance", "4242", *INVITE))
    assert "no case 4242" in line


def test_set_without_equals_sign_is_a_usage_error(cohort: Env) -> None:
    result = cohort.run("case", "advance", "1", "invite", "--set", "appointment")
    assert result.exit_code == 2
    assert "key=value" in result.stderr
    assert show(cohort, 1)["version"] == 1


# --- the moment of a step (--at) ---------------------------------------------------------------

PAST_IMPORT = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def old_cohort(env: Env, tmp_path: Path) -> Env:
    """The sample people, imported on 1 March 2025 (last_guidance left out)."""
    from casework.cohort import import_cohort

    rows = cohort_rows()
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({**row, "last_guidance": ""} for row in rows)
    path = tmp_path / "old_cohort.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    engine = env.engine(clock=lambda: PAST_IMPORT)
    try:
        summary = import_cohort(engine, path, "kansen-in-kaart", staff(engine, "anna"))
    finally:
        engine.db.dispose()
    assert summary.imported == len(rows)
    return env


def test_at_in_the_future_is_refused(cohort: Env) -> None:
    line = one_line_error(cohort.run("case", "advance", "1", *INVITE, "--at", "2098-12-01 10:00"))
    assert "lies in the future" in line
    assert show(cohort, 1)["version"] == 1


def test_at_before_the_last_event_is_refused(cohort: Env) -> None:
    # the import's open event happened just now
    line = one_line_error(cohort.run("case", "advance", "1", *INVITE, "--at", "2020-05-04 10:00"))
    assert "before case 1's last event" in line
    assert show(cohort, 1)["timeline"][-1]["trigger"] == "open"


def test_valid_earlier_at_is_stored_as_the_event_time(old_cohort: Env) -> None:
    advance(old_cohort, 1, "invite", "--set", "appointment=2025-03-10 10:00",
            "--at", "2025-03-03 09:15")
    data = show(old_cohort, 1)
    invite = data["timeline"][-1]
    # entered in Amsterdam time (CET, UTC+1), stored in UTC
    assert invite["at"] == "2025-03-03T08:15:00+00:00"
    assert data["state_entered_at"] == "2025-03-03T08:15:00+00:00"
    assert datetime.fromisoformat(invite["recorded_at"]) > datetime.fromisoformat(invite["at"])
    advance(old_cohort, 1, *CONVERSATION, "--at", "10-03-2025 10:30")
    assert show(old_cohort, 1)["timeline"][-1]["at"] == "2025-03-10T09:30:00+00:00"


def test_at_before_an_earlier_step_is_refused(old_cohort: Env) -> None:
    advance(old_cohort, 1, "invite", "--set", "appointment=2025-03-10 10:00",
            "--at", "2025-03-03 09:15")
    line = one_line_error(old_cohort.run("case", "advance", "1", *CONVERSATION,
                                         "--at", "2025-03-02 12:00"))
    assert "before case 1's last event" in line
    assert show(old_cohort, 1)["state"] == "invited"


def test_closing_at_an_earlier_moment_stores_that_as_closed_at(old_cohort: Env) -> None:
    advance(old_cohort, 2, "decline", "--at", "2025-04-01 11:00")
    data = show(old_cohort, 2)
    assert data["closed_at"] == "2025-04-01T09:00:00+00:00"  # CEST, UTC+2


def test_appointment_must_lie_after_the_moment_of_the_step(old_cohort: Env) -> None:
    line = one_line_error(old_cohort.run(
        "case", "advance", "1", "invite", "--set", "appointment=2025-03-02 10:00",
        "--at", "2025-03-03 09:15"))
    assert "'appointment' lies before the moment" in line
    assert show(old_cohort, 1)["version"] == 1


def test_at_that_is_not_a_date_is_a_usage_error(cohort: Env) -> None:
    result = cohort.run("case", "advance", "1", *INVITE, "--at", "gisteren")
    assert result.exit_code == 2
    assert "is not a date and time" in result.stderr
    assert show(cohort, 1)["version"] == 1


# --- case assign ------------------------------------------------------------------------------


def test_assign_to_staff_member_shows_in_case_and_timeline(cohort: Env) -> None:
    cohort.ok("staff", "add", "piet", "--role", "case_worker", "--full-name", "Piet Dijkstra")
    result = cohort.ok("case", "assign", "3", "piet", user="coordinator1")
    assert "assigned to piet" in result.stdout
    data = show(cohort, 3)
    assert data["assigned_to"] == "piet"
    event = data["timeline"][-1]
    assert event["trigger"] == "assign"
    assert event["actor"] == "coordinator1"
    assert event["data"]["assigned_to"] == "piet"
    assert (event["from"], event["to"]) == ("selected", "selected")
    assert data["state"] == "selected"


def test_reassign_names_the_previous_worker(cohort: Env) -> None:
    cohort.ok("staff", "add", "piet", "--role", "case_worker")
    cohort.ok("staff", "add", "sara", "--role", "case_worker")
    cohort.ok("case", "assign", "3", "piet")
    result = cohort.json("case", "assign", "3", "sara")
    assert result == {"id": 3, "assigned_to": "sara", "previous": "piet"}
    assert "(was sara)" in cohort.ok("case", "assign", "3", "piet").stdout
    timeline = show(cohort, 3)["timeline"]
    assert [e["data"]["assigned_to"] for e in timeline[1:]] == ["piet", "sara", "piet"]


def test_assign_to_unknown_worker_is_a_clear_error_and_changes_nothing(cohort: Env) -> None:
    line = one_line_error(cohort.run("case", "assign", "3", "nobody"))
    assert "no staff member 'nobody'" in line
    assert "casework staff add nobody --role case_worker" in line
    data = show(cohort, 3)
    assert data["assigned_to"] is None
    assert data["version"] == 1


def test_assign_of_unknown_case_is_a_clear_error(cohort: Env) -> None:
    cohort.ok("staff", "add", "piet", "--role", "case_worker")
    assert "no case 777" in one_line_error(cohort.run("case", "assign", "777", "piet"))


def test_assigned_case_can_still_move_along_its_route(cohort: Env) -> None:
    cohort.ok("staff", "add", "piet", "--role", "case_worker")
    cohort.ok("case", "assign", "3", "piet")
    advance(cohort, 3, *INVITE, user="piet")
    data = show(cohort, 3)
    assert (data["state"], data["assigned_to"]) == ("invited", "piet")
    assert [e["seq"] for e in data["timeline"]] == [1, 2, 3]


def test_case_changed_by_someone_else_mid_advance_is_a_conflict_with_exit_3(
    cohort: Env, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from casework.engine import Engine

    plan = Engine.plan_step
    raced: list[bool] = []

    def colleague_declines_first(self: Engine, *args: Any, **kwargs: Any) -> Any:
        step = plan(self, *args, **kwargs)
        if not raced:
            raced.append(True)
            other = cohort.engine()
            try:
                other.advance(1, "decline", staff(other, "carla"))
            finally:
                other.db.dispose()
        return step

    monkeypatch.setattr(Engine, "plan_step", colleague_declines_first)
    result = cohort.run("case", "advance", "1", *INVITE)
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "changed by someone else" in lines[0] and "closed" in lines[0]
    monkeypatch.undo()
    data = show(cohort, 1)
    assert [(e["trigger"], e["actor"]) for e in data["timeline"]] == [
        ("open", "anna"), ("decline", "carla")]
    assert data["appointments"] == []


def test_declining_cancels_the_planned_appointment(cohort: Env) -> None:
    advance(cohort, 4, *INVITE)
    assert [a["status"] for a in show(cohort, 4)["appointments"]] == ["planned"]
    advance(cohort, 4, "decline")
    assert [a["status"] for a in show(cohort, 4)["appointments"]] == ["cancelled"]


def test_rescheduling_keeps_one_planned_appointment(cohort: Env) -> None:
    advance(cohort, 3, *INVITE)
    advance(cohort, 3, "reschedule", "--set", "appointment=2099-02-01 14:00")
    statuses = [(a["starts_at"], a["status"]) for a in show(cohort, 3)["appointments"]]
    assert statuses == [("2099-01-05T09:00:00+00:00", "moved"),
                        ("2099-02-01T13:00:00+00:00", "planned")]
