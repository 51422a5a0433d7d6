"""Hostile input through the CLI: control characters, BSNs in other scripts' digits, numbers and
dates out of range, files that are not UTF-8. Each is refused with one line (exit 1 or 2), never
a traceback, never echoing a BSN, and nothing already stored changes."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from conftest import EXAMPLES, WORKFLOWS, Env, write_config
from helpers import write
from sqlalchemy import func, select

from casework.models import Case, DailyRun, Event, Participant, Spending

WORKFLOW = "kansen-in-kaart"
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
HUGE = str(2**64)
# A BSN that passes the elfproef and is not in the sample cohort.
NEW_BSN = "111222333"


def first_bsn() -> str:
    with (EXAMPLES / "cohort.csv").open(encoding="utf-8-sig", newline="") as fh:
        return next(csv.DictReader(fh))["bsn"]


def stored(env: Env) -> tuple[int, ...]:
    """How many people, cases, events, spendings and daily runs are stored, and the cases'
    versions: what a refused command must leave as it was."""
    engine = env.engine()
    try:
        with engine.db.connect() as conn:
            counts = tuple(conn.execute(select(func.count()).select_from(model)).scalar_one()
                           for model in (Participant, Case, Event, Spending, DailyRun))
            versions = conn.execute(select(func.coalesce(func.sum(Case.version), 0))).scalar()
    finally:
        engine.db.dispose()
    return (*counts, int(versions))


def refused(result: Result, *secrets: str, codes: tuple[int, ...] = (1, 2)) -> str:
    """Assert a refusal in one clear line; return that line."""
    out = result.output
    assert result.exit_code in codes, out
    assert "Traceback" not in out
    errors = [line for line in out.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, out
    if result.exit_code == 1:  # our own errors: the line is all there is
        assert len([line for line in out.splitlines() if line.strip()]) == 1, out
    for secret in secrets:
        assert secret not in out
    return errors[0]


def apply_json(env: Env, name: str, records: list[dict[str, Any]]) -> tuple[int, Any]:
    path = write(env, name, "".join(json.dumps(r) + "\n" for r in records))
    result = env.run("case", "apply", str(path), "--json")
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout)


# --- control characters ---------------------------------------------------------------------


def test_control_characters_in_a_cohort_row_reject_that_row_naming_the_column(env: Env) -> None:
    header = "bsn,initials,surname,street,house_number,postcode,city,wijk\n"
    rows = [
        "123456782,J.,Jansen,Dorpsstraat,1,9700 AB,Groningen,Beijum",
        "111222333,K.,Bakk\x1b[31mer,Dorpsstraat,2,9700 AB,Groningen,Beijum",
        "100000009,L.,Vis,Dorp\x00straat,3,9700 AB,Groningen,Beijum",
        "100000010,M.,Smit,Dorpsstraat,4,9700 AB,Gro\x85ningen,Beijum",
        '100000022,N.,"de\tBoer",Dorpsstraat,5,9700 AB,Groningen,Beijum',
        "100000034,O.,Mulder,Dorpsstraat,6,9700 AB,Groningen,Beij\x7fum",
    ]
    path = write(env, "cohort.csv", header + "\n".join(rows) + "\n")
    result = env.run("cohort", "import", str(path), "--workflow", WORKFLOW, "--json")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    rejects = {r["row"]: r for r in summary["rejects"] if r["reason"] == "control character"}
    assert sorted(rejects) == [3, 4, 5, 6, 7]
    assert rejects[3]["detail"] == "surname contains a control character (U+001B); remove it"
    assert rejects[4]["detail"].startswith("street contains a control character (U+0000)")
    assert rejects[5]["detail"].startswith("city contains a control character (U+0085)")
    assert rejects[6]["detail"].startswith("surname contains a control character (U+0009)")
    assert rejects[7]["detail"].startswith("wijk contains a control character (U+007F)")
    assert "\x1b" not in result.output
    assert stored(env)[:2] == (1, 1)


def test_a_cell_over_the_csv_field_limit_rejects_that_row_only(env: Env) -> None:
    header = "bsn,initials,surname,street,house_number,postcode,city,wijk\n"
    rows = ["123456782,J.,Jansen,Dorpsstraat,1,9700 AB,Groningen,Beijum",
            f"111222333,K.,{'B' * 200_000},Dorpsstraat,2,9700 AB,Groningen,Beijum",
            "100000009,L.,Vis,Dorpsstraat,3,9700 AB,Groningen,Beijum"]
    path = write(env, "cohort.csv", header + "\n".join(rows) + "\n")
    result = env.run("cohort", "import", str(path), "--workflow", WORKFLOW, "--json")
    assert result.exit_code == 1 and "Traceback" not in result.output
    summary = json.loads(result.stdout)
    assert [(r["row"], r["reason"]) for r in summary["rejects"]] == [(3, "unreadable row")]
    assert stored(env)[:2] == (2, 2)


def test_control_characters_in_case_open_options_are_refused_and_nothing_opens(
        env: Env) -> None:
    before = stored(env)
    person = ["--surname", "Jansen", "--street", "Dorpsstraat", "--house-number", "1",
              "--postcode", "9700 AB", "--city", "Groningen", "--wijk", "Beijum"]
    base = ["case", "open", "--workflow", "participatiecoach", "--source", "partner",
            "--bsn", NEW_BSN]
    for option, value, expected in [
        ("--surname", "Jan\x1b]8;;http://x\x07sen", "--surname contains a control character"),
        ("--city", "Gron\x00ingen", "--city contains a control character (U+0000)"),
        ("--suffix", "A\x9b", "--suffix contains a control character (U+009B)"),
        ("--note", "belde\x1b[2J", "--note contains a control character (U+001B)"),
        ("--street", "Dorps\nstraat", "--street contains a control character (U+000A)"),
    ]:
        args = [*base, *person, option, value]
        line = refused(env.run(*args), NEW_BSN)
        assert expected in line
        assert "\x1b" not in line
    assert stored(env) == before
    # A note may hold lines and tabs.
    env.ok(*base, *person, "--note", "belde op\n\tzei: kom langs")
    assert stored(env)[1] == before[1] + 1


def test_control_characters_in_set_and_note_are_refused_and_the_case_stays(
        cohort: Env) -> None:
    before = stored(cohort)
    line = refused(cohort.run("case", "advance", "1", "invite",
                              "--set", "appointment=2099-01-05 10:00",
                              "--note", "zie \x1b[31mrood"))
    assert "the note contains a control character (U+001B)" in line
    assert stored(cohort) == before
    cohort.ok("case", "advance", "1", "invite", "--set", "appointment=2099-01-05 10:00",
              "--note", "twee regels\nmet\ttab")
    conversation = ["case", "advance", "1", "hold_conversation",
                    "--set", "classification=work_potential",
                    "--set", "participation_potential=supported",
                    "--set", "consent=record_report"]
    before = stored(cohort)
    for value in ("rug\x1bklachten", "rug\x00klachten", "rug\x85klachten"):
        line = refused(cohort.run(*conversation, "--set", f"themes.health={value}"))
        assert "field 'themes' contains a control character" in line
    assert stored(cohort) == before
    cohort.ok(*conversation, "--set", "themes.health=rug\nen\tknie")
    assert cohort.json("case", "show", "1")["data"]["themes"] == {"health": "rug\nen\tknie"}


def test_control_characters_in_apply_lines_fail_those_lines_alone(cohort: Env) -> None:
    before = stored(cohort)
    code, summary = apply_json(cohort, "hostile.jsonl", [
        {"case": 1, "trigger": "invite", "appointment": "2099-01-05 10:00",
         "note": "\x1b[2Jweg"},
        {"case": 2, "trigger": "invite", "appointment": "2099-01-05 10:00",
         "note": "kapot \ud800"},
        {"case": 3, "trigger": "invite", "appointment": "2099-01-05 10:00", "note": "a\x00b"},
        {"case": 4, "trigger": "invite", "appointment": "2099-01-05 10:00", "note": "goed"},
    ])
    assert code == 1
    assert (summary["applied"], summary["failed"]) == (1, 3)
    reasons = {f["line"]: f["reason"] for f in summary["failures"]}
    assert "control character (U+001B)" in reasons[1]
    assert "lone surrogate" in reasons[2]
    assert "control character (U+0000)" in reasons[3]
    after = stored(cohort)
    assert after[2] == before[2] + 1  # one event: case 4's invite


# --- BSNs -------------------------------------------------------------------------------------


@pytest.mark.parametrize("digits", [ARABIC_INDIC, SUPERSCRIPT], ids=["arabic", "superscript"])
def test_a_bsn_in_other_digits_is_refused_everywhere_without_echoing_it(
        cohort: Env, digits: dict[int, str]) -> None:
    known = first_bsn()
    foreign = known.translate(digits)
    before = stored(cohort)
    # Cohort import: the row is rejected, the person is not stored a second time.
    with (EXAMPLES / "cohort.csv").open(encoding="utf-8-sig", newline="") as fh:
        lines = fh.read().splitlines()
    path = write(cohort, "again.csv", lines[0] + "\n" + lines[1].replace(known, foreign) + "\n")
    result = cohort.run("cohort", "import", str(path), "--workflow", WORKFLOW, "--json")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert json.loads(result.stdout)["rejected_by_reason"] == {"invalid BSN": 1}
    assert foreign not in result.output and known not in result.output
    # Every other place a BSN enters: one line, no digits.
    out = cohort.root / "export.json"
    for args in (
        ["case", "open", "--workflow", "participatiecoach", "--source", "partner",
         "--bsn", foreign],
        ["audit", "--bsn", foreign],
        ["privacy", "export", "--bsn", foreign, "--out", str(out)],
    ):
        line = refused(cohort.run(*args), foreign, known)
        assert "BSN must be 9 digits 0-9" in line
    assert not out.exists()
    code, summary = apply_json(cohort, "bsn.jsonl", [
        {"bsn": foreign, "workflow": WORKFLOW, "trigger": "invite",
         "appointment": "2099-01-05 10:00"}])
    assert code == 1
    assert "BSN must be 9 digits 0-9" in summary["failures"][0]["reason"]
    assert foreign not in json.dumps(summary, ensure_ascii=False)
    assert stored(cohort) == before


# --- numbers and dates out of range -----------------------------------------------------------


def test_huge_ids_and_counts_are_one_line_not_a_traceback(cohort: Env) -> None:
    before = stored(cohort)
    for args in (
        ["case", "show", HUGE], ["case", "triggers", HUGE], ["case", "list", "--limit", HUGE],
        ["case", "list", "--offset", HUGE], ["case", "advance", HUGE, "invite"],
        ["task", "list", "--limit", HUGE], ["task", "done", HUGE, "--outcome", "done"],
        ["audit", "--case", HUGE], ["letters", "list", "--case", HUGE],
        ["consent", "list", HUGE], ["budget", "spend", HUGE, "10", "--purpose", "bus"],
        ["workflow", "show", WORKFLOW, "--version", HUGE],
        ["cohort", "plan", "--workflow", WORKFLOW, "--wijk", "Beijum", "--from", "2030-01-07",
         "--specialists", HUGE],
    ):
        line = refused(cohort.run(*args), codes=(2,))
        assert "a whole number from" in line
    assert stored(cohort) == before


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "31-12-9999"])
def test_dates_out_of_range_are_refused_naming_the_option(cohort: Env, day: str) -> None:
    cohort.ok("budget", "set", WORKFLOW, "1000", "--year", "2030")
    before = stored(cohort)
    for option, args in (
        ("--as-of", ["report", "outcomes", "--as-of", day]),
        ("--from", ["cohort", "plan", "--workflow", WORKFLOW, "--wijk", "Beijum",
                    "--from", day, "--specialists", "2"]),
        ("--date", ["daily", "--date", day]),
        ("--since", ["audit", "--staff", "anna", "--since", day]),
        ("--date", ["budget", "spend", "1", "10", "--purpose", "bus", "--date", day]),
        ("--at", ["case", "advance", "1", "invite", "--at", f"{day} 10:00",
                  "--set", "appointment=2030-01-05 10:00"]),
    ):
        line = refused(cohort.run(*args), codes=(2,))
        assert option in line and "from 1900 to 2100" in line
    line = refused(cohort.run("case", "advance", "1", "invite",
                              "--set", f"appointment={day} 10:00"), codes=(1,))
    assert "field 'appointment'" in line and "from 1900 to 2100" in line
    assert stored(cohort) == before


def test_budget_amounts_that_are_not_finite_or_too_large_are_refused(cohort: Env) -> None:
    cohort.ok("budget", "set", WORKFLOW, "5000")
    before = stored(cohort)
    for amount in ("1e308", "NaN", "Infinity", "-Infinity", "1000000", "-5", "1e-300"):
        line = refused(cohort.run("budget", "spend", "--purpose", "bus", "--", "1", amount),
                       codes=(1,))
        assert repr(amount) in line
    for amount in ("1e308", "Infinity", "1000000000"):
        refused(cohort.run("budget", "set", WORKFLOW, amount), codes=(1,))
    assert cohort.json("budget", "show", WORKFLOW)["budget"] == 5000
    assert stored(cohort) == before


def test_fte_is_bounded_so_savings_are_always_a_number(cohort: Env) -> None:
    path = write(cohort, "talk.jsonl", "".join(json.dumps(r) + "\n" for r in [
        {"case": 1, "trigger": "invite", "appointment": "2099-01-05 10:00"},
        {"case": 1, "trigger": "hold_conversation", "classification": "work_potential",
         "participation_potential": "supported"},
    ]))
    cohort.ok("case", "apply", str(path))
    before = stored(cohort)
    for fte in ("1.6", "-0.1", "1e308", "Infinity", "NaN", "١"):
        line = refused(cohort.run("case", "advance", "1", "record_outflow",
                                  "--set", "outflow_date=2026-01-15", "--set", f"fte={fte}"))
        assert "field 'fte' must be a number from 0 to 1.5" in line
    assert stored(cohort) == before
    cohort.ok("case", "advance", "1", "record_outflow", "--set", "outflow_date=2026-01-15",
              "--set", "fte=1,5")
    report = cohort.run("report", "outflow", "--format", "json", "--year", "2026")
    assert report.exit_code == 0
    assert "Infinity" not in report.stdout and "NaN" not in report.stdout


def test_a_route_field_with_a_bad_bound_is_a_workflow_problem(env: Env) -> None:
    text = (WORKFLOWS / "kansen_in_kaart.toml").read_text(encoding="utf-8")
    bad = text.replace("min = 0\nmax = 1.5\n", "min = 2\nmax = inf\n", 1)
    assert bad != text
    path = write(env, "bad_route.toml", bad)
    result = env.run("workflow", "validate", str(path))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "field 'fte': 'max' must be a number below a million" in result.output


# --- files --------------------------------------------------------------------------------------


def test_a_config_file_that_is_not_utf8_is_one_line_naming_it(env: Env) -> None:
    text = env.config.read_text(encoding="utf-8")
    env.config.write_bytes(("# gemeente Südbroek\n" + text).encode("latin-1"))
    line = refused(env.run("case", "list"), codes=(1,))
    assert str(env.config) in line and "UTF-8" in line


def test_a_benefit_per_fte_of_infinity_in_the_config_is_refused(env: Env) -> None:
    with env.config.open("a", encoding="utf-8") as fh:
        fh.write("\n[reports]\nannual_benefit_per_fte = inf\n")
    line = refused(env.run("case", "list"), codes=(1,))
    assert "reports.annual_benefit_per_fte" in line


def test_a_workflow_file_that_is_not_utf8_is_one_line_naming_it(env: Env) -> None:
    folder = env.root / "routes"
    folder.mkdir()
    for route in WORKFLOWS.glob("*.toml"):
        (folder / route.name).write_text(route.read_text(encoding="utf-8"), encoding="utf-8")
    path = folder / "dienstencentrum.toml"
    path.write_bytes(("# Activiteit café\n" + path.read_text(encoding="utf-8")).encode("latin-1"))
    result = env.run("workflow", "validate", str(path))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{path}: is not UTF-8 text; save it as UTF-8" in result.output
    env.config.write_text(env.config.read_text(encoding="utf-8").replace(
        WORKFLOWS.as_posix(), folder.as_posix()), encoding="utf-8")
    line = refused(env.run("workflow", "list"), codes=(1,))
    assert str(path) in line and "UTF-8" in line


def test_a_log_folder_that_is_a_file_stops_the_daily_run_in_one_line(
        tmp_path: Path, database_url: str) -> None:
    from click.testing import CliRunner
    from conftest import add_anna

    folder = tmp_path / "inst"
    folder.mkdir()
    blocker = tmp_path / "logs-is-a-file"
    blocker.write_text("not a folder\n", encoding="utf-8")
    config = write_config(folder, database_url)
    config.write_text(config.read_text(encoding="utf-8").replace(
        (folder / "logs").as_posix(), blocker.as_posix()), encoding="utf-8")
    env = Env(folder, config, database_url, CliRunner())
    env.ok("init")
    add_anna(env)
    line = refused(env.run("daily", "--date", "2026-11-24"), codes=(1,))
    assert "paths.logs" in line and str(blocker) in line
    assert blocker.read_text(encoding="utf-8") == "not a folder\n"
    engine = env.engine()
    try:
        with engine.db.connect() as conn:
            statuses = list(conn.execute(select(DailyRun.status)).scalars())
    finally:
        engine.db.dispose()
    assert "running" not in statuses
