"""The season simulation: a small season keeps every invariant, on each backend, with a fixed
seed and with a random one (printed, so a failure can be replayed); and each invariant has
teeth: it stops a season whose database breaks it."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from casework.calendar import is_workday
from casework.cli import cli
from casework.config import Settings, load_settings
from casework.models import Case, Event, Letter, Participant, Task
from casework.reports.checks import table_problems
from casework.simulation import SeasonBroken, SeasonPlan, simulate_season
from casework.simulation.invariants import Checker
from casework.simulation.season import Season

ROOT = Path(__file__).resolve().parent.parent
START = date(2027, 1, 4)  # a Monday


@pytest.fixture(scope="module")
def source() -> Settings:
    return load_settings(ROOT / "config.toml", environ={})


def _url(backend: str, database_url: str) -> str | None:
    return None if backend == "sqlite" else database_url


@pytest.mark.long
def test_a_small_season_keeps_every_invariant(backend: str, database_url: str,
                                              tmp_path: Path, source: Settings) -> None:
    # The same checks on PostgreSQL on a smaller season: the letters (a third of a season's
    # time) are the same work on both, the database's part is what differs.
    people, days = (100, 70) if backend == "sqlite" else (60, 50)
    plan = SeasonPlan(out=tmp_path / "season", people=people, days=days, seed=2016,
                      start=START, database_url=_url(backend, database_url))
    result = simulate_season(plan, source)
    assert len(result.days) == days
    table = result.outcomes
    assert table["approached"] > plan.people * 2 // 3
    assert 0 < table["spoken"] < table["approached"]
    assert table["referrals"]["total"] > 0 and table["became_active"] > 0
    assert table_problems(table) == []
    assert result.audit["ok"] and result.chart.stat().st_size > 0
    assert sum(day.get("batches_sent", 0) for day in result.days) > 0
    assert sum(day.get("migrated", 0) for day in result.days) > 0  # mid-season version


@pytest.mark.long
def test_a_season_with_a_random_seed(tmp_path: Path, source: Settings) -> None:
    seed = random.SystemRandom().randrange(2**31)
    print(f"season seed {seed}: replay with casework simulate season --people 80 --days 60 "
          f"--seed {seed} --start {START}")
    plan = SeasonPlan(out=tmp_path / "season", people=80, days=60, seed=seed, start=START)
    try:
        simulate_season(plan, source)
    except SeasonBroken as exc:
        pytest.fail(f"seed {seed}: {exc}")


# The tests that break the played season share it: run them on one worker (pytest-xdist).
PLAYED = pytest.mark.xdist_group("played_season")


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory, source: Settings) -> Iterator[Season]:
    """A short season on SQLite whose database the tests below break on purpose."""
    plan = SeasonPlan(out=tmp_path_factory.mktemp("played") / "season", people=60, days=30,
                      seed=7, start=START)
    season = Season(plan, source)
    with pytest.MonkeyPatch.context() as patch:  # play on whatever happens
        patch.setattr("casework.simulation.season.Checker", _Lenient)
        season.run()
    season.check.__class__ = Checker  # from here on a broken rule stops it
    yield season
    season.engine.db.dispose()


class _Lenient(Checker):
    def fail(self, day: date, case_id: int | None, rule: str, detail: str) -> None:
        return None


def _broken(call: object, *args: object) -> SeasonBroken:
    with pytest.raises(SeasonBroken) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value


@PLAYED
def test_an_open_task_on_a_closed_case_stops_the_season(played: Season) -> None:
    engine = played.engine
    with engine.db.begin() as conn:
        task = conn.execute(select(Task.id, Task.case_id, Task.status)
                            .join(Case, Case.id == Task.case_id)
                            .where(Case.closed_at.is_not(None), Task.scope != "person")
                            .limit(1)).first()
        assert task is not None
        conn.execute(update(Task).where(Task.id == task.id).values(status="open"))
    try:
        broken = _broken(played.check.stale_work, played.day,
                         played.at(played.day, 0))
        assert broken.rule == "no open task on a closed case"
        assert broken.case_id == task.case_id and str(played.day) in str(broken)
    finally:
        with engine.db.begin() as conn:
            conn.execute(update(Task).where(Task.id == task.id).values(status=task.status))


def _owed_report(played: Season) -> Any:
    """A report task (owed to the person) of a case the season closed with no support needed."""
    with played.engine.db.connect() as conn:
        task = conn.execute(select(Task.id, Task.case_id, Task.status, Task.done_at)
                            .join(Case, Case.id == Task.case_id)
                            .where(Task.kind == "report_due", Task.scope == "person",
                                   Case.close_reason == "no_support_needed")
                            .order_by(Task.id).limit(1)).first()
    assert task is not None, "the short season closes a case whose report is owed"
    return task


@PLAYED
def test_a_report_stopped_by_closing_stops_the_season(played: Season) -> None:
    task = _owed_report(played)
    engine = played.engine
    with engine.db.begin() as conn:
        conn.execute(update(Task).where(Task.id == task.id).values(
            status="cancelled", done_at=played.at(played.day, 12)))
    last_event, played.check.last_event = played.check.last_event, 0  # closed "today"
    try:
        broken = _broken(played.check.owed_work, played.day, played.at(played.day, 0))
        assert broken.rule == "closing does not stop the work owed to the person"
        assert broken.case_id == task.case_id and "no_support_needed" in broken.detail
    finally:
        played.check.last_event = last_event
        with engine.db.begin() as conn:
            conn.execute(update(Task).where(Task.id == task.id).values(
                status=task.status, done_at=task.done_at))


@PLAYED
def test_an_open_report_for_someone_who_died_stops_the_season(played: Season) -> None:
    task = _owed_report(played)
    engine = played.engine
    with engine.db.begin() as conn:
        conn.execute(update(Task).where(Task.id == task.id).values(status="open"))
        conn.execute(update(Case).where(Case.id == task.case_id)
                     .values(close_reason="deceased"))
    try:
        broken = _broken(played.check.stale_work, played.day, played.at(played.day, 0))
        assert broken.rule == "no open task on a closed case"
        assert broken.case_id == task.case_id and "deceased" in broken.detail
    finally:
        with engine.db.begin() as conn:
            conn.execute(update(Task).where(Task.id == task.id).values(status=task.status))
            conn.execute(update(Case).where(Case.id == task.case_id)
                         .values(close_reason="no_support_needed"))


@PLAYED
def test_a_letter_the_daily_run_left_in_the_queue_stops_the_season(played: Season) -> None:
    engine = played.engine
    day = played.day
    while not is_workday(day):
        day -= timedelta(days=1)
    with engine.db.connect() as conn:
        letter = conn.execute(select(Letter.id, Letter.status, Letter.created_at).where(
            Letter.template == "verslag", Letter.status == "sent").limit(1)).first()
    assert letter is not None, "the short season sends reports"
    with engine.db.begin() as conn:
        conn.execute(update(Letter).where(Letter.id == letter.id).values(status="queued"))
    try:
        broken = _broken(played.check.letters_made_by_the_run, day)
        assert broken.rule == "the daily run makes every letter queued before it"
        assert f"letter {letter.id} (verslag)" in broken.detail
    finally:
        with engine.db.begin() as conn:
            conn.execute(update(Letter).where(Letter.id == letter.id)
                         .values(status=letter.status))


@PLAYED
def test_a_wave_number_given_twice_in_a_wijk_stops_the_season(played: Season) -> None:
    wijk, numbers = next((w, n) for w, n in played.check.waves.items() if n)
    number = min(numbers)
    with played.engine.db.connect() as conn:
        case_id = conn.execute(select(Case.id).where(Case.wijk == wijk, Case.wave == number)
                               .limit(1)).scalar_one()
    result = {"wave": number, "invited": 1, "invitations": [{"case_id": case_id}]}
    broken = _broken(played.check.wave_planned, played.day, wijk, result)
    assert broken.rule == "a wave's number is given once per wijk"
    assert f"wave {number} of {wijk}" in broken.detail


@PLAYED
def test_a_state_the_events_do_not_lead_to_stops_the_season(played: Season) -> None:
    engine = played.engine
    with engine.db.begin() as conn:
        case = conn.execute(select(Case.id, Case.state).where(Case.state == "selected")
                            .limit(1)).first()
        assert case is not None
        conn.execute(update(Case).where(Case.id == case.id).values(state="referred"))
    played.check.last_event = 0
    try:
        broken = _broken(played.check.replay, played.day)
        assert broken.rule.startswith("each case's state equals the replay")
        assert "'selected'" in broken.detail and "'referred'" in broken.detail
    finally:
        with engine.db.begin() as conn:
            conn.execute(update(Case).where(Case.id == case.id).values(state=case.state))


@PLAYED
def test_a_changed_batch_stops_the_season(played: Season) -> None:
    assert played.check.sent, "the short season hands batches to the mail house"
    batch, (ids, _) = next(iter(played.check.sent.items()))
    engine = played.engine
    with engine.db.begin() as conn:
        conn.execute(update(Letter).where(Letter.id == ids[0]).values(batch=None))
    try:
        broken = _broken(played.check.sent_batches, played.day, False)
        assert broken.rule == "a batch handed to the mail house never changes"
    finally:
        with engine.db.begin() as conn:
            conn.execute(update(Letter).where(Letter.id == ids[0]).values(batch=batch))


@PLAYED
def test_a_posted_invitation_for_a_moved_appointment_stops_the_season(played: Season) -> None:
    engine = played.engine
    with engine.db.connect() as conn:
        letter = conn.execute(select(Letter.id, Letter.batch, Letter.payload).where(
            Letter.status == "sent", Letter.template == "uitnodiging").limit(1)).first()
    assert letter is not None
    moved = {**letter.payload, "appointment": "2027-01-01T09:00:00+00:00"}
    with engine.db.begin() as conn:
        conn.execute(update(Letter).where(Letter.id == letter.id).values(payload=moved))
    try:
        broken = _broken(played.check.batch_sent, letter.batch)
        assert broken.rule == "a letter handed to the mail house names the appointment its case has"
    finally:
        with engine.db.begin() as conn:
            conn.execute(update(Letter).where(Letter.id == letter.id)
                         .values(payload=letter.payload))


@PLAYED
def test_a_bsn_in_an_output_stops_the_season_without_showing_it(played: Season) -> None:
    bsn = next(iter(played.check.bsns))
    broken = _broken(played.check.output, f"Geen toegang tot {bsn}")
    assert broken.rule == "no BSN in any output" and bsn not in str(broken)


def test_the_command_prints_the_days_as_json_and_refuses_a_used_folder(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "season"
    args = ["--config", str(ROOT / "config.toml"), "simulate", "season", "--people", "20",
            "--days", "8", "--seed", "3", "--start", str(START), "--out", str(out)]
    result = runner.invoke(cli, [*args, "--json"], env={"CASEWORK_DATABASE_URL": None})
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [d["day"] for d in data["per_day"]][:2] == ["2027-01-04", "2027-01-05"]
    assert data["violation"] is None and data["audit_intact"] is True
    assert "--seed 3" in data["replay"]
    again = runner.invoke(cli, args, env={"CASEWORK_DATABASE_URL": None})
    assert again.exit_code == 2
    assert "not empty" in again.output and "Traceback" not in again.output
    other = runner.invoke(cli, [*args[:4], "--workflow", "no-such-route", *args[4:-1],
                                str(tmp_path / "other")], env={"CASEWORK_DATABASE_URL": None})
    assert other.exit_code == 2 and "kansen-in-kaart" in other.output
    assert "no-such-route" in other.output and not (tmp_path / "other").exists()
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder", encoding="utf-8")
    nowhere = runner.invoke(cli, [*args[:-1], str(blocked / "season")],
                            env={"CASEWORK_DATABASE_URL": None})
    assert nowhere.exit_code == 2 and "cannot make the season's folder" in nowhere.output
    assert "Traceback" not in nowhere.output


def test_a_config_without_route_files_is_named_not_the_season_folder(tmp_path: Path) -> None:
    """Run where no route files are: the message names the missing folder, not --out, and
    makes no season folder."""
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.toml").read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "season"
    result = CliRunner().invoke(cli, ["--config", str(config), "simulate", "season", "--people",
                                      "20", "--days", "2", "--out", str(out)],
                                env={"CASEWORK_DATABASE_URL": None})
    assert result.exit_code == 1 and "no route files there" in result.output
    assert "Traceback" not in result.output and not out.exists()


# --- the route-driven season: every other route in the workflows folder ----------------------

# What a small season of each other route does at least once (besides letters and batches).
ROUTE_WORK = {
    "meedoen-werkt": ("approach", "record_outflow", "spent"),
    "dienstencentrum": ("train", "start_in_centre", "spent"),
    "participatiecoach": ("opened", "start_coaching", "record_outcome"),
}


def _totals(result: Any) -> dict[str, int]:
    totals: dict[str, int] = {}
    for day in result.days:
        for key, value in day.items():
            if key != "day":
                totals[key] = totals.get(key, 0) + value
    return totals


def test_every_route_in_the_workflows_folder_has_a_season() -> None:
    routes = {line.split('"')[1] for path in (ROOT / "workflows").glob("*.toml")
              for line in path.read_text(encoding="utf-8").splitlines()
              if line.startswith("id = ")}
    assert routes == {"kansen-in-kaart", *ROUTE_WORK}


@pytest.mark.long
@pytest.mark.parametrize("route", sorted(ROUTE_WORK))
def test_a_small_season_of_each_other_route_keeps_every_invariant(
        route: str, backend: str, database_url: str, tmp_path: Path, source: Settings) -> None:
    # Smaller on PostgreSQL, as the Kansen in Kaart season: still every kind of work the route
    # has, and its mid-season version.
    people, days = (40, 60) if backend == "sqlite" else (25, 40)
    plan = SeasonPlan(out=tmp_path / "season", workflow=route, people=people, days=days,
                      seed=2016, start=START, database_url=_url(backend, database_url))
    result = simulate_season(plan, source)
    assert len(result.days) == days and result.audit["ok"]
    totals = _totals(result)
    for work in ROUTE_WORK[route]:
        assert totals.get(work, 0) > 0, (work, totals)
    assert totals["letters_rendered"] > 0 and totals["batches_sent"] > 0
    assert totals["migrated"] > 0  # the mid-season version, as in Kansen in Kaart
    assert result.as_dict()["season"] == "route-driven"
    assert table_problems(result.outcomes) == []


@pytest.mark.long
def test_a_route_season_is_the_same_for_the_same_seed(tmp_path: Path, source: Settings) -> None:
    def play(folder: str) -> Any:
        return simulate_season(SeasonPlan(out=tmp_path / folder, workflow="meedoen-werkt",
                                          people=20, days=15, seed=4, start=START), source)

    first, second = play("one"), play("two")
    assert first.days == second.days and first.outcomes == second.outcomes
    assert first.refused == second.refused


@pytest.fixture(scope="module")
def played_route(tmp_path_factory: pytest.TempPathFactory, source: Settings) -> Iterator[Season]:
    """A short Dienstencentrum season (recurring development talks, a budget) to break."""
    from casework.simulation.routes import RouteSeason

    plan = SeasonPlan(out=tmp_path_factory.mktemp("played_route") / "season",
                      workflow="dienstencentrum", people=40, days=40, seed=7, start=START)
    season = RouteSeason(plan, source)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("casework.simulation.season.Checker", _Lenient)
        season.run()
    season.check.__class__ = Checker
    yield season
    season.engine.db.dispose()


@PLAYED
def test_a_second_open_task_of_a_kind_stops_the_season(played: Season) -> None:
    engine = played.engine
    with engine.db.connect() as conn:
        task = conn.execute(select(Task.id, Task.case_id, Task.kind, Task.status)
                            .where(Task.status != "open").limit(1)).first()
        other = conn.execute(select(Task.id, Task.kind).where(
            Task.case_id == task.case_id, Task.status == "open").limit(1)).first()
    assert task is not None
    changed = [(task.id, task.kind, task.status)]
    with engine.db.begin() as conn:
        conn.execute(update(Task).where(Task.id == task.id).values(status="open"))
        if other is None:  # a second open task of the same kind: the one reopened twice
            twin = conn.execute(select(Task.id, Task.kind, Task.status).where(
                Task.case_id == task.case_id, Task.id != task.id).limit(1)).first()
            assert twin is not None
            changed.append((twin.id, twin.kind, twin.status))
            conn.execute(update(Task).where(Task.id == twin.id).values(
                status="open", kind=task.kind))
        else:
            changed.append((other.id, other.kind, "open"))
            conn.execute(update(Task).where(Task.id == task.id).values(kind=other.kind))
    try:
        broken = _broken(played.check.planned_work, played.day, 0)
        assert broken.rule == "a case has at most one open task of a kind"
        assert broken.case_id == task.case_id
    finally:
        with engine.db.begin() as conn:
            for task_id, kind, status in changed:
                conn.execute(update(Task).where(Task.id == task_id)
                             .values(kind=kind, status=status))


@PLAYED
def test_a_state_timer_never_planned_stops_the_season(played: Season) -> None:
    engine = played.engine
    with engine.db.connect() as conn:
        timer = conn.execute(select(Task.id, Task.case_id, Task.kind)
                             .join(Case, Case.id == Task.case_id)
                             .where(Task.performer == "system", Case.closed_at.is_(None),
                                    Task.created_at >= Case.state_entered_at)
                             .limit(1)).first()
    assert timer is not None, "the short season has a case waiting on a timer"
    with engine.db.begin() as conn:
        conn.execute(update(Task).where(Task.id == timer.id).values(kind="something_else"))
    try:
        broken = _broken(played.check.planned_work, played.day, 0)
        assert broken.rule == "entering a state plans its timer"
        assert timer.kind in broken.detail
    finally:
        with engine.db.begin() as conn:
            conn.execute(update(Task).where(Task.id == timer.id).values(kind=timer.kind))


@PLAYED
def test_a_state_its_route_does_not_have_stops_the_season(played: Season) -> None:
    engine = played.engine
    with engine.db.connect() as conn:
        case = conn.execute(select(Case.id, Case.state).where(Case.closed_at.is_(None))
                            .limit(1)).first()
    assert case is not None
    with engine.db.begin() as conn:
        conn.execute(update(Case).where(Case.id == case.id).values(state="in_limbo"))
    last_event, played.check.last_event = played.check.last_event, 0
    try:
        broken = _broken(played.check.replay, played.day)
        assert broken.case_id == case.id and "'in_limbo' is not a state" in broken.detail
    finally:
        played.check.last_event = last_event
        with engine.db.begin() as conn:
            conn.execute(update(Case).where(Case.id == case.id).values(state=case.state))


@PLAYED
def test_recurring_work_that_stops_early_stops_the_season(played_route: Season) -> None:
    engine = played_route.engine
    with engine.db.connect() as conn:
        task = conn.execute(select(Task.id, Task.case_id, Task.kind)
                            .join(Case, Case.id == Task.case_id)
                            .where(Task.status == "open", Task.kind == "development_talk",
                                   Case.state == "active_in_centre").limit(1)).first()
    assert task is not None, "the short season has someone active in the centre"
    with engine.db.begin() as conn:
        conn.execute(update(Task).where(Task.id == task.id).values(
            status="done", done_at=played_route.at(played_route.day, 12)))
    try:
        broken = _broken(played_route.check.planned_work, played_route.day, 0)
        assert broken.rule == "recurring work is planned until its series has run its time"
        assert "development_talk" in broken.detail
    finally:
        with engine.db.begin() as conn:
            conn.execute(update(Task).where(Task.id == task.id).values(
                status="open", done_at=None))


@PLAYED
def test_spending_beyond_the_budget_stops_the_season(played_route: Season) -> None:
    from casework.models import Budget

    engine = played_route.engine
    with engine.db.connect() as conn:
        budget = conn.execute(select(Budget.id, Budget.amount_cents)).first()
    assert budget is not None
    with engine.db.begin() as conn:
        conn.execute(update(Budget).where(Budget.id == budget.id).values(amount_cents=1))
    try:
        broken = _broken(played_route.check.budgets, played_route.day)
        assert broken.rule == "no budget is spent beyond its amount"
        assert "dienstencentrum" in broken.detail
    finally:
        with engine.db.begin() as conn:
            conn.execute(update(Budget).where(Budget.id == budget.id)
                         .values(amount_cents=budget.amount_cents))


@PLAYED
def test_a_step_naming_a_meeting_that_does_not_list_the_case_stops_the_season(
        played: Season) -> None:
    engine = played.engine
    with engine.db.connect() as conn:
        event = conn.execute(select(Event.id, Event.case_id, Event.data)
                             .order_by(Event.id.desc()).limit(1)).one()
    with engine.db.begin() as conn:
        conn.execute(update(Event).where(Event.id == event.id)
                     .values(data={**(event.data or {}), "meeting": 999}))
    try:
        broken = _broken(played.check.attendance, played.day, event.id - 1)
        assert broken.rule == "a step that names a meeting counts as attending it"
        assert (broken.case_id, broken.detail) == (
            event.case_id, "meeting 999 does not list the case")
    finally:
        with engine.db.begin() as conn:
            conn.execute(update(Event).where(Event.id == event.id).values(data=event.data))


@PLAYED
def test_a_posted_letter_to_a_person_flagged_deceased_stops_the_season(played: Season) -> None:
    engine = played.engine
    with engine.db.connect() as conn:
        letter = conn.execute(select(Letter.id, Letter.batch, Case.participant_id)
                              .join(Case, Case.id == Letter.case_id)
                              .where(Letter.status == "sent").limit(1)).first()
    assert letter is not None
    with engine.db.begin() as conn:
        conn.execute(update(Participant).where(Participant.id == letter.participant_id)
                     .values(flag="deceased"))
    try:
        broken = _broken(played.check.batch_sent, letter.batch)
        assert broken.rule == "no letter goes to a person who died or moved away"
    finally:
        with engine.db.begin() as conn:
            conn.execute(update(Participant).where(Participant.id == letter.participant_id)
                         .values(flag=None))


@PLAYED
def test_migrated_work_with_the_old_versions_label_stops_the_season(played: Season) -> None:
    engine = played.engine
    route = engine.registry.get(played.plan.workflow)
    kinds = sorted({task.kind for state in route.states.values() for task in state.tasks})
    with engine.db.connect() as conn:
        task = conn.execute(select(Task.id, Task.label).join(Case, Case.id == Task.case_id)
                            .where(Task.status == "open", Task.kind.in_(kinds),
                                   Case.workflow_version == route.version).limit(1)).first()
    assert task is not None
    with engine.db.begin() as conn:
        conn.execute(update(Task).where(Task.id == task.id).values(label="(oud label)"))
    try:
        broken = _broken(played.check.migrated, played.day, route.version)
        assert broken.rule == "a migrated case's work follows its new version"
    finally:
        with engine.db.begin() as conn:
            conn.execute(update(Task).where(Task.id == task.id).values(label=task.label))
