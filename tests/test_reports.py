"""Reports counted from events as of a date, against a scenario worked out by hand."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import EXAMPLES, Env

from casework.engine import Engine
from casework.reports import Scope, outcomes, response

WORKFLOW = "kansen-in-kaart"
START = datetime(2030, 6, 3, 8, 0, tzinfo=UTC)
APPOINTMENT = {"appointment": "2030-06-20 10:00"}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def at(self, moment: datetime) -> None:
        self.now = moment


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
    import_cohort(engine, EXAMPLES / "cohort.csv", WORKFLOW, "anna")
    for case_id in range(1, 7):
        engine.advance(case_id, "invite", "anna", APPOINTMENT)
    clock.at(datetime(2030, 6, 10, 12, tzinfo=UTC))
    talk = engine.advance
    talk(1, "hold_conversation", "anna", {"classification": "socially_active",
                                          "participation_potential": "self",
                                          "consent": ["share:coach_meedoen"]})
    talk(1, "refer", "anna", {"partner": "coach_meedoen"})
    talk(3, "hold_conversation", "anna", {"classification": "socially_active",
                                          "participation_potential": "none"})
    talk(4, "hold_conversation", "anna", {"classification": "not_active",
                                          "participation_potential": "supported",
                                          "consent": ["share:wij_team"]})
    talk(4, "refer", "anna", {"partner": "wij_team"})
    talk(5, "hold_conversation", "anna", {"classification": "work_potential",
                                          "participation_potential": "none"})
    talk(6, "decline", "anna")
    clock.at(datetime(2030, 6, 15, 9, tzinfo=UTC))
    talk(1, "start_activity", "anna", {"activity": "volunteering"})
    # Recorded after the first as-of date: must not count as of 12 June.
    clock.at(datetime(2030, 7, 1, 9, tzinfo=UTC))
    talk(2, "hold_conversation", "anna", {"classification": "not_active",
                                          "participation_potential": "self",
                                          "consent": ["share:centrum_naar_werk"]})
    talk(2, "refer", "anna", {"partner": "centrum_naar_werk"})
    talk(4, "start_activity", "anna", {"activity": "participation_job"})
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
    assert result.exit_code == 1 and "no workflow 'nope'" in result.stderr
    result = run(env, "outcomes", "--as-of", "gisteren")
    assert result.exit_code == 2 and "not a date" in result.output
    assert "Traceback" not in result.output


