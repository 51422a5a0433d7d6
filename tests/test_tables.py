"""Tables add up and read Dutch: the potential split within its total, sub-rows within their
rows, wijken summing to the whole (``table_problems``); Dutch numbers, amounts, months and the
route file's labels for people; no Python reprs."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import Env
from helpers import staff
from test_reports import JULY, WORKFLOW, Clock, day, later, scenario  # noqa: F401  (fixtures)

from casework.engine import Engine
from casework.reports import REPORTS, Scope, outcomes, run_report
from casework.reports.checks import table_problems


def test_work_potential_with_potential_is_in_neither_the_total_nor_its_split(
    scenario: tuple[Engine, Clock],  # noqa: F811
) -> None:
    engine, _ = scenario
    # 7 is classed work potential and wants to get going: work potential is its own class,
    # not participation potential (the council table's total is the socially active and the
    # not socially active with potential).
    engine.advance(7, "invite", staff(engine, "anna"), JULY)
    engine.advance(7, "hold_conversation", staff(engine, "anna"),
                   {"classification": "work_potential", "participation_potential": "self"})
    report = outcomes(engine, Scope(day("2030-07-01"), WORKFLOW))
    assert report["work_potential"] == 2
    assert report["participation_potential_total"] == 3
    assert (report["potential_self"], report["potential_supported"]) == (2, 1)
    assert table_problems(report) == []


def test_every_report_of_the_season_adds_up_on_every_day(
    later: tuple[Engine, Clock],  # noqa: F811
) -> None:
    engine, _ = later
    for as_of in ("2030-06-02", "2030-06-12", "2030-07-31", "2030-10-06", "2030-12-31"):
        for name in REPORTS:
            report = run_report(engine, staff(engine, "anna"), name, Scope(day(as_of), WORKFLOW))
            assert table_problems(report) == [], (as_of, name)
        for row in outcomes(engine, Scope(day(as_of), WORKFLOW))["per_wijk"]:
            one_wijk = outcomes(engine, Scope(day(as_of), WORKFLOW, row["wijk"]))
            assert table_problems(one_wijk) == [], (as_of, row["wijk"])


def test_table_problems_names_what_does_not_add_up(
    later: tuple[Engine, Clock],  # noqa: F811
) -> None:
    engine, _ = later
    scope = Scope(day("2030-12-31"), WORKFLOW)
    good = {name: run_report(engine, staff(engine, "anna"), name, scope) for name in REPORTS}

    def broken(name: str, change: Any) -> list[str]:
        report = copy.deepcopy(good[name])
        change(report)
        return table_problems(report)

    # The old count: a work-potential person's "self" in the split, not in the total.
    problems = broken("outcomes", lambda r: r.update(potential_self=r["potential_self"] + 1))
    assert problems == [f"outcomes: potential_self + potential_supported "
                        f"({good['outcomes']['participation_potential_total'] + 1}) is not "
                        f"participation_potential_total "
                        f"({good['outcomes']['participation_potential_total']})"]
    assert any("more than socially active" in p for p in broken(
        "outcomes", lambda r: r.update(socially_active_with_potential=r["socially_active"] + 1)))
    assert any("over the wijken" in p for p in broken(
        "outcomes", lambda r: r["per_wijk"][0].update(spoken=r["per_wijk"][0]["spoken"] + 1)))
    assert any("started volunteering of" in p for p in broken(
        "referrals", lambda r: r["per_partner"][0]["started_per_kind"].update(volunteering=9)))
    assert any("over the partners" in p for p in broken(
        "referrals", lambda r: r["total"].update(referred=r["total"]["referred"] + 1)))
    assert any("over the workers" in p for p in broken(
        "caseload", lambda r: r.update(open=r["open"] + 1)))
    assert any("savings" in p for p in broken(
        "outflow", lambda r: r.update(savings=r["savings"] + 5)))
    assert any("response_pct" in p for p in broken(
        "response", lambda r: r["per_wijk"][0].update(response_pct=1.0)))
    assert any("overdue" in p for p in broken(
        "worklist", lambda r: r.update(overdue=r["overdue"] + 1)))


def report(env: Env, *args: str) -> str:
    result = env.run("report", *args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_tables_for_people_use_dutch_numbers_amounts_and_the_route_labels(
    later: tuple[Engine, Clock], env: Env,  # noqa: F811
) -> None:
    outcome = report(env, "outcomes", "--as-of", "2030-12-31")
    assert "naar Coach Meedoen" in outcome and "naar het WIJ-team" in outcome
    assert "coach_meedoen" not in outcome and "wij_team" not in outcome
    response = report(env, "response", "--as-of", "2030-06-12")
    assert "66,7" in response and "66.7" not in response
    referred = report(env, "referrals", "--as-of", "2030-07-31")
    assert "Coach Meedoen" in referred and "waarvan vrijwilligerswerk" in referred
    flowed = report(env, "outflow", "--as-of", "2031-01-15", "--year", "2030")
    assert "€ 6.520,55" in flowed and "juli 2030" in flowed and "2,5" in flowed
    assert "6520.55" not in flowed and "2.5 " not in flowed
    load = report(env, "caseload", "--as-of", "2030-07-31")
    for words in ("Medewerker", "niet toegewezen", "Verwezen", "jonger dan 27",
                  "in contact met sociaal team"):
        assert words in load, words
    for key in ("under_27", "wij_team_contact", "referred", "follow_up"):
        assert key not in load, key
    # CSV keeps the keys and plain numbers, with the route's label beside the key.
    csv_out = report(env, "outcomes", "--as-of", "2030-12-31", "--format", "csv")
    assert "referrals.coach_meedoen;Verwezen naar Coach Meedoen;3" in csv_out


def test_the_outflow_chart_names_the_months_in_dutch(monkeypatch: pytest.MonkeyPatch) -> None:
    from casework.reports import charts

    figures: list[Any] = []
    monkeypatch.setattr(charts, "_save", lambda fig, target: figures.append(fig))
    months = [{"month": f"2030-{n:02d}", "persons": n % 3, "fte": 0.5, "savings": 100.0 * n}
              for n in range(1, 13)]
    charts.outflow_chart({"by_month": months, "year": 2030, "savings": 12810.96}, None)
    [figure] = figures
    axis = figure.axes[0]
    assert [t.get_text() for t in axis.get_xticklabels()] == [
        "jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"]
    assert axis.get_title().endswith("(besparing 2030: € 12.811)")


def test_the_case_file_shows_no_python_reprs(cohort: Env) -> None:
    cohort.ok("case", "advance", "1", "invite", "--set", "appointment=2099-01-05 09:00")
    cohort.ok("case", "advance", "1", "hold_conversation", "--set",
              "classification=not_active", "--set", "participation_potential=supported",
              "--set", "consent=record_report,share:wij_team")
    cohort.ok("consent", "withdraw", "1", "share:wij_team", "--how", "phone")
    shown = cohort.ok("case", "show", "1", env={"COLUMNS": "250"}).stdout
    assert "consent: record_report, share:wij_team" in shown
    # (PostgreSQL keeps a mapping's keys in an order of its own.)
    cancelled = shown[shown.index("cancelled="):].split("│")[0]
    assert all(f"{what} 0" in cancelled for what in ("referrals", "tasks", "letters"))
    assert "['" not in shown and "{'" not in shown and "True" not in shown


def test_report_takes_json_like_every_command(later: tuple[Engine, Clock], env: Env) -> None:  # noqa: F811
    as_json = json.loads(report(env, "outcomes", "--as-of", "2030-12-31", "--json"))
    formatted = json.loads(report(env, "outcomes", "--as-of", "2030-12-31", "--format", "json"))
    assert as_json == formatted and as_json["report"] == "outcomes"
    clash = env.run("report", "outcomes", "--json", "--format", "csv")
    assert clash.exit_code == 2 and "give one of them" in clash.output


def test_report_defaults_to_the_only_route_with_cases_and_else_asks(env: Env) -> None:
    # No cases: every loaded route could be meant.
    asked = env.run("report", "outcomes")
    assert asked.exit_code == 2 and "Traceback" not in asked.output
    [line] = asked.stderr.splitlines()
    assert "--workflow" in line and "kansen-in-kaart, meedoen-werkt" in line
    clock = Clock(datetime(2030, 6, 3, 8, tzinfo=UTC))
    engine = env.engine(clock=clock)
    from conftest import EXAMPLES

    from casework.cohort import import_cohort

    import_cohort(engine, EXAMPLES / "cohort.csv", WORKFLOW, staff(engine, "anna"))
    engine.db.dispose()
    data = json.loads(report(env, "outcomes", "--json"))
    assert data["workflow"] == WORKFLOW
