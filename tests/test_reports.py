"""Reports counted from events as of a date, against a scenario worked out by hand."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import EXAMPLES, Env, lift_exclusions
from helpers import Clock, staff

from casework.engine import Engine
from casework.models import Task
from casework.reports import (
    Scope,
    caseload,
    follow_up,
    outcomes,
    outflow,
    referrals,
    response,
    worklist,
)

WORKFLOW = "kansen-in-kaart"
START = datetime(2030, 6, 3, 8, 0, tzinfo=UTC)
APPOINTMENT = {"appointment": "2030-06-20 10:00"}
JULY = {"appointment": "2030-07-09 10:00"}


def wijk_of(case_id: int) -> str:
    with (EXAMPLES / "cohort.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))[case_id - 1]["wijk"]


@pytest.fixture
def scenario(env: Env) -> Iterator[tuple[Engine, Clock]]:
    """Six people invited on 3 June 2030; conversations on 10 June; one started an activity on
    15 June; and more recorded on 1 July (after the first as-of date)."""
    from casework.cohort import import_cohort

    clock = Clock(START)
    engine: Engine = env.engine(clock=clock)
    import_cohort(engine, EXAMPLES / "cohort.csv", WORKFLOW, staff(engine, "anna"))
    lift_exclusions(env)  # case 2 is in contact with the WIJ-team
    for case_id in range(1, 7):
        engine.advance(case_id, "invite", staff(engine, "anna"), APPOINTMENT)
    clock.set(datetime(2030, 6, 10, 12, tzinfo=UTC))
    talk = engine.advance
    anna = staff(engine, "anna")
    talk(1, "hold_conversation", anna, {"classification": "socially_active",
                                          "participation_potential": "self",
                                          "consent": ["share:coach_meedoen"]})
    talk(1, "refer", anna, {"partner": "coach_meedoen"})
    talk(3, "hold_conversation", anna, {"classification": "socially_active",
                                          "participation_potential": "none"})
    talk(4, "hold_conversation", anna, {"classification": "not_active",
                                          "participation_potential": "supported",
                                          "consent": ["share:wij_team"]})
    talk(4, "refer", anna, {"partner": "wij_team"})
    talk(5, "hold_conversation", anna, {"classification": "work_potential",
                                          "participation_potential": "none"})
    talk(6, "decline", anna)
    clock.set(datetime(2030, 6, 15, 9, tzinfo=UTC))
    talk(1, "start_activity", anna, {"activity": "volunteering"})
    # Recorded after the first as-of date: must not count as of 12 June.
    clock.set(datetime(2030, 7, 1, 9, tzinfo=UTC))
    talk(2, "hold_conversation", anna, {"classification": "not_active",
                                          "participation_potential": "self",
                                          "consent": ["share:centrum_naar_werk"]})
    talk(2, "refer", anna, {"partner": "centrum_naar_werk"})
    talk(4, "start_activity", anna, {"activity": "participation_job"})
    yield engine, clock
    engine.db.dispose()


def test_outcomes_as_of_a_date_count_only_what_was_recorded_by_then(
    scenario: tuple[Engine, Clock],
) -> None:
    engine, _ = scenario
    report = outcomes(engine, Scope(datetime(2030, 6, 12).date(), WORKFLOW))
    assert {k: report[k] for k in (
        "approached", "spoken", "socially_active", "socially_active_with_potential",
        "work_potential", "not_active", "not_active_with_potential",
        "participation_potential_total", "potential_self", "potential_supported",
        "became_active")} == {
        "approached": 6, "spoken": 4, "socially_active": 2,
        "socially_active_with_potential": 1, "work_potential": 1, "not_active": 1,
        "not_active_with_potential": 1, "participation_potential_total": 2,
        "potential_self": 1, "potential_supported": 1, "became_active": 0,
    }
    assert report["referrals"] == {"per_partner": {"coach_meedoen": 1, "wij_team": 1},
                                   "total": 2}
    wijken = {r["wijk"]: r for r in report["per_wijk"]}
    assert sum(r["spoken"] for r in wijken.values()) == 4
    assert wijken[wijk_of(1)]["socially_active"] >= 1


def test_outcomes_later_include_the_later_records(scenario: tuple[Engine, Clock]) -> None:
    engine, _ = scenario
    report = outcomes(engine, Scope(datetime(2030, 7, 1).date(), WORKFLOW))
    assert (report["spoken"], report["not_active"], report["potential_self"]) == (5, 2, 2)
    assert report["became_active"] == 2
    assert report["referrals"]["total"] == 3
    assert report["referrals"]["per_partner"]["centrum_naar_werk"] == 1


def test_before_anything_happened_everything_is_zero(scenario: tuple[Engine, Clock]) -> None:
    engine, _ = scenario
    report = outcomes(engine, Scope(datetime(2030, 6, 2).date(), WORKFLOW))
    assert report["approached"] == report["spoken"] == report["referrals"]["total"] == 0


def test_response_per_wijk_and_variant(scenario: tuple[Engine, Clock]) -> None:
    engine, _ = scenario
    report = response(engine, Scope(datetime(2030, 6, 12).date(), WORKFLOW))
    [variant] = report["per_variant"]
    assert variant == {"variant": "with_sentence", "approached": 6, "spoken": 4,
                       "declined": 1, "unreachable": 0, "response_pct": 66.7}
    expected: dict[str, dict[str, int]] = {}
    for case_id, spoken, declined in ((1, 1, 0), (2, 0, 0), (3, 1, 0), (4, 1, 0), (5, 1, 0),
                                      (6, 0, 1)):
        row = expected.setdefault(wijk_of(case_id), {"approached": 0, "spoken": 0,
                                                    "declined": 0})
        row["approached"] += 1
        row["spoken"] += spoken
        row["declined"] += declined
    got = {r["wijk"]: {k: r[k] for k in ("approached", "spoken", "declined")}
           for r in report["per_wijk"]}
    assert got == expected


def test_a_wijk_filter_counts_only_that_wijk(scenario: tuple[Engine, Clock]) -> None:
    engine, _ = scenario
    wijk = wijk_of(1)
    report = outcomes(engine, Scope(datetime(2030, 6, 12).date(), WORKFLOW, wijk))
    same_wijk = [c for c in range(1, 7) if wijk_of(c) == wijk]
    assert report["approached"] == len(same_wijk)
    assert report["wijk"] == wijk


def run(env: Env, *args: str) -> Any:
    return env.run("report", *args)


def test_cli_report_json_csv_table_and_chart(scenario: tuple[Engine, Clock], env: Env) -> None:
    import json

    result = run(env, "outcomes", "--as-of", "2030-06-12", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["report"] == "outcomes" and data["as_of"] == "2030-06-12"
    assert data["spoken"] == 4
    csv_out = run(env, "outcomes", "--as-of", "2030-06-12", "--format", "csv")
    rows = list(csv.reader(io.StringIO(csv_out.stdout), delimiter=";"))
    assert rows[0] == ["measure", "label", "number"]
    assert ["referrals.total", "Verwijzingen totaal", "2"] in rows
    table = run(env, "outcomes", "--as-of", "2030-06-12")
    assert "Gesproken" in table.stdout
    chart = env.root / "respons.png"
    result = run(env, "response", "--as-of", "2030-06-12", "--chart", str(chart))
    assert result.exit_code == 0, result.output
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_route_and_bad_date_are_clear_errors(env: Env) -> None:
    result = run(env, "outcomes", "--workflow", "nope")
    assert result.exit_code == 2 and "'nope' is not a known route" in result.stderr
    assert "Known: all, dienstencentrum, kansen-in-kaart" in result.stderr
    result = run(env, "outcomes", "--as-of", "gisteren")
    assert result.exit_code == 2 and "not a date" in result.output
    assert "Traceback" not in result.output




def day(text: str) -> Any:
    return datetime.fromisoformat(text).date()


def follow_up_task(engine: Engine, case_id: int) -> int:
    from sqlalchemy import select

    with engine.db.connect() as conn:
        return conn.execute(select(Task.id).where(
            Task.case_id == case_id, Task.kind == "follow_up_call",
            Task.status == "open")).scalar_one()


@pytest.fixture
def later(scenario: tuple[Engine, Clock]) -> tuple[Engine, Clock]:
    """The scenario, then (all on the dates given):
    2 Jul: 7, 8, 9 invited, spoken and referred (7 and 8 to coach_meedoen, 9 to
      centrum_naar_werk); 10, 11, 12 invited, spoken and act themselves (follow-up).
    10 Jul: 7 closed, no interest.  12 Jul: 8 referred on to wij_team.
    20 Jul: 9 closed unreachable; 4 (active) left benefit on 15 Jul, 1.0 fte.
    5 Sep: 1 (active) left benefit on 1 Sep, 0.5 fte.
    5 Oct: follow-up call 10 reached: became active.  6 Oct: 11 reached: taking steps.
    6 Oct: 12 not reached (round 1), 7 Oct: not reached (round 2): closed unreachable.
    15 Dec: 5 (spoken) left benefit on 1 Nov, 1.0 fte (recorded after 1 Dec)."""
    engine, clock = scenario
    step = engine.advance
    anna = staff(engine, "anna")
    clock.set(datetime(2030, 7, 2, 9, tzinfo=UTC))
    for case_id, partner in ((7, "coach_meedoen"), (8, "coach_meedoen"),
                             (9, "centrum_naar_werk")):
        step(case_id, "invite", anna, JULY)
        step(case_id, "hold_conversation", anna, {
            "classification": "not_active", "participation_potential": "supported",
            "consent": [f"share:{partner}", "share:wij_team"]})
        step(case_id, "refer", anna, {"partner": partner})
    for case_id in (10, 11, 12):
        step(case_id, "invite", anna, JULY)
        step(case_id, "hold_conversation", anna, {"classification": "socially_active",
                                                    "participation_potential": "self"})
        step(case_id, "self_action", anna)
    clock.set(datetime(2030, 7, 10, 9, tzinfo=UTC))
    step(7, "close", anna, {"reason": "no_interest"})
    clock.set(datetime(2030, 7, 12, 9, tzinfo=UTC))
    step(8, "refer", anna, {"partner": "wij_team"})
    clock.set(datetime(2030, 7, 20, 9, tzinfo=UTC))
    step(9, "close", anna, {"reason": "unreachable"})
    step(4, "record_outflow", anna, {"outflow_date": "2030-07-15", "fte": "1,0"})
    clock.set(datetime(2030, 9, 5, 9, tzinfo=UTC))
    step(1, "record_outflow", anna, {"outflow_date": "2030-09-01", "fte": "0.5"})
    from casework.tasks import complete_task

    clock.set(datetime(2030, 10, 5, 9, tzinfo=UTC))
    complete_task(engine, staff(engine, "anna"), follow_up_task(engine, 10), "reached",
                  {"result": "became_active", "activity": "volunteering"})
    clock.set(datetime(2030, 10, 6, 9, tzinfo=UTC))
    complete_task(engine, staff(engine, "anna"), follow_up_task(engine, 11), "reached",
                  {"result": "taking_steps"})
    complete_task(engine, staff(engine, "anna"), follow_up_task(engine, 12), "not_reached")
    clock.set(datetime(2030, 10, 7, 9, tzinfo=UTC))
    complete_task(engine, staff(engine, "anna"), follow_up_task(engine, 12), "not_reached")
    clock.set(datetime(2030, 12, 15, 9, tzinfo=UTC))
    step(5, "record_outflow", anna, {"outflow_date": "2030-11-01", "fte": "1"})
    return engine, clock


def partners(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["partner"]: row for row in report["per_partner"]}


def test_referrals_follow_each_referral_to_what_came_of_it(
    later: tuple[Engine, Clock],
) -> None:
    engine, _ = later
    zero = dict.fromkeys(("started", "no_interest", "unreachable", "referred_to_care",
                          "referred_on", "closed_otherwise", "in_progress"), 0)
    # 12 June: 1 -> coach_meedoen and 4 -> wij_team, nothing came of them yet.
    report = partners(referrals(engine, Scope(day("2030-06-12"), WORKFLOW)))
    assert set(report) == {"coach_meedoen", "wij_team"}
    assert {k: report["coach_meedoen"][k] for k in ("referred", *zero)} == {
        **zero, "referred": 1, "in_progress": 1}
    # 31 July: coach_meedoen had 1 (started volunteering 15 Jun), 7 (no interest), 8 (on to
    # care); wij_team had 4 (participation job 1 Jul) and 8 (still open); centrum_naar_werk had
    # 2 (open) and 9 (unreachable).
    report_data = referrals(engine, Scope(day("2030-07-31"), WORKFLOW))
    report = partners(report_data)
    assert {k: report["coach_meedoen"][k] for k in ("referred", *zero)} == {
        **zero, "referred": 3, "started": 1, "no_interest": 1, "referred_to_care": 1}
    assert report["coach_meedoen"]["started_per_kind"] == {"volunteering": 1}
    assert report["coach_meedoen"]["label"] == "Coach Meedoen"
    assert {k: report["wij_team"][k] for k in ("referred", *zero)} == {
        **zero, "referred": 2, "started": 1, "in_progress": 1}
    assert report["wij_team"]["started_per_kind"] == {"participation_job": 1}
    assert {k: report["centrum_naar_werk"][k] for k in ("referred", *zero)} == {
        **zero, "referred": 2, "unreachable": 1, "in_progress": 1}
    assert report_data["total"]["referred"] == 7
    assert report_data["total"]["in_progress"] == 2


def test_follow_up_counts_calls_and_their_results_as_of_the_date(
    later: tuple[Engine, Clock],
) -> None:
    engine, _ = later
    keys = ("called", "became_active", "to_social_team", "taking_steps", "not_active",
            "no_contact")
    before = follow_up(engine, Scope(day("2030-10-04"), WORKFLOW))
    assert {k: before[k] for k in keys} == dict.fromkeys(keys, 0)
    first = follow_up(engine, Scope(day("2030-10-05"), WORKFLOW))
    assert {k: first[k] for k in keys} == {**dict.fromkeys(keys, 0), "called": 1,
                                           "became_active": 1}
    after = follow_up(engine, Scope(day("2030-10-31"), WORKFLOW))
    assert {k: after[k] for k in keys} == {"called": 3, "became_active": 1,
                                           "to_social_team": 0, "taking_steps": 1,
                                           "not_active": 0, "no_contact": 1}


def test_outflow_per_month_and_the_savings_of_the_year(later: tuple[Engine, Clock]) -> None:
    engine, _ = later
    report = outflow(engine, Scope(day("2030-12-01"), WORKFLOW))
    # 4: 1.0 fte from 15 Jul: 14,000 x 170/365 = 6,520.55; 1: 0.5 fte from 1 Sep:
    # 7,000 x 122/365 = 2,339.73. The outflow of 5 was recorded on 15 Dec: not yet.
    assert (report["year"], report["persons"], report["fte"]) == (2030, 2, 1.5)
    assert report["savings"] == pytest.approx(8860.27, abs=0.01)
    months = {m["month"]: m for m in report["by_month"]}
    assert len(months) == 12
    assert months["2030-07"] == {"month": "2030-07", "persons": 1, "fte": 1.0,
                                 "savings": 6520.55}
    assert months["2030-09"] == {"month": "2030-09", "persons": 1, "fte": 0.5,
                                 "savings": 2339.73}
    assert months["2030-11"]["persons"] == 0
    end_of_year = outflow(engine, Scope(day("2030-12-31"), WORKFLOW))
    # 5: 1.0 fte from 1 Nov: 14,000 x 61/365 = 2,339.73 more.
    assert end_of_year["persons"] == 3
    assert end_of_year["savings"] == pytest.approx(8860.27 + 2339.73, abs=0.02)
    # In the next year every outflow of 2030 counts for the whole year: 2.5 fte x 14,000.
    next_year = outflow(engine, Scope(day("2031-03-01"), WORKFLOW), year=2031)
    assert (next_year["persons"], next_year["fte"]) == (0, 0.0)
    assert next_year["earlier_years"] == {"persons": 3, "fte": 2.5, "savings": 35000.0}
    assert next_year["savings"] == 35000.0


def test_outflow_json_keys_and_the_yearly_benefit_from_config(
    later: tuple[Engine, Clock], env: Env,
) -> None:
    import json

    config = env.root / "config.toml"
    config.write_text(config.read_text(encoding="utf-8")
                      + "\n[reports]\nannual_benefit_per_fte = 20000\n", encoding="utf-8")
    result = run(env, "outflow", "--as-of", "2031-01-15", "--year", "2030", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"year", "persons", "fte", "savings", "by_month"} <= set(data)
    assert set(data["by_month"][0]) == {"month", "persons", "fte", "savings"}
    assert (data["year"], data["persons"], data["fte"]) == (2030, 3, 2.5)
    # 20,000 x (170/365 + 0.5 x 122/365 + 61/365)
    assert data["savings"] == pytest.approx(20000 * (170 + 61 + 61) / 365, abs=0.02)
    chart = env.root / "uitstroom.png"
    result = run(env, "outflow", "--as-of", "2031-01-15", "--year", "2030", "--chart",
                 str(chart))
    assert result.exit_code == 0, result.output
    assert chart.read_bytes()[:4] == b"\x89PNG"
    assert "juli 2030" in result.stdout  # Dutch months, amounts and fte in the table
    assert "€ 9.315,07" in result.stdout and "6.520,55" not in result.stdout  # 20,000 a year
    assert run(env, "outcomes", "--year", "2030").exit_code == 2


def test_worklist_open_and_overdue_tasks_as_of_the_date(scenario: tuple[Engine, Clock]) -> None:
    engine, _ = scenario
    # Reminder calls (due 19 Jun, the workday before the appointments) were planned at the
    # invitations on 3 Jun; the conversations of 10 Jun cancelled those of 1, 3, 4, 5 and 6
    # (declined) and planned reports due 5 workdays later (17 Jun) for 1, 3, 4, 5.
    early = worklist(engine, Scope(day("2030-06-05"), WORKFLOW))
    assert [(r["worker"], r["kind"], r["open"], r["overdue"]) for r in early["per_worker"]] == [
        ("-", "reminder_call", 6, 0)]
    june = worklist(engine, Scope(day("2030-06-20"), WORKFLOW))
    assert {(r["kind"], r["open"], r["overdue"]) for r in june["per_worker"]} == {
        ("reminder_call", 1, 1), ("report_due", 4, 4)}
    assert (june["open"], june["overdue"]) == (5, 5)


def test_caseload_per_worker_state_age_and_flags(env: Env) -> None:
    from casework.cohort import import_cohort

    cohort_file = env.root / "small.csv"
    cohort_file.write_text(
        "bsn,surname,street,house_number,postcode,city,wijk,birth_date,flag,wij_team_contact\n"
        "111222333,Jansen,Hoofdweg,1,9711 AA,Groningen,Oost,2004-03-01,,no\n"
        "123456782,De Vries,Hoofdweg,2,9711 AA,Groningen,Oost,1980-01-01,,no\n"
        "100000009,Bakker,Hoofdweg,3,9711 AA,Groningen,Oost,,,yes\n"
        "100000010,Smit,Hoofdweg,4,9711 AA,Groningen,West,1990-05-05,,no\n",
        encoding="utf-8")
    clock = Clock(START)
    engine = env.engine(clock=clock)
    imported = import_cohort(engine, cohort_file, WORKFLOW, staff(engine, "anna"))
    assert imported.imported == 4, imported
    engine.advance(1, "invite", staff(engine, "anna"), APPOINTMENT)
    engine.advance(2, "invite", staff(engine, "anna"), APPOINTMENT)
    from casework.cases import assign_case

    assign_case(engine, staff(engine, "anna"), 1, "bert")
    clock.set(datetime(2030, 6, 10, 9, tzinfo=UTC))
    engine.advance(2, "decline", staff(engine, "anna"))
    assign_case(engine, staff(engine, "anna"), 4, "bert")
    # 3 June: 1 invited (bert), 2 invited, 3 and 4 selected; 1 is 26 on 3 June 2030.
    report = caseload(engine, Scope(day("2030-06-03"), WORKFLOW))
    assert report["open"] == 4 and report["persons"] == 4
    assert {w["worker"]: w["per_state"] for w in report["per_worker"]} == {
        "bert": {"invited": 1}, "-": {"invited": 1, "selected": 2}}
    assert report["age_groups"] == {"under_27": 1, "27_and_over": 2, "unknown": 1}
    assert report["flags"]["wij_team_contact"] == 1
    # 10 June: 2 declined (closed), 4 assigned to bert.
    report = caseload(engine, Scope(day("2030-06-10"), WORKFLOW))
    assert {w["worker"]: w["per_state"] for w in report["per_worker"]} == {
        "bert": {"invited": 1, "selected": 1}, "-": {"selected": 1}}
    assert report["open"] == 3
    west = caseload(engine, Scope(day("2030-06-10"), WORKFLOW, "West"))
    assert west["open"] == 1 and west["age_groups"]["27_and_over"] == 1
    engine.db.dispose()


def test_every_report_prints_as_table_and_csv(later: tuple[Engine, Clock], env: Env) -> None:
    for name in ("outcomes", "response", "referrals", "follow-up", "caseload", "outflow",
                 "worklist"):
        table = run(env, name, "--as-of", "2030-12-31")
        assert table.exit_code == 0, (name, table.output)
        assert "tot en met 2030-12-31" in table.stdout
        csv_out = run(env, name, "--as-of", "2030-12-31", "--format", "csv")
        assert csv_out.exit_code == 0, (name, csv_out.output)
        assert len(list(csv.reader(io.StringIO(csv_out.stdout), delimiter=";"))) > 1
    referrals_csv = run(env, "referrals", "--as-of", "2030-07-31", "--format", "csv").stdout
    assert "coach_meedoen;3;1;1;0;1;0;0;0;volunteering 1" in referrals_csv


def test_options_that_do_not_fit_the_report_are_refused(env: Env) -> None:
    assert run(env, "caseload", "--chart", str(env.root / "x.png")).exit_code == 2
    assert run(env, "council").exit_code == 2
    result = run(env, "outcomes", "--out", str(env.root / "x.html"))
    assert result.exit_code == 2 and "--out is for the council report" in result.output
    # A folder that does not exist is a file that cannot be written (exit 1, as everywhere).
    result = run(env, "response", "--chart", str(env.root / "nope" / "x.png"))
    assert result.exit_code == 1 and "does not exist" in result.output


def test_care_is_what_the_route_names_and_the_setting_adds(env: Env) -> None:
    from datetime import date

    from casework.reports.route import care_partners
    from casework.reports.scope import Scope

    scope = Scope(date(2099, 1, 5), "kansen-in-kaart")
    engine = env.engine()
    try:
        assert care_partners(engine, scope) == ("wij_team",)
    finally:
        engine.db.dispose()
    env.config.write_text(env.config.read_text(encoding="utf-8")
                          + '\n[reports]\ncare_partners = ["ontheffing_review"]\n',
                          encoding="utf-8")
    engine = env.engine()
    try:
        assert care_partners(engine, scope) == ("wij_team", "ontheffing_review")
        # A route whose file names no care partner counts none of its own.
        assert care_partners(engine, Scope(date(2099, 1, 5), "dienstencentrum")) == (
            "ontheffing_review",)
    finally:
        engine.db.dispose()
