"""`casework case apply FILE`: many advances from CSV or JSON lines, each checked like one."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, Env, lift_exclusions
from helpers import bsn_of, cohort_rows, query, show, staff, write
from sqlalchemy import func, select

from casework.models import Case, Event, Letter, Participant


@pytest.fixture
def cohort(cohort: Env) -> Env:
    """The sample cohort with its exclusions lifted: the tests here invite whom they like
    (the exclusion rule is tested in test_exclusion.py)."""
    return lift_exclusions(cohort)


WORKFLOW = "kansen-in-kaart"


def jsonl(env: Env, name: str, records: list[Any]) -> Path:
    return write(env, name, "".join(
        (r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))


def case_of(env: Env, bsn: str) -> int:
    rows = query(env, select(Case.id).join(Participant, Participant.id == Case.participant_id)
                 .where(Participant.bsn == bsn, Case.workflow_id == WORKFLOW))
    assert len(rows) == 1
    return int(rows[0].id)


def snapshot(env: Env) -> list[Any]:
    """Every case's state and version and the number of events: what apply may change."""
    cases = query(env, select(Case.id, Case.state, Case.version, Case.data, Case.closed_at)
                  .order_by(Case.id))
    events = query(env, select(func.count()).select_from(Event))
    return [*map(tuple, cases), events[0][0]]


def apply(env: Env, path: Path, *args: str, **kwargs: Any) -> Any:
    """Run apply with --json; return (exit code, summary)."""
    result = env.run("case", "apply", str(path), "--json", *args, **kwargs)
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


# --- good files -------------------------------------------------------------------------------


def test_csv_lines_for_one_case_apply_in_order(cohort: Env) -> None:
    path = write(cohort, "round1.csv",
                 "case,trigger,appointment,classification,participation_potential,"
                 "themes.health,activity_kinds,consent,partner,note\n"
                 "1,invite,2099-01-05 10:00,,,,,,,brief mee\n"
                 "1,hold_conversation,,work_potential,supported,rugklachten,"
                 "volunteering|activities,record_report|share:wijkwerkmakelaar,,\n"
                 "1,refer,,,,,,,wijkwerkmakelaar,\n")
    result = cohort.ok("case", "apply", str(path))
    assert "read 3, applied 3, failed 0" in result.stdout
    data = show(cohort, 1)
    assert data["state"] == "referred"
    assert [e["trigger"] for e in data["timeline"]] == [
        "open", "invite", "hold_conversation", "refer"]
    assert [e["seq"] for e in data["timeline"]] == [1, 2, 3, 4]
    assert data["timeline"][1]["note"] == "brief mee"
    assert data["data"]["themes"] == {"health": "rugklachten"}
    assert data["data"]["activity_kinds"] == ["volunteering", "activities"]
    assert data["appointments"][0]["starts_at"] == "2099-01-05T09:00:00+00:00"
    assert [r["partner"] for r in data["referrals"]] == ["wijkwerkmakelaar"]
    assert data["version"] == 4


def test_summary_counts_lines_by_trigger(cohort: Env) -> None:
    path = write(cohort, "invites.csv",
                 "case,trigger,appointment,reason\n"
                 "1,invite,2099-01-05 10:00,\n"
                 "2,invite,2099-01-05 11:00,\n"
                 "3,invite,2099-01-05 12:00,\n"
                 "4,close,,moved\n")
    code, summary = apply(cohort, path)
    assert code == 0
    assert summary == {
        "file": "invites.csv", "dry_run": False, "history": False, "read": 4, "applied": 4,
        "already_applied": 0, "failed": 0, "failures": [], "by_trigger": {"invite": 3, "close": 1},
        "to_pull": [],
    }
    text = cohort.ok("case", "apply", str(write(cohort, "more.csv",
                                                "case,trigger\n5,decline\n6,decline\n"))).stdout
    assert "more.csv: read 2, applied 2, failed 0" in text
    assert "decline" in text
    closed = cohort.json("case", "list", "--state", "closed")
    assert [(c["id"], c["close_reason"]) for c in closed["cases"]] == [
        (4, "moved"), (5, "declined"), (6, "declined")]


def test_semicolon_csv_with_bom_is_read(cohort: Env) -> None:
    path = write(cohort, "excel.csv",
                 "case;trigger;appointment;location\r\n"
                 "7;invite;05-01-2099 10:00;Wijkcentrum, zaal 2\r\n"
                 "8;invite;2099-01-06 09:30;\r\n",
                 encoding="utf-8-sig")
    code, summary = apply(cohort, path)
    assert (code, summary["applied"], summary["failed"]) == (0, 2, 0)
    data = show(cohort, 7)
    assert data["state"] == "invited"
    assert data["appointments"] == [{"starts_at": "2099-01-05T09:00:00+00:00",
                                     "location": "Wijkcentrum, zaal 2", "status": "planned",
                                     "specialist": None}]
    assert show(cohort, 8)["appointments"][0]["location"] is None


def test_bsn_and_workflow_name_the_case(cohort: Env) -> None:
    people = [row["bsn"] for row in cohort_rows()]
    path = write(cohort, "by_bsn.csv",
                 "bsn,workflow,trigger,appointment\n"
                 f"{people[10]},{WORKFLOW},invite,2099-01-05 10:00\n"
                 f"{people[20]},{WORKFLOW},decline,\n")
    code, summary = apply(cohort, path)
    assert (code, summary["applied"]) == (0, 2)
    assert show(cohort, case_of(cohort, people[10]))["state"] == "invited"
    assert show(cohort, case_of(cohort, people[20]))["close_reason"] == "declined"


def test_json_lines_take_fields_at_top_level_or_under_data(cohort: Env) -> None:
    path = jsonl(cohort, "round.jsonl", [
        {"case": 2, "trigger": "invite", "appointment": "2099-01-05 10:00",
         "location": "thuis"},
        {"case": 2, "trigger": "hold_conversation", "note": "open gesprek",
         "data": {"classification": "socially_active", "participation_potential": "self",
                  "activity_kinds": ["close_circle", "volunteering"],
                  "themes": {"daily_activities": "zorgt voor kleinkinderen"},
                  "consent": ["record_report", "share:wij_team"]}},
        {"case": "2", "trigger": "refer", "partner": "wij_team"},
        {"bsn": bsn_of(3), "workflow": WORKFLOW, "trigger": "invite",
         "data": {"appointment": "2099-01-07 10:00"}},
    ])
    code, summary = apply(cohort, path)
    assert (code, summary["read"], summary["applied"], summary["failed"]) == (0, 4, 4, 0)
    assert summary["by_trigger"] == {"invite": 2, "hold_conversation": 1, "refer": 1}
    data = show(cohort, 2)
    assert data["state"] == "referred"
    assert data["data"]["activity_kinds"] == ["close_circle", "volunteering"]
    assert data["data"]["themes"] == {"daily_activities": "zorgt voor kleinkinderen"}
    assert next(e for e in data["timeline"]
                if e["trigger"] == "hold_conversation")["note"] == "open gesprek"
    assert data["appointments"][0]["location"] == "thuis"
    assert show(cohort, 3)["state"] == "invited"


def test_json_theme_notes_in_dotted_columns(cohort: Env) -> None:
    path = jsonl(cohort, "themes.jsonl", [
        {"case": 2, "trigger": "invite", "appointment": "2099-01-05 10:00"},
        {"case": 2, "trigger": "hold_conversation", "classification": "not_active",
         "participation_potential": "none", "themes.health": "moe",
         "themes.participation": "geen", "consent": ["record_report"]},
    ])
    assert apply(cohort, path)[0] == 0
    assert show(cohort, 2)["data"]["themes"] == {"health": "moe", "participation": "geen"}


def test_events_are_recorded_with_the_actor_of_the_command(cohort: Env) -> None:
    path = write(cohort, "a.csv", "case,trigger\n9,decline\n")
    cohort.ok("case", "apply", str(path), "--as", "bert", user=None)
    assert show(cohort, 9)["timeline"][-1]["actor"] == "bert"


def test_a_file_cannot_record_events_in_someone_elses_name(cohort: Env) -> None:
    """Events carry the actor of the command (--as / CASEWORK_USER), not a column's value."""
    path = write(cohort, "spoof.csv", "case,trigger,actor\n1,decline,mallory\n")
    cohort.run("case", "apply", str(path), user="anna")
    actors = [e["actor"] for e in show(cohort, 1)["timeline"]]
    assert "mallory" not in actors


def test_apply_without_actor_is_refused_and_changes_nothing(cohort: Env) -> None:
    path = write(cohort, "a.csv", "case,trigger\n9,decline\n")
    before = snapshot(cohort)
    result = cohort.run("case", "apply", str(path), user=None)
    assert result.exit_code != 0
    assert "--as" in result.stderr and "CASEWORK_USER" in result.stderr
    assert snapshot(cohort) == before


# --- failing lines ----------------------------------------------------------------------------


def test_failing_lines_are_reported_by_number_while_good_lines_apply(cohort: Env) -> None:
    versions = [show(cohort, n)["version"] for n in (2, 3, 5)]
    path = write(cohort, "mixed.csv",
                 "case,trigger,appointment,partner\n"       # line 1
                 "1,invite,2099-01-05 10:00,\n"             # 2: ok
                 "2,invite,,\n"                             # 3: needs appointment
                 "3,refer,,wij_team\n"                      # 4: not from selected
                 "4,invite,2099-01-05 10:00,\n"             # 5: ok
                 "5,fly,,\n")                               # 6: unknown trigger
    result = cohort.run("case", "apply", str(path))
    assert result.exit_code == 1
    errors = result.stderr.strip().splitlines()
    assert [e.split(":")[0] for e in errors] == ["line 3", "line 4", "line 6"]
    assert "needs field 'appointment'" in errors[0]
    assert "not possible from state 'selected'" in errors[1]
    assert "'fly' is not a trigger" in errors[2]
    assert "read 5, applied 2, failed 3" in result.stdout
    assert [show(cohort, n)["state"] for n in (1, 2, 3, 4, 5)] == [
        "invited", "selected", "selected", "invited", "selected"]
    assert [show(cohort, n)["version"] for n in (2, 3, 5)] == versions


def test_json_summary_lists_failures_with_line_and_reason(cohort: Env) -> None:
    path = write(cohort, "mixed.csv",
                 "case,trigger,reason\n"
                 "1,close,completed\n"
                 "2,close,bored\n")
    code, summary = apply(cohort, path)
    assert code == 1
    assert set(summary) == {"file", "dry_run", "history", "read", "applied", "already_applied",
                            "failed", "failures", "by_trigger", "to_pull"}
    assert (summary["read"], summary["applied"], summary["failed"]) == (2, 1, 1)
    assert summary["by_trigger"] == {"close": 1}
    [failure] = summary["failures"]
    assert failure["line"] == 3
    assert failure["reason"].startswith("case 2: ")
    assert "field 'reason' must be one of" in failure["reason"]


def test_line_depending_on_a_failed_earlier_line_fails_too(cohort: Env) -> None:
    path = write(cohort, "chain.csv",
                 "case,trigger,appointment,classification,participation_potential,partner\n"
                 "6,invite,not a date,,,\n"                           # 2: bad appointment
                 "6,hold_conversation,,not_active,none,\n"            # 3: needs invited
                 "6,refer,,,,wij_team\n"                              # 4: needs spoken
                 "7,invite,2099-01-05 10:00,,,\n"                     # 5: ok
                 "7,hold_conversation,,not_active,none,\n")           # 6: ok
    code, summary = apply(cohort, path)
    assert code == 1
    assert [f["line"] for f in summary["failures"]] == [2, 3, 4]
    assert "field 'appointment' must be a date and time" in summary["failures"][0]["reason"]
    assert "not possible from state 'selected'" in summary["failures"][1]["reason"]
    assert "not possible from state 'selected'" in summary["failures"][2]["reason"]
    assert show(cohort, 6)["timeline"][-1]["trigger"] == "open"
    assert show(cohort, 7)["state"] == "spoken"


BAD_LINES = [
    pytest.param([], ["invite"], "needs field 'appointment'", id="missing-field"),
    pytest.param([], ["close", "--set", "reason=bored"], "must be one of", id="outside-list"),
    pytest.param([], ["invite", "--set", "appointment=2099-01-05 10:00",
                      "--set", "colour=blue"], "does not take field 'colour'",
                 id="unknown-field"),
    pytest.param([], ["fly"], "is not a trigger", id="unknown-trigger"),
    pytest.param([], ["refer", "--set", "partner=wij_team"], "not possible from state",
                 id="not-from-state"),
    pytest.param(["decline"], ["close", "--set", "reason=moved"], "is closed",
                 id="closed-case"),
    pytest.param([], ["invite", "--set", "appointment=2021-03-01 10:00"],
                 "lies before the moment", id="appointment-before-step"),
]


@pytest.mark.parametrize(("before", "line", "message"), BAD_LINES)
def test_each_line_is_checked_exactly_like_case_advance(
    cohort: Env, before: list[str], line: list[str], message: str,
) -> None:
    if before:
        cohort.ok("case", "advance", "11", *before)
    advanced = cohort.run("case", "advance", "11", *line)
    assert advanced.exit_code == 1
    advance_error = advanced.stderr.strip().removeprefix("Error: ")
    assert message in advance_error
    trigger, sets = line[0], line[1:]
    data = dict(item.split("=", 1) for item in sets[1::2])
    path = jsonl(cohort, "one.jsonl", [{"case": 11, "trigger": trigger, **data}])
    state = snapshot(cohort)
    code, summary = apply(cohort, path)
    assert code == 1
    assert summary["failures"] == [{"line": 1, "reason": f"case 11: {advance_error}"}]
    assert snapshot(cohort) == state


def test_invalid_json_line_is_reported_by_number(cohort: Env) -> None:
    path = jsonl(cohort, "broken.jsonl", [
        {"case": 1, "trigger": "decline"},
        '{"case": 2, "trigger": "decline"',
        "",
        '["case", 3]',
        {"case": 4, "trigger": "decline"},
    ])
    code, summary = apply(cohort, path)
    assert code == 1
    assert summary["read"] == 4
    assert summary["applied"] == 2
    assert [f["line"] for f in summary["failures"]] == [2, 4]
    assert "not valid JSON" in summary["failures"][0]["reason"]
    assert "JSON object" in summary["failures"][1]["reason"]
    assert [show(cohort, n)["state"] for n in (1, 2, 3, 4)] == [
        "closed", "selected", "selected", "closed"]


def test_line_that_names_no_case_is_reported(cohort: Env) -> None:
    path = write(cohort, "noref.csv",
                 "case,bsn,workflow,trigger\n"
                 ",,,decline\n"
                 f",{bsn_of(1)},,decline\n"
                 "abc,,,decline\n"
                 "9999,,,decline\n"
                 "1,,,\n")
    code, summary = apply(cohort, path)
    assert code == 1
    reasons = {f["line"]: f["reason"] for f in summary["failures"]}
    assert set(reasons) == {2, 3, 4, 5, 6}
    assert "name the case" in reasons[2]
    assert "name the case" in reasons[3]
    assert "not a case number" in reasons[4]
    assert "no case 9999" in reasons[5]
    assert "no trigger" in reasons[6]
    assert show(cohort, 1)["state"] == "selected"


def test_csv_line_with_wrong_number_of_fields_is_reported(cohort: Env) -> None:
    path = write(cohort, "short.csv", "case,trigger,reason\n1,close\n2,close,moved\n")
    code, summary = apply(cohort, path)
    assert code == 1
    assert summary["failures"][0]["line"] == 2
    assert "2 fields" in summary["failures"][0]["reason"]
    assert show(cohort, 2)["state"] == "closed"


def test_bsns_never_appear_in_the_output(cohort: Env) -> None:
    people = [row["bsn"] for row in cohort_rows()]
    unknown = "111222333"
    path = write(cohort, "bsn.csv",
                 "bsn,workflow,trigger,appointment\n"
                 f"{people[30]},{WORKFLOW},invite,2099-01-05 10:00\n"
                 f"{people[31]},{WORKFLOW},invite,\n"
                 f"{people[32]},other-route,invite,2099-01-05 10:00\n"
                 f"{unknown},{WORKFLOW},invite,2099-01-05 10:00\n"
                 f"{people[33]},{WORKFLOW},hold_conversation,\n")
    as_text = cohort.run("case", "apply", str(path), "--dry-run")
    as_json = cohort.run("case", "apply", str(path), "--json")
    assert as_text.exit_code == as_json.exit_code == 1
    summary = json.loads(as_json.stdout)
    assert (summary["applied"], summary["failed"]) == (1, 4)
    for out in (as_text.output, as_json.output):
        for bsn in (*people[30:34], unknown):
            assert bsn not in out
    reasons = {f["line"]: f["reason"] for f in summary["failures"]}
    assert "no case of that person in that workflow" in reasons[4]
    assert "no case of that person in that workflow" in reasons[5]


def test_bsn_written_without_its_leading_zero_finds_the_person_like_the_import(
    env: Env,
) -> None:
    """Spreadsheets drop a BSN's leading zero; cohort import accepts that, so apply should."""
    header = ("bsn,initials,prefix,surname,street,house_number,house_number_suffix,postcode,"
              "city,wijk,phone,email,wij_team_contact,last_guidance\n")
    people = write(env, "people.csv", header
                   + "12345611,A.,,Nul,Hoofdstraat,1,,9711 AA,Groningen,Centrum,,,no,\n"
                   + "764132520,B.,,El Amrani,Jacob van Ruysdaelstraat,234,,9713 BK,"
                     "Groningen,Oosterparkwijk,,,no,\n")
    env.ok("cohort", "import", str(people), "--workflow", WORKFLOW)
    assert env.json("case", "list")["total"] == 2
    path = write(env, "excel.csv", f"bsn,workflow,trigger\n12345611,{WORKFLOW},decline\n")
    code, summary = apply(env, path)
    assert (code, summary["applied"], summary["failures"]) == (0, 1, [])
    closed = env.json("case", "list", "--state", "closed")["cases"]
    assert [c["name"] for c in closed] == ["A. Nul"]


# --- at ---------------------------------------------------------------------------------------


def test_at_in_the_future_fails_the_line(cohort: Env) -> None:
    path = write(cohort, "future.csv", "case,trigger,at\n1,decline,2098-06-01 10:00\n")
    code, summary = apply(cohort, path)
    assert code == 1
    assert "lies in the future" in summary["failures"][0]["reason"]
    assert show(cohort, 1)["state"] == "selected"


def test_at_before_the_import_fails_the_line(cohort: Env) -> None:
    path = write(cohort, "old.csv", "case,trigger,at\n1,decline,2021-06-01 10:00\n")
    code, summary = apply(cohort, path)
    assert code == 1
    assert "before case 1's last event" in summary["failures"][0]["reason"]


def test_at_that_is_not_a_date_fails_the_line(cohort: Env) -> None:
    path = write(cohort, "bad.csv", "case,trigger,at\n1,decline,yesterday\n2,decline,\n")
    code, summary = apply(cohort, path)
    assert code == 1
    assert summary["failures"][0]["line"] == 2
    assert "'at'" in summary["failures"][0]["reason"]
    assert show(cohort, 2)["state"] == "closed"


def test_at_is_stored_as_the_event_time(env: Env) -> None:
    from datetime import UTC, datetime

    from casework.cohort import import_cohort

    rows = (EXAMPLES / "cohort.csv").read_text(encoding="utf-8").splitlines()[:4]
    small = write(env, "small.csv", "\n".join(
        ",".join(line.split(",")[:13]) for line in rows) + "\n")
    engine = env.engine(clock=lambda: datetime(2025, 1, 6, 8, 0, tzinfo=UTC))
    try:
        assert import_cohort(engine, small, WORKFLOW, staff(engine, "anna")).imported == 3
    finally:
        engine.db.dispose()
    lift_exclusions(env)  # case 2 is in contact with the WIJ-team
    path = write(env, "history.csv",
                 "case,trigger,at,appointment,classification,participation_potential\n"
                 "1,invite,2025-01-07 09:00,2025-01-14 10:00,,\n"
                 "1,hold_conversation,2025-01-14 11:00,,rich,self\n"
                 "1,hold_conversation,2025-01-14 11:00,,not_active,self\n"
                 "2,invite,2025-01-07 10:00,2025-01-06 10:00,,\n"
                 "3,invite,2025-01-08 09:00,2025-01-20 10:00,,\n"
                 "3,decline,2025-01-07 09:00,,,\n")
    code, summary = apply(env, path)
    assert code == 1
    assert [f["line"] for f in summary["failures"]] == [3, 5, 7]
    assert "field 'classification' must be one of" in summary["failures"][0]["reason"]
    assert "lies before the moment" in summary["failures"][1]["reason"]
    assert "before case 3's last event" in summary["failures"][2]["reason"]
    data = show(env, 1)
    assert [e["at"] for e in data["timeline"]] == [
        "2025-01-06T08:00:00+00:00", "2025-01-07T08:00:00+00:00", "2025-01-14T10:00:00+00:00"]
    assert data["state_entered_at"] == "2025-01-14T10:00:00+00:00"
    assert show(env, 3)["state"] == "invited"


# --- dry run ----------------------------------------------------------------------------------


def test_dry_run_changes_nothing_but_reports_the_same(cohort: Env) -> None:
    path = write(cohort, "round.csv",
                 "case,trigger,appointment,classification,participation_potential,consent,"
                 "partner\n"
                 "1,invite,2099-01-05 10:00,,,,\n"
                 "1,hold_conversation,,work_potential,self,share:coach_meedoen,\n"
                 "1,refer,,,,,coach_meedoen\n"
                 "2,invite,,,,,\n"
                 "3,decline,,,,,\n")
    before = snapshot(cohort)
    code, dry = apply(cohort, path, "--dry-run")
    assert code == 1
    assert dry["dry_run"] is True
    assert snapshot(cohort) == before
    assert show(cohort, 1)["appointments"] == []
    assert show(cohort, 1)["referrals"] == []
    text = cohort.run("case", "apply", str(path), "--dry-run")
    assert "would apply 4" in text.stdout and "nothing was changed" in text.stdout
    assert snapshot(cohort) == before
    code, real = apply(cohort, path)
    assert code == 1
    assert real["dry_run"] is False
    assert {**dry, "dry_run": False} == real
    assert snapshot(cohort) != before
    assert show(cohort, 1)["state"] == "referred"
    assert show(cohort, 3)["state"] == "closed"


# --- the file as a whole ----------------------------------------------------------------------


def test_missing_file_is_a_clear_error(cohort: Env) -> None:
    result = cohort.run("case", "apply", str(cohort.root / "nope.csv"))
    assert result.exit_code == 1
    assert "no such file" in result.stderr
    assert "Traceback" not in result.output


def test_csv_without_trigger_column_is_a_clear_error(cohort: Env) -> None:
    path = write(cohort, "wrong.csv", "case,action\n1,decline\n")
    before = snapshot(cohort)
    result = cohort.run("case", "apply", str(path))
    assert result.exit_code == 1
    assert "no 'trigger' column" in result.stderr
    assert snapshot(cohort) == before


def test_apply_keeps_the_event_history_consistent(cohort: Env) -> None:
    path = write(cohort, "many.csv", "case,trigger,appointment\n" + "".join(
        f"{n},invite,2099-01-05 10:00\n{n},not_home,\n" for n in range(1, 21)))
    assert apply(cohort, path)[0] == 0
    for n in (1, 10, 20):
        data = show(cohort, n)
        assert [e["seq"] for e in data["timeline"]] == [1, 2, 3] == list(
            range(1, data["version"] + 1))
        assert data["timeline"][-1]["to"] == data["state"] == "invited"
        assert data["data"]["attempts"] == {"not_home": 1}
        assert [a["status"] for a in data["appointments"]] == ["not_home"]


def test_case_changed_by_a_colleague_during_apply_fails_only_that_line(
    cohort: Env, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The docstring of casework.bulk: a chunk whose case changed is redone line by line."""
    import casework.bulk

    write_chunk: Callable[..., Any] = casework.bulk._write
    raced: list[bool] = []

    def colleague_invites_case_1_first(*args: Any, **kwargs: Any) -> Any:
        if not raced:
            raced.append(True)
            other = cohort.engine()
            try:
                other.advance(1, "invite", staff(other, "carla"),
                              {"appointment": "2099-02-01 10:00"})
            finally:
                other.db.dispose()
        return write_chunk(*args, **kwargs)

    monkeypatch.setattr(casework.bulk, "_write", colleague_invites_case_1_first)
    path = write(cohort, "race.csv",
                 "case,trigger,appointment\n"
                 "1,invite,2099-01-05 10:00\n"
                 "2,invite,2099-01-05 10:00\n")
    result = cohort.run("case", "apply", str(path), "--json")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert summary["applied"] == 1
    assert [f["line"] for f in summary["failures"]] == [2]
    first = show(cohort, 1)
    assert [(e["trigger"], e["actor"]) for e in first["timeline"]] == [
        ("open", "anna"), ("invite", "carla")]
    assert show(cohort, 2)["state"] == "invited"


def test_line_redone_after_a_colleague_assigned_its_case_during_apply(
    cohort: Env, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import casework.bulk
    from casework.cases import assign_case

    cohort.ok("staff", "add", "piet", "--role", "case_worker")
    write_chunk: Callable[..., Any] = casework.bulk._write
    raced: list[bool] = []

    def colleague_assigns_case_1_first(*args: Any, **kwargs: Any) -> Any:
        if not raced:
            raced.append(True)
            other = cohort.engine()
            try:
                assign_case(other, staff(other, "coordinator1"), 1, "piet")
            finally:
                other.db.dispose()
        return write_chunk(*args, **kwargs)

    monkeypatch.setattr(casework.bulk, "_write", colleague_assigns_case_1_first)
    path = write(cohort, "race.csv",
                 "case,trigger,appointment\n"
                 "1,invite,2099-01-05 10:00\n"
                 "2,invite,2099-01-05 10:00\n")
    code, summary = apply(cohort, path)
    assert (code, summary["applied"], summary["failed"]) == (0, 2, 0)
    first = show(cohort, 1)
    assert (first["state"], first["assigned_to"]) == ("invited", "piet")
    assert [(e["seq"], e["trigger"]) for e in first["timeline"]] == [
        (1, "open"), (2, "assign"), (3, "invite")]
    assert show(cohort, 2)["state"] == "invited"


# --- hostile lines: each fails alone, the others apply ----------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000
HOSTILE_JSON = [
    pytest.param('{"case": 99999999999999999999999, "trigger": "decline"}', "too large",
                 id="huge-case-id"),
    pytest.param('{"case": 2147483648, "trigger": "decline"}', "too large",
                 id="case-id-beyond-int32"),
    pytest.param('{"case": ' + "9" * 5000 + ', "trigger": "decline"}', "not valid JSON",
                 id="case-id-of-5000-digits"),
    pytest.param('{"case": 2, "trigger": "decline", "note": "\\ud800"}', "not valid Unicode",
                 id="lone-surrogate-in-note"),
    pytest.param('{"case": 2, "trigger": "decline", "data": {"x": "\\udfff"}}',
                 "not valid Unicode", id="lone-surrogate-in-data"),
    pytest.param('{"case": 2, "trigger": "decline", "\\ud800": 1}', "not valid Unicode",
                 id="lone-surrogate-in-key"),
    pytest.param('{"case": 2, "trigger": "decline", "data": ' + DEEP + "}", "nested",
                 id="deeply-nested-json"),
    pytest.param('{"case": 2, "trigger": "decline", "data": {"a": [[[[[[[[[[1]]]]]]]]]]}}',
                 "nested", id="nested-beyond-the-limit"),
    pytest.param('{"case": 2.5, "trigger": "decline"}', "not a case number", id="float-case"),
    pytest.param('{"case": "2x", "trigger": "decline"}', "not a case number", id="text-case"),
    pytest.param('{"case": true, "trigger": "decline"}', "not a case number", id="bool-case"),
    pytest.param('{"case": "\u0662", "trigger": "decline"}', "not a case number",
                 id="arabic-indic-digit-case"),
    pytest.param('{"case": -2, "trigger": "decline"}', "not a case number", id="negative-case"),
    pytest.param('"case 2 decline"', "JSON object", id="a-string"),
    pytest.param("[2, \"decline\"]", "JSON object", id="a-list"),
    pytest.param("null", "JSON object", id="null"),
    pytest.param('{"case": 2, "trigger": "decline", "at": "0001-01-01 00:00"}', "'at'",
                 id="at-year-1"),
    pytest.param('{"case": 2, "trigger": "decline", "at": ["2026-11-30"]}', "'at'",
                 id="at-a-number"),
    pytest.param('{"case": 2, "trigger": "invite", "appointment": {"at": "2099-01-05"}}',
                 "case 2", id="object-for-a-date-field"),
    pytest.param('{"case": 2, "trigger": "invite", "appointment": "0001-01-01 00:00"}',
                 "case 2", id="appointment-year-1"),
    pytest.param('{"case": 2, "trigger": "close", "reason": NaN}', "number", id="nan"),
    pytest.param('{"case": 2, "trigger": "close", "reason": 1e400}', "number", id="infinity"),
    pytest.param('{"case": 2, "trigger": "close", "reason": ' + "9" * 40 + "}", "number",
                 id="huge-number-in-data"),
    pytest.param('{"case": 2, "trigger": ["decline"]}', "trigger", id="list-trigger"),
    pytest.param('{"case": 2, "trigger": "decline", "id": {"a": 1}}', "'id'",
                 id="object-id"),
]


@pytest.mark.parametrize(("line", "message"), HOSTILE_JSON)
def test_a_hostile_json_line_fails_alone_and_the_good_lines_apply(
    cohort: Env, line: str, message: str,
) -> None:
    path = write(cohort, "hostile.jsonl",
                 '{"case": 1, "trigger": "decline"}\n' + line + "\n"
                 '{"case": 3, "trigger": "decline"}\n')
    before = show(cohort, 2)
    result = cohort.run("case", "apply", str(path), "--json")
    assert "Traceback" not in result.output
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    assert (summary["applied"], summary["failed"]) == (2, 1)
    [failure] = summary["failures"]
    assert failure["line"] == 2
    assert message in failure["reason"]
    assert len(failure["reason"]) < 300
    assert (show(cohort, 1)["state"], show(cohort, 3)["state"]) == ("closed", "closed")
    assert show(cohort, 2) == before


def test_a_csv_field_beyond_the_csv_limit_fails_its_line_alone(cohort: Env) -> None:
    path = write(cohort, "long.csv",
                 "case,trigger,note\n"
                 "1,decline,\n"
                 "2,decline," + "x" * 140_000 + "\n"
                 "3,decline,\n")
    result = cohort.run("case", "apply", str(path))
    assert "Traceback" not in result.output
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "line 3: a field is longer than 131072 characters (the CSV limit); shorten it"]
    assert "read 3, applied 2, failed 1" in result.stdout
    assert [show(cohort, n)["state"] for n in (1, 2, 3)] == ["closed", "selected", "closed"]


def test_a_csv_header_beyond_the_csv_limit_is_one_clear_error(cohort: Env) -> None:
    path = write(cohort, "long.csv", "case,trigger," + "x" * 140_000 + "\n1,decline,\n")
    result = cohort.run("case", "apply", str(path))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "header" in result.stderr and "131072" in result.stderr


def test_a_csv_line_with_a_huge_case_id_fails_alone(cohort: Env) -> None:
    path = write(cohort, "huge.csv",
                 "case,trigger\n1,decline\n99999999999999999999999,decline\n3,decline\n")
    code, summary = apply(cohort, path)
    assert code == 1
    assert [(f["line"], "too large" in f["reason"]) for f in summary["failures"]] == [(3, True)]
    assert summary["applied"] == 2


def test_a_line_the_database_refuses_fails_alone(
    cohort: Env, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whatever a line does to the database, it fails alone: the chunk is redone line by line."""
    import casework.bulk

    write_chunk: Callable[..., Any] = casework.bulk._write

    def refuse_case_2(writer: Any, *args: Any) -> Any:
        if any(step.case_id == 2 for step in writer.steps):
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        return write_chunk(writer, *args)

    monkeypatch.setattr(casework.bulk, "_write", refuse_case_2)
    path = write(cohort, "three.csv", "case,trigger\n1,decline\n2,decline\n3,decline\n")
    result = cohort.run("case", "apply", str(path), "--json")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert summary["applied"] == 2
    [failure] = summary["failures"]
    assert failure["line"] == 3
    assert "could not be stored" in failure["reason"]
    assert [show(cohort, n)["state"] for n in (1, 2, 3)] == ["closed", "selected", "closed"]


# --- each line applies once -------------------------------------------------------------------


def events_per_case(env: Env) -> dict[int, int]:
    rows = query(env, select(Event.case_id, func.count()).group_by(Event.case_id))
    return {row[0]: row[1] for row in rows}


def test_applying_the_same_file_twice_applies_each_line_once(cohort: Env) -> None:
    path = write(cohort, "visits.csv",
                 "case,trigger,appointment,reason\n"
                 "1,invite,2099-01-05 10:00,\n"
                 "1,not_home,,\n"
                 "2,invite,2099-01-05 11:00,\n"
                 "2,not_home,,\n"
                 "3,close,,moved\n")
    code, first = apply(cohort, path)
    assert (code, first["applied"], first["already_applied"]) == (0, 5, 0)
    state = snapshot(cohort)
    result = cohort.run("case", "apply", str(path))
    assert result.exit_code == 0
    assert "read 5, applied 0, failed 0, already applied 5" in result.stdout
    code, third = apply(cohort, path)
    assert (code, third["read"], third["applied"], third["already_applied"],
            third["failed"]) == (0, 5, 0, 5, 0)
    assert third["by_trigger"] == {}
    assert snapshot(cohort) == state


def test_identical_lines_in_one_file_each_apply_once(cohort: Env) -> None:
    """Two not-home visits written the same way are two steps, and a rerun adds neither."""
    path = write(cohort, "twice.csv",
                 "case,trigger,appointment\n"
                 "4,invite,2099-01-05 10:00\n"
                 "4,not_home,\n"
                 "4,not_home,\n")
    code, summary = apply(cohort, path)
    assert (code, summary["applied"]) == (0, 3)
    assert show(cohort, 4)["data"]["attempts"] == {"not_home": 2}
    events = events_per_case(cohort)[4]
    code, summary = apply(cohort, path)
    assert (code, summary["applied"], summary["already_applied"]) == (0, 0, 3)
    assert events_per_case(cohort)[4] == events
    bigger = write(cohort, "thrice.csv", path.read_text(encoding="utf-8") + "4,not_home,\n")
    code, summary = apply(cohort, bigger)
    assert (code, summary["applied"], summary["already_applied"]) == (0, 1, 3)
    assert show(cohort, 4)["data"]["attempts"] == {"not_home": 3}


def test_a_rerun_of_a_not_home_file_adds_no_events(cohort: Env) -> None:
    cases = range(1, 41)
    invites = write(cohort, "invites.csv", "case,trigger,appointment\n" + "".join(
        f"{n},invite,2099-01-05 10:00\n" for n in cases))
    assert apply(cohort, invites)[0] == 0
    visits = write(cohort, "not_home.csv", "case,trigger\n" + "".join(
        f"{n},not_home\n" for n in cases))
    assert apply(cohort, visits)[1]["applied"] == 40
    events = events_per_case(cohort)
    for _ in range(2):
        code, summary = apply(cohort, visits)
        assert (code, summary["applied"], summary["already_applied"]) == (0, 0, 40)
    assert events_per_case(cohort) == events


def test_a_line_that_failed_is_tried_again_on_the_rerun(cohort: Env) -> None:
    path = write(cohort, "refer.csv", "case,trigger,appointment\n"
                 "5,invite,2099-01-05 10:00\n"
                 "6,reschedule,2099-01-06 10:00\n")
    code, summary = apply(cohort, path)
    assert (code, summary["applied"], summary["failed"]) == (1, 1, 1)
    cohort.ok("case", "advance", "6", "invite", "--set", "appointment=2099-01-05 10:00")
    code, summary = apply(cohort, path)
    assert (code, summary["applied"], summary["already_applied"], summary["failed"]) == (
        0, 1, 1, 0)
    assert show(cohort, 6)["appointments"][-1]["starts_at"] == "2099-01-06T09:00:00+00:00"


def test_the_same_line_by_bsn_and_by_case_number_are_two_lines(cohort: Env) -> None:
    person = bsn_of(8)
    case = case_of(cohort, person)
    path = jsonl(cohort, "both.jsonl", [
        {"case": case, "trigger": "invite", "appointment": "2099-01-05 10:00"},
        {"case": case, "trigger": "not_home"},
        {"bsn": person, "workflow": WORKFLOW, "trigger": "not_home"},
    ])
    code, summary = apply(cohort, path)
    assert (code, summary["applied"]) == (0, 3)
    assert show(cohort, case)["data"]["attempts"] == {"not_home": 2}
    assert apply(cohort, path)[1]["already_applied"] == 3


def test_dry_run_reports_lines_already_applied_and_writes_nothing(cohort: Env) -> None:
    first = write(cohort, "first.csv", "case,trigger\n7,decline\n8,decline\n")
    assert apply(cohort, first)[0] == 0
    second = write(cohort, "second.csv", "case,trigger\n7,decline\n8,decline\n9,decline\n")
    state = snapshot(cohort)
    code, dry = apply(cohort, second, "--dry-run")
    assert (code, dry["applied"], dry["already_applied"], dry["failed"]) == (0, 1, 2, 0)
    text = cohort.ok("case", "apply", str(second), "--dry-run").stdout
    assert "would apply 1, failed 0, already applied 2" in text
    assert snapshot(cohort) == state
    code, real = apply(cohort, second)
    assert {**dry, "dry_run": False} == real
    assert show(cohort, 9)["state"] == "closed"


def test_an_id_names_the_line_across_files(cohort: Env) -> None:
    path = write(cohort, "a.csv", "id,case,trigger,appointment\n"
                 "ronde1-0001,10,invite,2099-01-05 10:00\n"
                 "ronde1-0002,10,not_home,\n")
    assert apply(cohort, path)[1]["applied"] == 2
    renamed = write(cohort, "b.jsonl",
                    '{"id": "ronde1-0002", "case": 10, "trigger": "not_home"}\n'
                    '{"id": "ronde1-0003", "case": 10, "trigger": "not_home"}\n')
    code, summary = apply(cohort, renamed)
    assert (code, summary["applied"], summary["already_applied"]) == (0, 1, 1)
    assert show(cohort, 10)["data"]["attempts"] == {"not_home": 2}


def test_an_id_used_again_for_another_step_fails_that_line(cohort: Env) -> None:
    path = write(cohort, "ids.csv", "id,case,trigger,reason\n"
                 "x1,11,close,moved\n"
                 "x1,11,close,moved\n"
                 "x1,12,close,moved\n"
                 "x2,12,close,deceased\n")
    for args in (("--dry-run",), ()):
        code, summary = apply(cohort, path, *args)
        assert (code, summary["applied"], summary["already_applied"]) == (1, 2, 1)
        [failure] = summary["failures"]
        assert failure["line"] == 4
        assert "id 'x1' was applied before with other values" in failure["reason"]
    assert show(cohort, 12)["close_reason"] == "deceased"


def test_applied_lines_keep_no_bsn(cohort: Env) -> None:
    from casework.models import AppliedLine

    person = bsn_of(13)
    path = write(cohort, "bsn.csv", f"bsn,workflow,trigger\n{person},{WORKFLOW},decline\n")
    assert apply(cohort, path)[1]["applied"] == 1
    rows = query(cohort, select(AppliedLine))
    assert len(rows) == 1
    assert person not in repr(tuple(rows[0]))


@pytest.mark.long
def test_a_killed_apply_rerun_ends_exactly_like_one_clean_run(tmp_path: Path) -> None:
    """SIGKILL after some chunks are committed, rerun: the same cases and events as one run."""
    import contextlib
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    from click.testing import CliRunner
    from conftest import ROOT, add_anna, write_config

    cases, rounds = 200, 20  # 4,000 lines: two chunks
    lines = ["case,trigger,appointment"]
    lines += [f"{n},invite,2099-01-05 10:00" for n in range(1, cases + 1)]
    for _ in range(rounds - 3):  # the same reschedule line, again and again
        lines += [f"{n},reschedule,2099-02-01 10:00" for n in range(1, cases + 1)]
    lines += [f"{n},not_home," for n in range(1, cases + 1)] * 2
    databases = {}
    for name in ("clean", "killed"):
        folder = tmp_path / name
        folder.mkdir()
        env = Env(folder, write_config(folder, f"sqlite:///{folder / 'casework.db'}"),
                  f"sqlite:///{folder / 'casework.db'}", CliRunner())
        if name == "clean":
            env.ok("init")
            add_anna(env)
            env.ok("cohort", "import", str(EXAMPLES / "cohort.csv"), "--workflow", WORKFLOW)
            lift_exclusions(env)  # every case is invited
            template = folder / "casework.db"
        else:
            source, copy = sqlite3.connect(template), sqlite3.connect(folder / "casework.db")
            source.backup(copy)
            source.close()
            copy.close()
        path = write(env, "steps.csv", "\n".join(lines) + "\n")
        databases[name] = (env, path)

    command = [sys.executable, "-m", "casework", "case", "apply"]
    variables = {**{k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")},
                 "PYTHONPATH": str(ROOT), "CASEWORK_USER": "anna"}

    def run(env: Env, path: Path) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*command, str(path), "--json"], env={**variables, "CASEWORK_CONFIG": str(env.config)},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    env, path = databases["killed"]
    process = run(env, path)
    committed = 0
    deadline = time.monotonic() + 120
    db = sqlite3.connect(env.root / "casework.db", timeout=30)
    while committed == 0 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
        with contextlib.suppress(sqlite3.OperationalError):
            committed = db.execute("SELECT count(*) FROM applied_lines").fetchone()[0]
    db.close()
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL, "apply ended before it could be killed"
    assert 0 < committed < len(lines) - 1

    out, err = run(env, path).communicate()
    rerun = json.loads(out)
    assert "Traceback" not in err
    assert rerun["failed"] == 0
    assert rerun["already_applied"] >= committed
    assert rerun["applied"] + rerun["already_applied"] == len(lines) - 1

    clean_env, clean_path = databases["clean"]
    out, _ = run(clean_env, clean_path).communicate()
    assert json.loads(out)["applied"] == len(lines) - 1

    def outcome(env: Env) -> Any:
        cases = query(env, select(Case.id, Case.state, Case.version, Case.data)
                      .order_by(Case.id))
        events = query(env, select(Event.case_id, Event.seq, Event.trigger, Event.to_state,
                                   Event.data).order_by(Event.case_id, Event.seq))
        return [tuple(row) for row in cases], [tuple(row) for row in events]

    assert outcome(env) == outcome(clean_env)
    assert events_per_case(env) == events_per_case(clean_env)
    # Every case: its opening and one event per round; an excluded case also its exclusion.
    excluded = {row[0] for row in query(env, select(Event.case_id)
                                        .where(Event.trigger == "exclude"))}
    assert {n - (c in excluded) for c, n in events_per_case(env).items()} == {rounds + 1}


@pytest.mark.long
def test_no_apply_line_can_crash_the_run(cohort: Env) -> None:
    """Property: whatever a line holds, apply answers with exit 0 or 1, a JSON summary that
    accounts for every line, and no traceback."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    surrogates = st.sampled_from(["\ud800", "\udfff", "a\udc80b"])
    scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
               | surrogates | st.sampled_from(["2026-11-30 09:00", "0001-01-01 00:00", "1"]))
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.text(max_size=4) | surrogates, inner, max_size=3),
                          max_leaves=8)
    records = st.fixed_dictionaries({}, optional={
        key: values for key in ("case", "bsn", "workflow", "at", "note", "data", "id",
                                "appointment", "reason", "themes.health")
    } | {"trigger": st.sampled_from(["invite", "not_home", "close", "decline"]) | values})
    lines = records.map(lambda r: json.dumps(r)) | st.text(max_size=30).map(
        lambda t: t.replace("\n", " ").replace("\r", " "))

    @settings(max_examples=30, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(lines, min_size=1, max_size=4))
    def property_holds(file: list[str]) -> None:
        path = write(cohort, "any.jsonl", "\n".join(file) + "\n")
        result = cohort.run("case", "apply", str(path), "--json")
        assert "Traceback" not in result.output
        assert result.exit_code in (0, 1), result.output
        summary = json.loads(result.stdout)
        assert summary["read"] == (summary["applied"] + summary["already_applied"]
                                   + summary["failed"])

    property_holds()
    assert cohort.run("case", "list").exit_code == 0


def test_a_chunk_is_written_in_one_transaction_also_when_letters_are_replaced(
        cohort: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Moving several appointments in one chunk replaces their queued invitations in one
    statement; a statement that cannot run as one (it once fell back to line by line, which
    also made a dry run forget earlier lines) fails this test."""
    import casework.bulk

    def one_by_one(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the chunk fell back to applying line by line")

    monkeypatch.setattr(casework.bulk, "_apply_one_by_one", one_by_one)
    path = write(cohort, "moves.csv", "case,trigger,appointment\n"
                 "1,invite,2099-01-05 10:00\n3,invite,2099-01-05 11:30\n"
                 "1,reschedule,2099-01-12 10:00\n3,reschedule,2099-01-12 11:30\n")
    code, summary = apply(cohort, path)
    assert (code, summary["applied"], summary["failed"]) == (0, 4, 0)
    letters = query(cohort, select(Letter.case_id, Letter.status).order_by(Letter.id))
    assert [tuple(row) for row in letters] == [(1, "cancelled"), (3, "cancelled"),
                                               (1, "queued"), (3, "queued")]


def test_a_column_named_twice_takes_its_last_cell_even_when_empty(cohort: Env) -> None:
    """Empty cells are skipped only when every column has its own name: with a name twice,
    the last cell of it is the value, as it always was (here: no appointment)."""
    path = write(cohort, "twice_named.csv",
                 "case,trigger,appointment,appointment\n"
                 "1,invite,2099-01-05 10:00,\n"
                 "2,invite,,2099-01-05 10:00\n")
    code, summary = apply(cohort, path)
    assert (code, summary["applied"]) == (1, 1)
    assert [failure["line"] for failure in summary["failures"]] == [2]
    assert "needs field 'appointment'" in summary["failures"][0]["reason"]
    assert show(cohort, 2)["state"] == "invited"


def test_a_file_applied_before_lines_were_keyed_by_case_is_not_applied_again(
        cohort: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before migration 0022 a line without an id was stored under a hash alone; now its key
    begins with its case. The upgrade marks a database holding lines of the old form, and an
    apply then looks up both: the file applied before the upgrade is not applied again."""
    from alembic import command

    import casework.bulk
    from casework.db import _alembic_config, head_revision

    path = write(cohort, "old.csv", "case,trigger,appointment\n1,invite,2099-01-05 10:00\n"
                 "3,invite,2099-01-05 11:30\n3,reschedule,2099-01-12 11:30\n")
    made = casework.bulk._identity

    def hash_alone(line: Any, case_id: int, seen: Any) -> Any:  # as versions before 0022
        ident = made(line, case_id, casework.bulk._Seen(legacy=True))
        return ident._replace(key=ident.legacy, legacy=None) if ident and ident.legacy else ident

    monkeypatch.setattr(casework.bulk, "_identity", hash_alone)
    assert apply(cohort, path)[1]["applied"] == 3
    monkeypatch.undo()
    engine = cohort.engine()
    try:
        command.downgrade(_alembic_config(engine.db), "0021_letters_batch")
    finally:
        engine.db.dispose()
    assert f"to {head_revision()}" in cohort.ok("db", "upgrade").stdout
    engine = cohort.engine()  # down and up again: the mark is there once
    try:
        command.downgrade(_alembic_config(engine.db), "0021_letters_batch")
    finally:
        engine.db.dispose()
    assert f"to {head_revision()}" in cohort.ok("db", "upgrade").stdout
    before = snapshot(cohort)
    code, summary = apply(cohort, path)
    assert (code, summary["applied"], summary["already_applied"]) == (0, 0, 3)
    assert snapshot(cohort) == before
    more = write(cohort, "new.csv", "case,trigger,appointment\n5,invite,2099-01-05 10:00\n")
    assert apply(cohort, more)[1]["applied"] == 1
    assert apply(cohort, more)[1]["already_applied"] == 1


def test_on_a_terminal_apply_import_and_daily_run_draw_a_progress_bar(
        cohort: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Drawn on a terminal only (rich is not even imported for a script): here rich is told
    it draws on one (FORCE_COLOR), and each command still says what it did."""
    monkeypatch.setenv("FORCE_COLOR", "1")
    path = write(cohort, "one.csv", "case,trigger,appointment\n3,invite,2099-01-05 10:00\n")
    applied = cohort.run("case", "apply", str(path))
    assert applied.exit_code == 0 and "read 1, applied 1, failed 0" in applied.output
    again = cohort.run("cohort", "import", str(EXAMPLES / "cohort.csv"), "--workflow",
                       "kansen-in-kaart")
    assert again.exit_code == 0 and "already present" in again.output
    run = cohort.run("daily")
    assert run.exit_code == 0, run.output
    rendered = cohort.run("letters", "render")
    assert rendered.exit_code == 0, rendered.output
