"""Exclusion: people in contact with the social team, with recent guidance, or flagged as moved
or deceased are imported and kept, counted per reason, listed, and never invited by a wave."""

from __future__ import annotations

import calendar
import csv
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, Env, write_config
from helpers import made_up_bsns, staff, today

WORKFLOW = "kansen-in-kaart"
HEADER = ("bsn,initials,prefix,surname,street,house_number,house_number_suffix,postcode,city,"
          "wijk,phone,email,wij_team_contact,last_guidance,birth_date,flag")
START = "2099-01-05"


def months_before(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


# (surname, wijk, wij_team_contact, last_guidance, flag) -> the case ids 1..7 in this order.
PEOPLE = [
    ("Fine", "Vinkhuizen", "no", None, ""),
    ("Wijkteam", "Vinkhuizen", "yes", None, ""),
    ("Recent", "Vinkhuizen", "no", 3, ""),
    ("Longago", "Vinkhuizen", "no", 30, ""),
    ("Verhuisd", "Vinkhuizen", "no", None, "moved"),
    ("Overleden", "Beijum", "no", None, "deceased"),
    ("Beide", "Beijum", "yes", None, "moved"),
]
BSNS = made_up_bsns(len(PEOPLE), start=710_000_000)


def people_csv(folder: Path) -> Path:
    lines = [HEADER]
    for n, (surname, wijk, team, months, flag) in enumerate(PEOPLE):
        guidance = months_before(today(), months).isoformat() if months is not None else ""
        lines.append(f"{BSNS[n]},J.,,{surname},Dorpsstraat,{n + 1},,9712 AB,Groningen,{wijk},,,"
                     f"{team},{guidance},1980-05-01,{flag}")
    path = folder / "people.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def configure(env: Env, extra: str) -> None:
    write_config(env.root, env.database_url, extra)


def import_people(env: Env) -> Any:
    return env.json("cohort", "import", str(people_csv(env.root)), "--workflow", WORKFLOW)


def plan(env: Env, wijk: str) -> Any:
    return env.json("cohort", "plan", "--workflow", WORKFLOW, "--wijk", wijk, "--from", START,
                    "--specialists", "2")


def invited(data: Any) -> list[int]:
    return [inv["case_id"] for inv in data["invitations"]]


def excluded(env: Env, *args: str) -> Any:
    return env.json("cohort", "excluded", "--workflow", WORKFLOW, *args)


# --- at import --------------------------------------------------------------------------------


def test_import_summary_counts_exclusions_per_reason(env: Env) -> None:
    summary = import_people(env)
    assert (summary["read"], summary["imported"], summary["rejected"]) == (7, 7, 0)
    assert summary["excluded"] == 5
    assert summary["excluded_by_reason"] == {
        "moved": 2, "social_team_contact": 1, "recent_guidance": 1, "deceased": 1}


def test_import_text_summary_shows_the_excluded_by_reason(env: Env) -> None:
    out = env.ok("cohort", "import", str(people_csv(env.root)), "--workflow", WORKFLOW).output
    assert "excluded         5   (imported, kept out of waves)" in out
    for reason, count in (("moved", 2), ("social_team_contact", 1), ("recent_guidance", 1),
                          ("deceased", 1)):
        assert f"    {reason:<24} {count}" in out


def test_excluded_people_are_kept_as_cases_waiting_in_selected(env: Env) -> None:
    import_people(env)
    cases = env.json("case", "list")["cases"]
    assert [c["name"] for c in cases] == [f"J. {p[0]}" for p in PEOPLE]
    assert {c["state"] for c in cases} == {"selected"}
    assert env.json("case", "show", "2")["person"]["name"] == "J. Wijkteam"


def test_sample_cohort_excludes_social_team_contact_and_guidance_within_24_months(
        cohort: Env) -> None:
    with (EXAMPLES / "cohort.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    limit = months_before(today(), 24)
    expected: dict[int, str] = {}
    for case_id, row in enumerate(rows, 1):
        if row["wij_team_contact"] == "yes":
            expected[case_id] = "social_team_contact"
        elif row["last_guidance"] and date.fromisoformat(row["last_guidance"]) > limit:
            expected[case_id] = "recent_guidance"
    assert expected  # the sample holds both kinds
    listed = excluded(cohort)
    assert {c["case_id"]: c["reason"] for c in listed["cases"]} == expected
    assert listed["by_reason"] == {
        reason: list(expected.values()).count(reason) for reason in set(expected.values())}


def test_guidance_months_sets_how_recent_guidance_must_be(env: Env) -> None:
    configure(env, "\n[rules.exclusion]\nguidance_months = 36\n")
    summary = import_people(env)
    assert summary["excluded_by_reason"]["recent_guidance"] == 2  # 3 and 30 months ago


def test_guidance_longer_ago_than_guidance_months_does_not_exclude(env: Env) -> None:
    configure(env, "\n[rules.exclusion]\nguidance_months = 2\n")
    summary = import_people(env)
    assert "recent_guidance" not in summary["excluded_by_reason"]
    assert summary["excluded"] == 4


def test_an_unknown_flag_is_rejected_with_its_row(env: Env) -> None:
    path = env.root / "bad.csv"
    path.write_text(f"{HEADER}\n{BSNS[0]},J.,,Fout,Dorpsstraat,1,,9712 AB,Groningen,Beijum,,,"
                    "no,,,emigrated\n", encoding="utf-8")
    result = env.run("cohort", "import", str(path), "--workflow", WORKFLOW)
    assert result.exit_code == 1
    assert "row 2:" in result.stderr and "emigrated" in result.stderr
    assert env.json("case", "list")["total"] == 0


def test_importing_the_same_file_again_counts_no_new_exclusions(env: Env) -> None:
    import_people(env)
    again = import_people(env)
    assert (again["imported"], again["already_present"], again["excluded"]) == (0, 7, 0)
    assert len(excluded(env)["cases"]) == 5


# --- at planning ------------------------------------------------------------------------------


def test_plan_invites_nobody_who_is_excluded(env: Env) -> None:
    import_people(env)
    assert invited(plan(env, "Vinkhuizen")) == [1, 4]
    data = plan(env, "Beijum")
    assert invited(data) == []
    assert data["selected"] == 0
    states = {c["id"]: c["state"] for c in env.json("case", "list")["cases"]}
    assert states == {1: "invited", 2: "selected", 3: "selected", 4: "invited", 5: "selected",
                      6: "selected", 7: "selected"}


def test_cohort_excluded_lists_the_people_with_their_reason(env: Env) -> None:
    import_people(env)
    data = excluded(env)
    assert data["workflow"] == WORKFLOW
    assert [(c["case_id"], c["name"], c["wijk"], c["state"], c["reason"])
            for c in data["cases"]] == [
        (2, "J. Wijkteam", "Vinkhuizen", "selected", "social_team_contact"),
        (3, "J. Recent", "Vinkhuizen", "selected", "recent_guidance"),
        (5, "J. Verhuisd", "Vinkhuizen", "selected", "moved"),
        (6, "J. Overleden", "Beijum", "selected", "deceased"),
        (7, "J. Beide", "Beijum", "selected", "moved"),
    ]
    assert data["by_reason"] == {"social_team_contact": 1, "recent_guidance": 1, "moved": 2,
                                 "deceased": 1}


def test_cohort_excluded_filters_by_wijk_and_reason(env: Env) -> None:
    import_people(env)
    assert [c["case_id"] for c in excluded(env, "--wijk", "Beijum")["cases"]] == [6, 7]
    assert [c["case_id"] for c in excluded(env, "--reason", "moved")["cases"]] == [5, 7]
    both = excluded(env, "--wijk", "Vinkhuizen", "--reason", "moved")
    assert [c["case_id"] for c in both["cases"]] == [5]
    assert both["by_reason"] == {"moved": 1}
    typo = env.run("cohort", "excluded", "--workflow", WORKFLOW, "--reason", "movd")
    assert typo.exit_code == 2 and "moved" in typo.output  # a typo names the known reasons


def test_cohort_excluded_table_names_people_and_totals_by_reason(env: Env) -> None:
    import_people(env)
    out = env.ok("cohort", "excluded", "--workflow", WORKFLOW, "--wijk", "Beijum",
                 env={"COLUMNS": "200"}).output
    assert "J. Overleden" in out and "deceased" in out
    assert "J. Wijkteam" not in out
    assert "2 excluded; by reason: deceased 1, moved 1" in out


def test_plan_asks_the_rules_again_and_leaves_out_who_is_excluded_now(env: Env) -> None:
    configure(env, "\n[rules.exclusion]\nguidance_months = 2\n")
    import_people(env)  # guidance 3 months ago: not excluded yet
    configure(env, "")
    data = plan(env, "Vinkhuizen")
    assert invited(data) == [1, 4]
    assert data["excluded_now"] == [{"case_id": 3, "reason": "recent_guidance"}]
    assert [c["case_id"] for c in excluded(env, "--reason", "recent_guidance")["cases"]] == [3]


def test_a_dry_run_plan_does_not_mark_anyone_excluded(env: Env) -> None:
    configure(env, "\n[rules.exclusion]\nguidance_months = 2\n")
    import_people(env)
    configure(env, "")
    data = env.json("cohort", "plan", "--workflow", WORKFLOW, "--wijk", "Vinkhuizen",
                    "--from", START, "--specialists", "2", "--dry-run")
    assert data["excluded_now"] == [{"case_id": 3, "reason": "recent_guidance"}]
    assert excluded(env, "--reason", "recent_guidance")["cases"] == []


# --- flags set later --------------------------------------------------------------------------


def test_flagging_a_person_as_moved_keeps_them_out_of_the_next_wave(env: Env) -> None:
    import_people(env)
    result = env.json("case", "flag", "1", "moved")
    assert result == {"case_id": 1, "flag": "moved", "cases_changed": 1,
                      "cancelled": {"tasks": 0, "letters": 0}, "to_pull": [], "requeued": 0}
    assert invited(plan(env, "Vinkhuizen")) == [4]
    assert [c["case_id"] for c in excluded(env, "--reason", "moved")["cases"]] == [1, 5, 7]
    last = env.json("case", "show", "1")["timeline"][-1]
    assert (last["trigger"], last["data"], last["actor"]) == ("flag", {"flag": "moved"}, "anna")


def test_flagging_deceased_says_so_in_text(env: Env) -> None:
    import_people(env)
    out = env.ok("case", "flag", "4", "deceased").output
    assert "Case 4: person flagged deceased (1 case(s) changed)." in out
    assert [c["case_id"] for c in excluded(env, "--reason", "deceased")["cases"]] == [4, 6]


def test_clearing_the_flag_lets_the_person_be_planned_again(env: Env) -> None:
    import_people(env)
    env.ok("case", "flag", "1", "moved")
    cleared = env.json("case", "flag", "1", "none")
    assert cleared == {"case_id": 1, "flag": None, "cases_changed": 1,
                       "cancelled": {"tasks": 0, "letters": 0}, "to_pull": [], "requeued": 0}
    assert invited(plan(env, "Vinkhuizen")) == [1, 4]


def test_clearing_a_flag_from_the_import_lets_the_person_be_planned(env: Env) -> None:
    import_people(env)
    env.ok("case", "flag", "5", "none")
    assert invited(plan(env, "Vinkhuizen")) == [1, 4, 5]


def test_clearing_the_flag_keeps_an_exclusion_for_another_reason(env: Env) -> None:
    import_people(env)
    env.ok("case", "flag", "2", "moved")
    env.ok("case", "flag", "2", "none")
    assert [c["reason"] for c in excluded(env)["cases"] if c["case_id"] == 2] == [
        "social_team_contact"]
    assert 2 not in invited(plan(env, "Vinkhuizen"))


def test_flag_of_an_unknown_value_is_refused(env: Env) -> None:
    import_people(env)
    before = excluded(env)["cases"]
    result = env.run("case", "flag", "1", "emigrated")
    assert result.exit_code == 2
    assert excluded(env)["cases"] == before  # nothing was flagged


# --- switching the rule off -------------------------------------------------------------------


def test_with_the_rule_switched_off_nobody_is_excluded_at_import(env: Env) -> None:
    configure(env, '\n[rules]\ndisabled = ["exclusion"]\n')
    summary = import_people(env)
    assert (summary["imported"], summary["excluded"], summary["excluded_by_reason"]) == (7, 0, {})
    assert invited(plan(env, "Vinkhuizen")) == [1, 2, 3, 4, 5]
    assert excluded(env)["cases"] == []


def test_switching_the_rule_off_after_the_import_lets_the_excluded_be_planned(
        env: Env) -> None:
    """People the rule excluded at import are kept; once the project switches the rule off,
    a wave invites them like anyone else."""
    import_people(env)
    configure(env, '\n[rules]\ndisabled = ["exclusion"]\n')
    assert invited(plan(env, "Vinkhuizen")) == [1, 2, 3, 4, 5]
    assert invited(plan(env, "Beijum")) == [6, 7]


def test_clearing_the_flag_of_someone_also_in_contact_with_the_social_team_keeps_them_listed(
        env: Env) -> None:
    """Case 7 was flagged moved at import and is in contact with the social team: once the flag
    is cleared they are still excluded, and cohort excluded still shows them (and why)."""
    import_people(env)
    env.ok("case", "flag", "7", "none")
    listed = {c["case_id"]: c["reason"] for c in excluded(env)["cases"]}
    assert listed.get(7) == "social_team_contact"


# --- by hand ----------------------------------------------------------------------------------

APPOINTMENT = "2099-01-06 10:00"
INVITE = ("invite", "--set", f"appointment={APPOINTMENT}")


def by_hand(env: Env) -> None:
    """The seven people, with Kees coordinating the route and Piet working in Vinkhuizen."""
    import_people(env)
    env.ok("staff", "add", "kees", "--role", "coordinator", "--project", WORKFLOW)
    env.ok("staff", "add", "piet", "--role", "case_worker", "--wijk", "Vinkhuizen")


@pytest.mark.parametrize(("case_id", "reason", "words"), [
    (2, "social_team_contact", "is in contact with the social team"),
    (3, "recent_guidance", "had guidance within the last 24 months"),
    (5, "moved", "has moved away"),
    (6, "deceased", "has died"),
])
def test_inviting_an_excluded_person_by_hand_is_refused_naming_the_exclusion(
        env: Env, case_id: int, reason: str, words: str) -> None:
    by_hand(env)
    result = env.run("case", "advance", str(case_id), *INVITE, user="kees")
    assert result.exit_code == 1, result.output
    assert f"Error: excluded ({reason}): the person {words}" in result.stderr
    if reason in ("moved", "deceased"):  # nothing is sent to them: no override offered
        assert f"clear it with 'casework case flag {case_id} none' (rule exclusion)" \
            in result.stderr and "--override-exclusion" not in result.stderr
    else:
        assert "--override-exclusion --note REASON (rule exclusion)" in result.stderr
    assert env.json("case", "show", str(case_id))["state"] == "selected"
    triggers = env.json("case", "triggers", str(case_id))["triggers"]
    invite = next(t for t in triggers if t["trigger"] == "invite")
    assert not invite["possible"] and f"excluded ({reason})" in invite["reason"]


def test_an_excluded_person_can_still_be_declined_or_closed(env: Env) -> None:
    by_hand(env)
    env.ok("case", "advance", "2", "decline", user="piet")
    env.ok("case", "advance", "3", "close", "--set", "reason=other", user="piet")
    assert {env.json("case", "show", c)["state"] for c in ("2", "3")} == {"closed"}


def test_a_coordinator_overrides_an_exclusion_with_a_reason_in_timeline_and_log(
        env: Env) -> None:
    by_hand(env)
    step = env.json("case", "advance", "2", *INVITE, "--override-exclusion", "--note",
                    "WIJ-team vraagt zelf om een gesprek", user="kees")
    assert (step["to"], step["overridden"]) == ("invited", {"exclusion": "social_team_contact"})
    last = env.json("case", "show", "2")["timeline"][-1]
    assert (last["trigger"], last["actor"], last["note"]) == (
        "invite", "kees", "WIJ-team vraagt zelf om een gesprek")
    assert last["data"]["override_exclusion"] == "social_team_contact"
    logged = [e for e in env.json("audit", "--case", "2") if e["actor"] == "kees"]
    assert [e["action"] for e in logged] == ["advance, override exclusion"]
    text = env.ok("case", "advance", "3", *INVITE, "--override-exclusion", "--note", "verzoek",
                  user="kees").stdout
    assert "Case 3: invite, selected -> invited (exclusion recent_guidance overridden)" in text


@pytest.mark.parametrize("case_id", [5, 6])
def test_no_override_approaches_someone_who_moved_away_or_died(env: Env,
                                                               case_id: int) -> None:
    """Found by the route-driven season: an override sent an approach letter to a person
    flagged moved or deceased, to whom nothing more may be sent."""
    by_hand(env)
    result = env.run("case", "advance", str(case_id), *INVITE, "--override-exclusion",
                     "--note", "toch uitnodigen", user="kees")
    assert result.exit_code == 1 and "nothing is sent to them" in result.stderr
    assert env.json("case", "show", str(case_id))["state"] == "selected"
    assert env.json("letters", "list")["letters"] == []
    env.ok("case", "flag", str(case_id), "none")  # a wrong flag is cleared first
    assert env.json("case", "advance", str(case_id), *INVITE, user="kees")["to"] == "invited"


def test_flagging_someone_kept_out_for_another_reason_makes_the_flag_the_reason(
        env: Env) -> None:
    """Found by the route-driven season: case 2 (in contact with the social team) flagged
    deceased kept its overridable reason, and an override approached someone who had died."""
    by_hand(env)
    flagged = env.json("case", "flag", "2", "deceased")
    assert flagged["cases_changed"] == 1
    assert [c["case_id"] for c in excluded(env, "--reason", "deceased")["cases"]] == [2, 6]
    result = env.run("case", "advance", "2", *INVITE, "--override-exclusion", "--note",
                     "toch uitnodigen", user="kees")
    assert result.exit_code == 1 and "excluded (deceased)" in result.stderr
    env.ok("case", "flag", "2", "none")  # cleared: the social team contact holds again
    listed = {c["case_id"]: c["reason"] for c in excluded(env)["cases"]}
    assert listed.get(2) == "social_team_contact"


def test_only_a_coordinator_may_override_an_exclusion(env: Env) -> None:
    by_hand(env)
    result = env.run("case", "advance", "2", *INVITE, "--override-exclusion", "--note", "x",
                     user="piet")
    assert result.exit_code == 1
    assert "piet (case_worker) may not override an exclusion: that needs the role " \
        "coordinator" in result.stderr
    assert env.json("case", "show", "2")["state"] == "selected"


def test_an_override_needs_a_note_and_something_to_override(env: Env) -> None:
    by_hand(env)
    bare = env.run("case", "advance", "2", *INVITE, "--override-exclusion", user="kees")
    assert bare.exit_code == 2 and "--override-exclusion needs --note REASON" in bare.stderr
    blank = env.run("case", "advance", "2", *INVITE, "--override-exclusion", "--note", " ",
                    user="kees")
    assert blank.exit_code == 2
    nothing = env.run("case", "advance", "1", *INVITE, "--override-exclusion", "--note", "x",
                      user="kees")
    assert nothing.exit_code == 1
    assert "nothing to override: rule exclusion does not block 'invite' for case 1" \
        in nothing.stderr
    assert {env.json("case", "show", c)["state"] for c in ("1", "2")} == {"selected"}


def test_core_refuses_an_override_without_a_reason_or_of_another_rule(env: Env) -> None:
    from casework.errors import InvalidData

    by_hand(env)
    engine = env.engine()
    try:
        data = {"appointment": APPOINTMENT}
        with pytest.raises(InvalidData, match="say why with --note"):
            engine.advance(2, "invite", staff(engine, "kees"), data, overrides=("exclusion",))
        with pytest.raises(InvalidData,
                           match="rule consent cannot be overridden; only exclusion can"):
            engine.advance(2, "invite", staff(engine, "kees"), data, note="x",
                           overrides=("consent",))
    finally:
        engine.db.dispose()
    assert env.json("case", "show", "2")["state"] == "selected"


def test_apply_fails_the_lines_of_excluded_people_with_the_same_message(env: Env) -> None:
    by_hand(env)
    path = env.root / "invite.csv"
    path.write_text(f"case,trigger,appointment\n1,invite,{APPOINTMENT}\n"
                    f"5,invite,{APPOINTMENT}\n4,invite,{APPOINTMENT}\n", encoding="utf-8")
    result = env.run("case", "apply", str(path), "--json", user="kees")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert (summary["applied"], summary["failed"]) == (2, 1)
    [failure] = summary["failures"]
    assert failure["line"] == 3
    assert failure["reason"].startswith("case 5: excluded (moved): the person has moved away")
    assert env.json("case", "show", "5")["state"] == "selected"


def test_with_the_rule_switched_off_an_excluded_person_may_be_invited_by_hand(
        env: Env) -> None:
    by_hand(env)
    configure(env, '\n[rules]\ndisabled = ["exclusion"]\n')
    env.ok("case", "advance", "2", *INVITE, user="piet")
    assert env.json("case", "show", "2")["state"] == "invited"
