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
from casework.models import Case, Letter, Participant, Task
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
    other = runner.invoke(cli, [*args[:4], "--workflow", "participatiecoach", *args[4:-1],
                                str(tmp_path / "other")], env={"CASEWORK_DATABASE_URL": None})
    assert other.exit_code == 2 and "kansen-in-kaart" in other.output
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
