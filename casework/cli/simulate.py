"""casework simulate season: rehearse a whole season on a training database of its own."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import click

from casework.cli.common import CliState, console, fail, json_option, print_json, safe


@click.group()
def simulate() -> None:
    """Rehearse: play a season on a training database and check the engine's invariants."""


def _monday() -> date:
    today = date.today()
    return today - timedelta(days=today.weekday())


@simulate.command("season")
@click.option("--workflow", "workflow_id", default="kansen-in-kaart", show_default=True,
              help="Route to play: kansen-in-kaart a season like the Groningen table, any "
                   "other route in the workflows folder a route-driven one.")
@click.option("--people", type=click.IntRange(10, 1_000_000), default=150, show_default=True,
              help="People in the cohort.")
@click.option("--days", type=click.IntRange(1, 1_000), default=120, show_default=True,
              help="Days to play from --start.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=None,
              help="Seed of the people and their behaviour (default: a random one, printed).")
@click.option("--start", "start_text", metavar="DATE",
              help="First day of the season (default: this week's Monday).")
@click.option("--out", "out_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="New folder for the training database, its config, letters and chart.")
@click.option("--database-url", metavar="URL",
              help="An empty database to use instead of a SQLite file in --out.")
@json_option
@click.pass_obj
def season_command(state: CliState, workflow_id: str, people: int, days: int,
                   seed: int | None, start_text: str | None, out_dir: Path,
                   database_url: str | None, as_json: bool) -> None:
    """Play a season through the staff's own calls and check the invariants every day.

    Creates a training database in --out, imports a made-up cohort, plans waves per wijk,
    runs the daily job each workday, makes calls, holds conversations, refers, follows up,
    renders letters and sends batches, and migrates the route mid-season. Any route but
    kansen-in-kaart plays a route-driven season: the steps each case allows, with fields
    filled from the route's field specs, employers, meetings, budgets and due work. After each day
    the invariants are checked; the first one broken stops the season (exit 1) with the day,
    the case and the rule. Ends with the season's outcome table and a chart.
    """
    from casework.cli.task import parse_day
    from casework.simulation import SeasonBroken, SeasonPlan, simulate_season

    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    start = parse_day(start_text, "--start") or _monday()
    plan = SeasonPlan(out=out_dir, workflow=workflow_id, people=people, days=days, seed=seed,
                      start=start, database_url=database_url)
    replay = (f"casework simulate season --workflow {workflow_id} --people {people} "
              f"--days {days} --seed {seed} --start {start.isoformat()} --out NEW_FOLDER")
    out = console()
    if not as_json:
        out.print(safe(f"Season of {workflow_id}: {people} people, {days} days from "
                       f"{start.isoformat()}, seed {seed} (replay: {replay})"))

    played: list[dict[str, Any]] = []

    def progress(entry: dict[str, Any]) -> None:
        played.append(entry)
        if as_json or not out.is_terminal:
            return
        counts = ", ".join(f"{k} {v}" for k, v in entry.items() if k != "day")
        out.print(safe(f"  {entry['day']}: {counts or 'nothing to do'}"))

    try:
        result = simulate_season(plan, state.settings(), progress)
    except SeasonBroken as exc:
        if as_json:
            print_json({"workflow": workflow_id, "people": people, "days": days, "seed": seed,
                        "start": start.isoformat(), "per_day": played,
                        "violation": exc.as_dict(), "replay": replay})
            raise SystemExit(1) from None
        fail(f"{exc}; replay: {replay}", 1)
    if as_json:
        print_json({**result.as_dict(), "replay": replay})
        return
    from casework.cli.report import print_table

    print_table(result.outcomes, result.labels, f"Uitkomsten van het seizoen tot en met "
                f"{(start + timedelta(days=days - 1)).isoformat()}")
    out.print(safe(f"All invariants held on every day; audit verify intact. Chart: "
                   f"{result.chart}; training database: casework --config {result.config}"))
