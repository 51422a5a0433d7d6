"""No BSN where it does not belong: a whole scenario through the CLI, then every output, log
line and mail-house file is scanned for the cohort's BSNs; files are the owner's only."""

from __future__ import annotations

import csv
import stat
from datetime import date, timedelta
from pathlib import Path

from conftest import EXAMPLES, Env


def bsns() -> set[str]:
    found: set[str] = set()
    for name, delimiter in (("cohort.csv", ","), ("cohort_with_errors.csv", ";")):
        with (EXAMPLES / name).open(encoding="utf-8-sig") as fh:
            found |= {row["bsn"].strip() for row in csv.DictReader(fh, delimiter=delimiter)
                      if row.get("bsn", "").strip().isdigit()}
    return {b for b in found if len(b) >= 8}


def next_monday() -> str:
    day = date.today() + timedelta(days=7)
    return (day + timedelta(days=(7 - day.weekday()) % 7)).isoformat()


def test_a_whole_scenario_never_shows_a_bsn(env: Env) -> None:
    root = env.root
    steps = [
        ("cohort", "import", str(EXAMPLES / "cohort.csv"), "--workflow", "kansen-in-kaart"),
        ("cohort", "import", str(EXAMPLES / "cohort_with_errors.csv"), "--workflow",
         "kansen-in-kaart", "--rejects", str(root / "rejects.csv")),
        ("cohort", "plan", "--workflow", "kansen-in-kaart", "--wijk", "Vinkhuizen", "--size",
         "5", "--from", next_monday(), "--specialists", "1"),
        ("cohort", "excluded", "--workflow", "kansen-in-kaart"),
        ("case", "list"), ("case", "list", "--json"), ("case", "show", "1"),
        ("case", "show", "1", "--json"), ("case", "triggers", "1"),
        ("case", "advance", "2", "invite", "--set", "appointment=2099-01-05 10:00"),
        ("case", "advance", "2", "hold_conversation", "--set", "classification=not_active",
         "--set", "participation_potential=none", "--set", "consent=share:wij_team"),
        ("case", "advance", "2", "refer", "--set", "partner=wij_team"),
        ("case", "advance", "2", "hold_conversation"),  # refused: wrong state
        ("referral", "export", "--partner", "wij_team"),
        ("task", "list"), ("daily",), ("daily", "--status"), ("letters", "render"),
        ("letters", "list"), ("report", "outcomes"), ("report", "caseload", "--format", "json"),
        ("audit", "--case", "2"), ("audit", "verify"),
        ("case", "open", "--workflow", "participatiecoach", "--bsn", "123456789",
         "--source", "self_report"),  # fails the elfproef
        ("privacy", "export", "--bsn", "111222333", "--out", str(root / "x.json")),
        ("privacy", "purge", "--dry-run"),
    ]
    seen: list[str] = []
    for args in steps:
        result = env.run(*args, env={"COLUMNS": "200"})
        assert "Traceback" not in result.output, (args, result.output)
        seen.append(result.output)
    files = [p for p in root.rglob("*") if p.is_file() and p.suffix in (".log", ".csv", ".txt")
             and p.name != "rejects.csv"]
    assert any(p.suffix == ".log" for p in files), "the daily run wrote no log"
    assert any(p.name.endswith(".csv") for p in files), "no mail-house manifest"
    text = "\n".join(seen + [p.read_text(encoding="utf-8", errors="replace") for p in files])
    leaked = sorted(b for b in bsns() | {"123456789"} if b in text)
    assert leaked == [], f"BSNs shown: {len(leaked)}"


def test_the_database_and_letters_are_the_owners_only(env: Env) -> None:
    env.ok("cohort", "import", str(EXAMPLES / "cohort.csv"), "--workflow", "kansen-in-kaart")
    env.ok("case", "advance", "1", "invite", "--set", "appointment=2099-01-05 10:00")
    env.ok("letters", "render")
    database = env.database_url.removeprefix("sqlite:///")
    if env.database_url.startswith("sqlite"):
        assert stat.S_IMODE(Path(database).stat().st_mode) == 0o600
    [letter] = env.json("letters", "list", "--case", "1")["letters"]
    assert stat.S_IMODE(Path(letter["file"]).stat().st_mode) == 0o600
    batches = [p for p in (env.root / "letters-out").rglob("*") if p.is_file()]
    assert batches and all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in batches)
