"""Text from the database (names, addresses, notes, purposes, reasons) is data on the terminal:
never rich markup, never a link, never a control sequence; and never a formula in a CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from conftest import Env
from helpers import staff
from sqlalchemy import insert, update
from test_cli_cohort import bsns, person, write_csv

from casework.models import Case, Employer, Event, Letter, Participant, Spending

CRASH = "Ja[/]nssen"
LINK = "[link=https://evil.example]x[/link]"
STYLE = "[bold red]Loud[/]"
EMOJI = "Koe :cow:"
ESCAPES = "Wis\x1b[2J\x1b]8;;https://evil.example\x07scherm\x9b31m\u202eterug"
HOSTILE = (CRASH, LINK, STYLE, EMOJI)


def assert_literal(output: str, *texts: str) -> None:
    assert "Traceback" not in output
    assert "\x1b" not in output and "\x9b" not in output and "\x07" not in output
    assert "\u202e" not in output
    for text in texts:
        assert text in output, (text, output)


@pytest.fixture
def hostile(env: Env) -> Env:
    """Two people with hostile names, notes, reasons and purposes, stored as they might come
    from an old import or a direct database edit."""
    first, second = bsns(2)
    path = write_csv(env.root / "c.csv", [person(first),  # second: kept out (guidance)
                                          person(second, last_guidance="2026-06-01")])
    env.ok("cohort", "import", str(path), "--workflow", "kansen-in-kaart")
    env.ok("cohort", "plan", "--workflow", "kansen-in-kaart", "--wijk", "Centrum", "--size", "2",
           "--from", "2026-12-07", "--specialists", "1")
    env.ok("employer", "add", "Bakkerij")
    env.ok("budget", "set", "kansen-in-kaart", "1000", "--year", "2026")
    env.ok("budget", "spend", "1", "10", "--purpose", "fiets", "--date", "2026-12-01")
    engine = env.engine()
    with engine.db.begin() as conn:
        conn.execute(update(Participant).where(Participant.bsn == first).values(
            surname=CRASH + " " + ESCAPES, prefix=STYLE, street=LINK, city=EMOJI,
            phone="06\x1b[2J"))
        conn.execute(update(Participant).where(Participant.bsn == second).values(
            initials="[/]", surname=f"{LINK} {STYLE}"))
        conn.execute(update(Event).values(note=f"{CRASH} {LINK} {ESCAPES}\nregel 2"))
        conn.execute(update(Case).values(wijk=f"{STYLE}{ESCAPES}"))
        conn.execute(update(Letter).values(reason=f"{LINK} {ESCAPES}"))
        conn.execute(update(Employer).values(name=f"{LINK}{ESCAPES}", contact=STYLE))
        conn.execute(update(Spending).values(purpose=f"{CRASH} {ESCAPES}"))
    from casework.access import log_access

    with engine.db.begin() as conn:
        log_access(conn, staff(engine, "anna"), "read", [1], f"{CRASH} {LINK} {ESCAPES}",
                   engine.now())
    engine.db.dispose()
    return env


@pytest.mark.parametrize("args", [
    ["case", "list"],
    ["case", "show", "1"],
    ["case", "show", "2"],
    ["task", "list"],
    ["letters", "list"],
    ["audit", "--case", "1"],
    ["employer", "list"],
    ["budget", "show", "kansen-in-kaart", "--year", "2026"],
    ["cohort", "excluded", "--workflow", "kansen-in-kaart"],
    ["report", "response"],
], ids=" ".join)
def test_stored_text_is_printed_literally(hostile: Env, args: list[str]) -> None:
    result = hostile.ok(*args, env={"COLUMNS": "400"})  # wide enough to show whole cells
    expected: dict[str, tuple[str, ...]] = {
        "case list": (CRASH, STYLE),
        "case show 1": (CRASH, LINK, STYLE, EMOJI, "Wis\\x1b[2J", "regel 2"),
        "case show 2": (LINK, STYLE),
        "task list": (CRASH,),
        "letters list": ("x[/link]",),
        "audit --case 1": (CRASH,),
        "employer list": (STYLE,),
        "budget show kansen-in-kaart --year 2026": (CRASH,),
        "cohort excluded --workflow kansen-in-kaart": (LINK, STYLE),
        "report response": (STYLE,),
    }
    assert_literal(result.output, *expected.get(" ".join(args), ()))


def test_an_error_message_echoing_input_shows_no_control_sequence(hostile: Env) -> None:
    result = hostile.run("employer", "show", f"{LINK}{ESCAPES}x")
    assert result.exit_code == 1
    assert_literal(result.output)


def test_a_hostile_file_name_does_not_break_the_progress_bar(env: Env) -> None:
    path = write_csv(env.root / "[bold red]co[link=x]hort.csv", [person(bsns(1)[0])])
    result = env.run("cohort", "import", str(path), "--workflow", "kansen-in-kaart",
                     env={"FORCE_COLOR": "1", "COLUMNS": "400"})  # as on a terminal
    assert result.exit_code == 0, result.output
    assert "[bold red]co[link=x]hort.csv" in result.output


# --- CSV cells -----------------------------------------------------------------------------

OWASP = ["=cmd|' /C calc'!A0", '=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3",
         "@SUM(1+1)", "\t=1+1", "\r=1+1"]


def cells(text: str, delimiter: str = ";") -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
            for cell in row]


def file_cells(path: Path, encoding: str = "utf-8-sig") -> list[str]:
    return cells(path.read_bytes().decode(encoding))  # keeps a CR inside a cell


def assert_no_formula(all_cells: list[str], *must_hold: str) -> None:
    for cell in all_cells:
        assert cell[:1] not in ("=", "+", "@", "\t", "\r") or len(cell) == 1, cell
        if cell.startswith("-"):
            assert cell == "-" or cell.lstrip("-").replace(",", "").replace(".", "").isdigit()
    for text in must_hold:
        assert any(text in cell for cell in all_cells), (text, all_cells)


def test_rejected_rows_with_formulas_are_written_as_text(env: Env) -> None:
    good, *numbers = bsns(len(OWASP) + 1)
    rows = [person(good)] + [person(n, surname=payload, postcode="X")
                             for n, payload in zip(numbers, OWASP, strict=True)]
    path = write_csv(env.root / "c.csv", rows, delimiter=";", newline="\r\n")  # CR quoted
    rejects = env.root / "rejects.csv"
    assert env.run("cohort", "import", str(path), "--workflow", "kansen-in-kaart",
                   "--rejects", str(rejects)).exit_code == 1
    written = file_cells(rejects)
    assert_no_formula(written, *("'" + p for p in OWASP))


@pytest.fixture
def formulas(env: Env) -> Env:
    """People whose stored names, addresses and wijk are OWASP payloads."""
    numbers = bsns(len(OWASP))
    path = write_csv(env.root / "c.csv", [person(n) for n in numbers])
    env.ok("cohort", "import", str(path), "--workflow", "kansen-in-kaart")
    engine = env.engine()
    with engine.db.begin() as conn:
        for number, payload in zip(numbers, OWASP, strict=True):
            conn.execute(update(Participant).where(Participant.bsn == number).values(
                surname=payload, street=payload, city=payload, phone=payload[:30],
                email=payload))
    engine.db.dispose()
    return env


def invite_everyone(env: Env) -> None:
    env.ok("cohort", "plan", "--workflow", "kansen-in-kaart", "--wijk", "Centrum",
           "--size", str(len(OWASP)), "--from", "2026-12-07", "--specialists", "2")


def test_report_csv_cells_cannot_be_formulas(formulas: Env) -> None:
    invite_everyone(formulas)
    engine = formulas.engine()
    with engine.db.begin() as conn:  # a wijk name from the cohort file is a group in reports
        conn.execute(update(Case).values(wijk="=HYPERLINK(\"http://evil.example\")"))
    engine.db.dispose()
    result = formulas.ok("report", "response", "--format", "csv")
    written = cells(result.stdout)
    assert_no_formula(written, "'=HYPERLINK")
    assert any(cell.isdigit() for cell in written)  # numbers stay numbers


def referral_rows(env: Env) -> list[dict[str, Any]]:
    engine = env.engine()
    from casework.models import Case, Referral

    with engine.db.begin() as conn:
        case_ids = [row.id for row in conn.execute(Case.__table__.select())]
        now = engine.now()
        for case_id in case_ids:
            conn.execute(insert(Referral).values(case_id=case_id, partner="coach_meedoen",
                                                 referred_at=now, updated_at=now,
                                                 status="sent"))
    engine.db.dispose()
    return [{"case": c} for c in case_ids]


def test_referral_export_cells_cannot_be_formulas(formulas: Env, tmp_path: Path) -> None:
    for row in referral_rows(formulas):
        formulas.ok("consent", "grant", str(row["case"]), "share:coach_meedoen",
                    "--how", "conversation")
    out = tmp_path / "referrals.csv"
    formulas.ok("referral", "export", "--partner", "coach_meedoen", "--out", str(out))
    written = file_cells(out)
    assert_no_formula(written, *("'" + p for p in OWASP))
    printed = formulas.ok("referral", "export", "--partner", "coach_meedoen").stdout
    assert_no_formula(cells(printed), *("'" + p for p in OWASP))


def test_mail_house_manifest_cells_cannot_be_formulas(formulas: Env, tmp_path: Path) -> None:
    from casework.mailroom import form_batches

    invite_everyone(formulas)
    page = tmp_path / "page.pdf"
    formulas.ok("letters", "calibrate", "--out", str(page))
    engine = formulas.engine()
    with engine.db.begin() as conn:  # rendered letters whose address lines are payloads
        conn.execute(update(Letter).values(status="rendered", file=str(page), pages=1, sheets=1,
                                           postcode="9711 AB", checksum="0", address=OWASP))
    batches = form_batches(engine, date(2026, 12, 1), tmp_path / "out")
    engine.db.dispose()
    written = [cell for batch in batches
               for cell in file_cells(tmp_path / "out" / batch["manifest"], "utf-8")]
    assert_no_formula(written, *("'" + p for p in OWASP))


def test_json_output_holds_the_stored_text_without_terminal_controls(hostile: Env) -> None:
    result = hostile.ok("case", "show", "1", "--json")
    assert_literal(result.output, CRASH)
    assert ESCAPES in json.loads(result.output)["person"]["name"]
