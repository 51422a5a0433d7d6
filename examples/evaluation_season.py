"""Play out a season of Kansen in Kaart on the example cohort, in a database of its own:
invitations from March 2026, conversations, referrals, activities, follow-up and outflow.
The README's report and charts come from it.

    python examples/evaluation_season.py season/
    CASEWORK_CONFIG=season/config.toml casework report outcomes --as-of 2026-10-30
    CASEWORK_CONFIG=season/config.toml casework report council --as-of 2026-10-30 --out raad.html

The cohort is imported as on 27 February 2026 and the steps recorded as on 1 November 2026
(the engine refuses steps dated before a case was opened or in the future).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

COLUMNS = ["case", "trigger", "at", "appointment", "classification",
           "participation_potential", "consent", "partner", "activity", "reason",
           "outflow_date", "fte"]
PARTNERS = ["coach_meedoen", "wijkwerkmakelaar", "centrum_naar_werk", "wij_team"]
ACTIVITIES = ["volunteering", "participation_job", "work", "education"]


def steps(cases: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    start = datetime(2026, 3, 2, 9, 0)

    def add(case: int, trigger: str, at: datetime, **data: str) -> None:
        rows.append({"case": str(case), "trigger": trigger,
                     "at": at.strftime("%Y-%m-%d %H:%M"), **data})

    for case in range(1, cases + 1):
        if rng.random() < 0.2:
            continue  # not in this season's waves
        invited = start + timedelta(days=(case % 40) * 2)
        talk = invited + timedelta(days=14, hours=1)
        add(case, "invite", invited, appointment=(talk - timedelta(hours=1))
            .strftime("%Y-%m-%d %H:%M"))
        outcome = rng.random()
        if outcome < 0.15:
            add(case, "decline", invited + timedelta(days=5))
            continue
        if outcome < 0.25:
            add(case, "close", talk + timedelta(days=20), reason="unreachable")
            continue
        if outcome < 0.35:
            continue  # still invited
        classification = rng.choices(["socially_active", "work_potential", "not_active"],
                                     [45, 20, 35])[0]
        potential = rng.choices(["none", "self", "supported"], [40, 30, 30])[0]
        partner = rng.choice(PARTNERS)
        add(case, "hold_conversation", talk, classification=classification,
            participation_potential=potential, consent=f"record_report,share:{partner}")
        then = rng.random()
        if then < 0.45:
            add(case, "refer", talk + timedelta(days=3), partner=partner)
            if rng.random() < 0.55:
                active = talk + timedelta(days=45)
                add(case, "start_activity", active, activity=rng.choice(ACTIVITIES))
                if rng.random() < 0.3:
                    left = active + timedelta(days=30)
                    add(case, "record_outflow", left + timedelta(days=3),
                        outflow_date=left.strftime("%Y-%m-%d"),
                        fte=rng.choice(["0,5", "0,8", "1,0"]))
        elif then < 0.7:
            add(case, "self_action", talk + timedelta(days=2))
    rows.sort(key=lambda r: (r["at"], int(r["case"])))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="new folder for the database and config")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    folder: Path = args.folder.resolve()
    if (folder / "casework.db").exists():
        sys.exit(f"{folder} already holds a season; give a new folder")
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.toml"
    config.write_text(
        f'[paths]\nworkflows = "{(ROOT / "workflows").as_posix()}"\n'
        f'templates = "{(ROOT / "templates" / "letters").as_posix()}"\n'
        '[database]\nurl = "sqlite:///casework.db"\n', encoding="utf-8")
    env = {**os.environ, "CASEWORK_CONFIG": str(config), "CASEWORK_USER": "seizoen"}
    subprocess.run([sys.executable, "-m", "casework", "init"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    # Every step is recorded by a staff member: the season's one, who may do all of it.
    subprocess.run([sys.executable, "-m", "casework", "staff", "add", "seizoen",
                    "--role", "admin", "--role", "back_office", "--role", "coordinator",
                    "--role", "case_worker"], env=env, check=True, stdout=subprocess.DEVNULL)

    from casework.bulk import apply_file
    from casework.cohort import import_cohort
    from casework.config import load_settings
    from casework.engine import Engine
    from casework.permissions import resolve

    moment = [datetime(2026, 2, 27, 9, tzinfo=UTC)]
    engine = Engine.from_config(load_settings(config), clock=lambda: moment[0])
    seizoen = resolve(engine, "seizoen")  # the actor of every core call, read once
    import_cohort(engine, ROOT / "examples" / "cohort.csv", "kansen-in-kaart", seizoen)
    with (folder / "steps.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(steps(200, args.seed))
    moment[0] = datetime(2026, 11, 1, 9, tzinfo=UTC)
    result = apply_file(engine, folder / "steps.csv", seizoen)
    engine.db.dispose()
    print(f"season written to {folder}: {result.applied} steps applied, "
          f"{result.failed} refused by the rules")


if __name__ == "__main__":
    main()
