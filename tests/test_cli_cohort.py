"""casework cohort import: CSV as Dutch offices produce it, bad rows reported, never a BSN shown."""

from __future__ import annotations

import csv
import io
import json
import re
import traceback
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from conftest import EXAMPLES, Env, write_config
from test_name_index import index_pages

WORKFLOW = "kansen-in-kaart"
HEADER = (
    "bsn", "initials", "prefix", "surname", "street", "house_number", "house_number_suffix",
    "postcode", "city", "wijk", "phone", "email", "wij_team_contact", "last_guidance",
)
REQUIRED = ("bsn", "surname", "street", "house_number", "postcode", "city", "wijk")
WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)
SUMMARY_KEYS = {
    "file", "workflow", "read", "imported", "already_present", "excluded",
    "excluded_by_reason", "rejected", "rejected_by_reason", "rejects", "warnings",
    "ignored_columns",
}
# The deliberate errors in examples/cohort_with_errors.csv (see examples/README.md).
SAMPLE_ERRORS = {
    5: "invalid BSN",
    7: "malformed postcode",
    10: "missing required field",
    11: "duplicate BSN",
    13: "bad date",
    15: "bad house number",
}


# --- helpers -------------------------------------------------------------------------------

def passes_elfproef(number: str) -> bool:
    if len(number) != 9 or not number.isdigit():
        return False
    return sum(int(d) * w for d, w in zip(number, WEIGHTS, strict=True)) % 11 == 0


def valid_bsns(start: int = 43_210_000) -> Iterator[str]:
    """Yield valid 9-digit BSNs from the 8-digit prefix `start` on (below 10_000_000: leading 0)."""
    prefix = start
    while True:
        digits = f"{prefix:08d}"
        check = sum(int(d) * w for d, w in zip(digits, WEIGHTS[:8], strict=True)) % 11
        if check < 10:
            number = f"{digits}{check}"
            assert passes_elfproef(number)
            yield number
        prefix += 1


def bsns(count: int, start: int = 43_210_000) -> list[str]:
    generator = valid_bsns(start)
    return [next(generator) for _ in range(count)]


def failing_elfproef(number: str) -> str:
    """The same number with its last digit changed so the elfproef fails."""
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert not passes_elfproef(wrong)
    return wrong


def person(number: str, /, **values: str) -> dict[str, str]:
    """A valid row for BSN `number`; keyword arguments replace single columns."""
    row = {
        "bsn": number, "initials": "J.", "prefix": "van", "surname": "Dam",
        "street": "Kerkstraat", "house_number": "12", "house_number_suffix": "",
        "postcode": "9711 AB", "city": "Groningen", "wijk": "Centrum",
        "phone": "06-12345678", "email": "j.vandam@example.nl", "wij_team_contact": "no",
        "last_guidance": "2020-01-15",
    }
    unknown = set(values) - set(row)
    assert not unknown, unknown
    row.update(values)
    return row


def csv_text(rows: Iterable[dict[str, str] | list[str]], delimiter: str = ",",
             header: Iterable[str] = HEADER, newline: str = "\n") -> str:
    columns = list(header)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns] if isinstance(row, dict) else row)
    return out.getvalue()


def write_csv(path: Path, rows: Iterable[dict[str, str] | list[str]], delimiter: str = ",",
              bom: bool = False, header: Iterable[str] = HEADER, newline: str = "\n") -> Path:
    data = csv_text(rows, delimiter, header, newline).encode("utf-8")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def import_file(env: Env, path: Path, *extra: str) -> Result:
    return env.run("cohort", "import", str(path), "--workflow", WORKFLOW, *extra)


def import_json(env: Env, path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = import_file(env, path, "--json", *extra)
    return result.exit_code, json.loads(result.stdout)


def run_as_user_sees(env: Env, *args: str) -> tuple[int | None, str]:
    """Exit code and everything printed; an uncaught exception is what a user sees as traceback."""
    try:
        result = env.run(*args)
    except Exception:
        return None, traceback.format_exc()
    return result.exit_code, result.output


def cases(env: Env) -> list[dict[str, Any]]:
    data = env.json("case", "list", "--limit", "0")
    assert data["total"] == len(data["cases"])
    return list(data["cases"])


def show(env: Env, case_id: int) -> dict[str, Any]:
    return dict(env.json("case", "show", str(case_id)))


def case_of(env: Env, bsn: str) -> dict[str, Any]:
    """The case whose (masked) BSN ends like `bsn` (test BSNs differ in their last 3 digits)."""
    found = [show(env, c["id"]) for c in cases(env)]
    matching = [c for c in found if c["person"]["bsn_masked"] == "*" * 6 + bsn[-3:]]
    assert len(matching) == 1, [c["person"]["bsn_masked"] for c in found]
    return matching[0]


def summary_numbers(output: str) -> dict[str, int]:
    """The counts of the text summary ('read 3', 'imported 2', ...)."""
    numbers = {}
    for label in ("read", "imported", "already present", "rejected"):
        match = re.search(rf"^\s*{label}\s+(\d+)\s*$", output, re.MULTILINE)
        assert match, f"no '{label}' line in:\n{output}"
        numbers[label] = int(match.group(1))
    return numbers


def assert_no_bsn(output: str, numbers: Iterable[str]) -> None:
    for number in numbers:
        forms = {number, number.lstrip("0")}
        for form in forms:
            assert form not in output, f"BSN {form} shown in:\n{output}"


def bsns_in_file(path: Path) -> set[str]:
    """The values of the bsn column."""
    text = path.read_text(encoding="utf-8-sig")
    delimiter = ";" if text.split("\n", 1)[0].count(";") > 1 else ","
    return {row["bsn"] for row in csv.DictReader(io.StringIO(text, newline=""),
                                                  delimiter=delimiter) if row["bsn"]}


def read_rejects(path: Path) -> list[dict[str, str]]:
    text = path.read_text(encoding="utf-8-sig")
    delimiter = ";" if text.splitlines()[0].count(";") > text.splitlines()[0].count(",") else ","
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))


# --- the sample files ----------------------------------------------------------------------

def test_sample_cohort_imports_200_and_exits_0(env: Env) -> None:
    result = import_file(env, EXAMPLES / "cohort.csv")
    assert result.exit_code == 0, result.output
    assert summary_numbers(result.stdout) == {
        "read": 200, "imported": 200, "already present": 0, "rejected": 0,
    }
    assert len(cases(env)) == 200


def test_a_large_import_refreshes_the_statistics(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Right after a bulk load the planner has no statistics (PostgreSQL's autovacuum comes
    later; SQLite has none until asked) and guesses: a search walked every row in scope. An
    import of many people analyses the tables it filled."""
    from sqlalchemy import text

    import casework.cohort

    monkeypatch.setattr(casework.cohort, "ANALYZE_AFTER", 200)
    assert import_file(env, EXAMPLES / "cohort.csv").exit_code == 0
    engine = env.engine()
    if not env.database_url.startswith("postgresql"):
        try:
            with engine.db.connect() as conn:
                assert {"participants", "cases"} <= set(conn.execute(text(
                    "SELECT tbl FROM sqlite_stat1")).scalars())
        finally:
            engine.db.dispose()
        return
    import time

    for _ in range(50):  # the statistics views may lag a moment behind the ANALYZE
        with engine.db.connect() as conn:
            analysed = dict(conn.execute(text(
                "SELECT relname, last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE "
                "schemaname = current_schema() AND relname IN ('participants', 'cases')")).all())
        if analysed == {"participants": True, "cases": True}:
            break
        time.sleep(0.1)
    assert analysed == {"participants": True, "cases": True}


def test_reimporting_sample_cohort_adds_nothing(env: Env) -> None:
    env.ok("cohort", "import", str(EXAMPLES / "cohort.csv"), "--workflow", WORKFLOW)
    result = import_file(env, EXAMPLES / "cohort.csv")
    assert result.exit_code == 0, result.output
    assert summary_numbers(result.stdout) == {
        "read": 200, "imported": 0, "already present": 200, "rejected": 0,
    }
    code, summary = import_json(env, EXAMPLES / "cohort.csv")
    assert code == 0
    assert (summary["imported"], summary["already_present"], summary["rejected"]) == (0, 200, 0)
    assert len(cases(env)) == 200


def test_imported_cases_are_selected_with_an_open_event(env: Env) -> None:
    env.ok("cohort", "import", str(EXAMPLES / "cohort.csv"), "--workflow", WORKFLOW)
    listed = cases(env)
    assert len(listed) == 200
    assert {c["state"] for c in listed} == {"selected"}
    assert {c["workflow"] for c in listed} == {WORKFLOW}
    for case_id in (listed[0]["id"], listed[99]["id"], listed[-1]["id"]):
        shown = show(env, case_id)
        assert shown["state"] == "selected"
        # Opened; a person the rules keep out also has the exclusion with its reason.
        assert [(e["trigger"], e["from"], e["to"]) for e in shown["timeline"]] == [
            ("open", None, "selected")
        ] + ([("exclude", "selected", "selected")] if shown["excluded"] else [])
        if shown["excluded"]:
            assert shown["timeline"][1]["data"] == {"reason": shown["excluded"]}
        assert shown["timeline"][0]["actor"] == "anna"


def test_every_case_of_a_small_file_has_exactly_one_open_event(env: Env, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "small.csv", [person(b) for b in bsns(3)])
    env.ok("cohort", "import", str(path), "--workflow", WORKFLOW)
    for c in cases(env):
        timeline = show(env, c["id"])["timeline"]
        assert [e["trigger"] for e in timeline] == ["open"]
        assert timeline[0]["to"] == "selected"


def test_sample_with_errors_imports_9_and_rejects_6_with_one_reason_each(env: Env) -> None:
    code, summary = import_json(env, EXAMPLES / "cohort_with_errors.csv")
    assert code == 1
    assert (summary["read"], summary["imported"], summary["already_present"]) == (15, 9, 0)
    assert summary["rejected"] == 6
    assert {r["row"]: r["reason"] for r in summary["rejects"]} == SAMPLE_ERRORS
    assert [r["row"] for r in summary["rejects"]] == sorted(SAMPLE_ERRORS)
    assert summary["rejected_by_reason"] == {reason: 1 for reason in SAMPLE_ERRORS.values()}
    assert len(cases(env)) == 9


def test_sample_with_errors_text_output_names_rows_reasons_and_summary(env: Env) -> None:
    result = import_file(env, EXAMPLES / "cohort_with_errors.csv")
    assert result.exit_code == 1
    assert summary_numbers(result.stdout) == {
        "read": 15, "imported": 9, "already present": 0, "rejected": 6,
    }
    for reason in SAMPLE_ERRORS.values():
        assert re.search(rf"^\s*{reason}\s+1\s*$", result.stdout, re.MULTILINE), result.stdout
    reported = [int(n) for n in re.findall(r"^row (\d+): ", result.stderr, re.MULTILINE)]
    assert reported == sorted(SAMPLE_ERRORS)
    assert "Traceback" not in result.output
    assert_no_bsn(result.output, bsns_in_file(EXAMPLES / "cohort_with_errors.csv"))


def test_reimporting_sample_with_errors_adds_nothing_and_rejects_again(env: Env) -> None:
    import_file(env, EXAMPLES / "cohort_with_errors.csv")
    code, summary = import_json(env, EXAMPLES / "cohort_with_errors.csv")
    assert code == 1
    assert (summary["imported"], summary["already_present"], summary["rejected"]) == (0, 9, 6)
    assert len(cases(env)) == 9


def test_sample_with_errors_stores_only_the_good_rows(env: Env) -> None:
    import_file(env, EXAMPLES / "cohort_with_errors.csv")
    names = {c["name"] for c in cases(env)}
    assert "H.W. van der Meer" in names
    assert "A.M. de Vries" in names  # row 2 is kept; its duplicate on row 11 is not
    for rejected in ("S. Bakker", "M.J. Dijkstra", "K. Yilmaz", "W. Hoekstra", "N. El Amrani"):
        assert rejected not in names


def test_no_bsn_in_any_output_for_the_sample_files(env: Env) -> None:
    for name in ("cohort.csv", "cohort_with_errors.csv"):
        path = EXAMPLES / name
        numbers = bsns_in_file(path)
        assert numbers
        for extra in ((), ("--json",)):
            for _ in range(2):  # first import and re-import
                code, output = run_as_user_sees(
                    env, "cohort", "import", str(path), "--workflow", WORKFLOW, *extra)
                assert code in (0, 1), output
                assert_no_bsn(output, numbers)


# --- summary and exit code -----------------------------------------------------------------

def test_json_summary_has_the_documented_keys(env: Env, tmp_path: Path) -> None:
    good, bad = bsns(2)
    path = write_csv(tmp_path / "c.csv", [person(good), person(bad, postcode="XYZ")])
    code, summary = import_json(env, path)
    assert code == 1
    assert set(summary) == SUMMARY_KEYS
    assert summary["file"] == "c.csv"
    assert summary["workflow"] == WORKFLOW
    assert (summary["read"], summary["imported"], summary["already_present"]) == (2, 1, 0)
    assert (summary["excluded"], summary["excluded_by_reason"]) == (0, {})
    assert summary["rejected"] == 1
    assert summary["rejected_by_reason"] == {"malformed postcode": 1}
    assert summary["ignored_columns"] == []
    [reject] = summary["rejects"]
    assert set(reject) == {"row", "reason", "detail"}
    assert reject["row"] == 3
    assert reject["reason"] == "malformed postcode"
    assert "postcode" in reject["detail"]


def test_clean_file_exits_0_with_nothing_rejected(env: Env, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", [person(b) for b in bsns(4)])
    result = import_file(env, path)
    assert result.exit_code == 0, result.output
    assert summary_numbers(result.stdout) == {
        "read": 4, "imported": 4, "already present": 0, "rejected": 0,
    }
    assert result.stderr == ""
    code, summary = import_json(env, path)
    assert code == 0
    assert summary["rejects"] == [] and summary["rejected_by_reason"] == {}


def test_rejected_rows_give_exit_code_1_also_in_json(env: Env, tmp_path: Path) -> None:
    good, bad = bsns(2)
    path = write_csv(tmp_path / "c.csv", [person(good), person(failing_elfproef(bad))])
    assert import_file(env, path).exit_code == 1
    assert import_file(env, path, "--json").exit_code == 1


def test_summary_counts_rejections_by_reason(env: Env, tmp_path: Path) -> None:
    numbers = bsns(6)
    rows = [
        person(numbers[0]),
        person(numbers[1], postcode="97111AB"),
        person(numbers[2], postcode="ABCD 12"),
        person(failing_elfproef(numbers[3])),
        person(numbers[4], last_guidance="2020-13-01"),
        person(numbers[5], postcode="1234"),
    ]
    path = write_csv(tmp_path / "c.csv", rows)
    code, summary = import_json(env, path)
    assert code == 1
    assert summary["rejected_by_reason"] == {
        "malformed postcode": 3, "invalid BSN": 1, "bad date": 1,
    }
    text = import_file(env, path).stdout
    assert re.search(r"^\s*malformed postcode\s+3\s*$", text, re.MULTILINE), text


def test_extra_column_is_ignored_and_named(env: Env, tmp_path: Path) -> None:
    number = bsns(1)[0]
    path = write_csv(tmp_path / "c.csv", [[*person(number).values(), "call after 5"]],
                     header=[*HEADER, "notes"])
    code, summary = import_json(env, path)
    assert code == 0
    assert summary["imported"] == 1
    assert summary["ignored_columns"] == ["notes"]
    result = import_file(env, path)
    assert "ignored columns: notes" in result.stdout


def test_optional_columns_may_be_left_out(env: Env, tmp_path: Path) -> None:
    number = bsns(1)[0]
    path = write_csv(tmp_path / "c.csv", [person(number)], header=REQUIRED)
    code, summary = import_json(env, path)
    assert code == 0, summary
    assert summary["imported"] == 1
    assert show(env, cases(env)[0]["id"])["person"]["name"] == "Dam"


# --- file formats --------------------------------------------------------------------------

@pytest.mark.parametrize("delimiter", [",", ";"])
@pytest.mark.parametrize("bom", [False, True], ids=["no-bom", "bom"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_comma_or_semicolon_with_or_without_bom_imports(
    env: Env, tmp_path: Path, delimiter: str, bom: bool, newline: str
) -> None:
    first, second, third = bsns(3)
    rows = [
        person(first, surname="Öztürk", prefix="", initials="J."),
        person(second, street="Hoofdweg, achter", house_number_suffix="A"),
        person(third, postcode="ABCD"),
    ]
    path = write_csv(tmp_path / "c.csv", rows, delimiter, bom, newline=newline)
    code, summary = import_json(env, path)
    assert code == 1
    assert (summary["read"], summary["imported"], summary["rejected"]) == (3, 2, 1)
    assert [(r["row"], r["reason"]) for r in summary["rejects"]] == [(4, "malformed postcode")]
    assert summary["ignored_columns"] == []
    assert {c["name"] for c in cases(env)} == {"J. Öztürk", "J. van Dam"}
    addresses = {show(env, c["id"])["person"]["address"] for c in cases(env)}
    assert addresses == {"Kerkstraat 12", "Hoofdweg, achter 12A"}


def test_windows_1252_row_among_utf8_rows_is_rejected_as_bad_encoding(
    env: Env, tmp_path: Path
) -> None:
    first, mueller, last = bsns(3)
    good = csv_text([person(first, surname="Çelik")])
    bad_line = ",".join(person(mueller, surname="Müller", prefix="").values()) + "\n"
    good_last = ",".join(person(last, surname="Hoëll", prefix="").values()) + "\n"
    data = good.encode("utf-8") + bad_line.encode("cp1252") + good_last.encode("utf-8")
    assert b"M\xfcller" in data
    path = tmp_path / "mixed.csv"
    path.write_bytes(data)
    result = import_file(env, path)
    assert result.exit_code == 1
    assert "row 3:" in result.stderr
    assert_no_bsn(result.output, [first, mueller, last])
    code, summary = import_json(env, path)
    assert code == 1
    assert summary["imported"] == 0 and summary["already_present"] == 2
    assert [(r["row"], r["reason"]) for r in summary["rejects"]] == [(3, "bad encoding")]
    assert {c["name"] for c in cases(env)} == {"J. Hoëll", "J. van Çelik"}


def test_bad_encoding_row_goes_to_rejects_file(env: Env, tmp_path: Path) -> None:
    first, mueller = bsns(2)
    data = csv_text([person(first)]).encode("utf-8") + (
        ",".join(person(mueller, surname="Müller").values()) + "\n").encode("cp1252")
    path = tmp_path / "mixed.csv"
    path.write_bytes(data)
    rejects = tmp_path / "rejects.csv"
    assert import_file(env, path, "--rejects", str(rejects)).exit_code == 1
    raw = rejects.read_bytes()
    assert mueller.encode() in raw
    lines = raw.splitlines()
    assert len(lines) == 2
    assert lines[1].startswith(b"3,")


# --- bad rows ------------------------------------------------------------------------------

BAD_ROWS: dict[str, tuple[str, dict[str, str]]] = {
    # id: (reason, columns replaced in a valid row); "bsn": "ELF" = a BSN failing the elfproef
    "elfproef": ("invalid BSN", {"bsn": "ELF"}),
    "bsn-too-short": ("invalid BSN", {"bsn": "1234567"}),
    "bsn-too-long": ("invalid BSN", {"bsn": "1234567890"}),
    "bsn-letters": ("invalid BSN", {"bsn": "12345678A"}),
    "postcode-letter-o": ("malformed postcode", {"postcode": "97O0AB"}),
    "postcode-leading-zero": ("malformed postcode", {"postcode": "0711 AB"}),
    "postcode-digits-only": ("malformed postcode", {"postcode": "9711"}),
    "no-surname": ("missing required field", {"surname": ""}),
    "blank-city": ("missing required field", {"city": "   "}),
    "date-not-a-date": ("bad date", {"last_guidance": "31-02-2020"}),
    "date-garbage": ("bad date", {"last_guidance": "last spring"}),
    "date-in-future": ("bad date", {"last_guidance": "2999-01-01"}),
    "house-number": ("bad house number", {"house_number": "abc"}),
    "yes-no": ("bad yes/no value", {"wij_team_contact": "maybe"}),
}


def bad_row(number: str, change: dict[str, str]) -> dict[str, str]:
    change = dict(change)
    if change.get("bsn") == "ELF":
        change["bsn"] = failing_elfproef(number)
    return person(number, **change)


@pytest.mark.parametrize(("reason", "change"), BAD_ROWS.values(), ids=BAD_ROWS.keys())
def test_bad_row_is_reported_by_row_and_reason_and_others_import(
    env: Env, tmp_path: Path, reason: str, change: dict[str, str]
) -> None:
    before, broken, after = bsns(3)
    path = write_csv(tmp_path / "c.csv", [person(before), bad_row(broken, change),
                                          person(after)])
    code, summary = import_json(env, path)
    assert code == 1
    assert (summary["read"], summary["imported"], summary["rejected"]) == (3, 2, 1)
    assert [(r["row"], r["reason"]) for r in summary["rejects"]] == [(3, reason)]
    assert summary["rejected_by_reason"] == {reason: 1}
    assert len(cases(env)) == 2


@pytest.mark.parametrize("column", REQUIRED)
def test_each_required_field_left_empty_is_rejected(env: Env, tmp_path: Path,
                                                     column: str) -> None:
    good, other = bsns(2)
    path = write_csv(tmp_path / "c.csv", [person(good), person(other, **{column: ""})])
    code, summary = import_json(env, path)
    assert code == 1
    assert [(r["row"], r["reason"]) for r in summary["rejects"]] == [(3, "missing required field")]
    assert column in summary["rejects"][0]["detail"]
    assert summary["imported"] == 1


@pytest.mark.parametrize("placeholder", ["000000000", "00000000"])
def test_all_zero_placeholder_bsn_is_rejected(env: Env, tmp_path: Path,
                                              placeholder: str) -> None:
    # 000000000 passes the 11-sum but is no citizen service number (offices use it for "unknown")
    good = bsns(1)[0]
    path = write_csv(tmp_path / "c.csv", [person(good), person(placeholder)])
    code, summary = import_json(env, path)
    assert code == 1
    assert [(r["row"], r["reason"]) for r in summary["rejects"]] == [(3, "invalid BSN")]
    assert summary["imported"] == 1
    assert len(cases(env)) == 1


def test_row_with_wrong_number_of_fields_is_rejected(env: Env, tmp_path: Path) -> None:
    good, short = bsns(2)
    path = write_csv(tmp_path / "c.csv", [person(good), list(person(short).values())[:10]])
    code, summary = import_json(env, path)
    assert code == 1
    assert [r["row"] for r in summary["rejects"]] == [3]
    assert summary["imported"] == 1


def test_duplicate_bsn_rejects_the_later_row_and_keeps_the_first(env: Env,
                                                                  tmp_path: Path) -> None:
    number, other = bsns(2)
    rows = [person(number, surname="Eerste"), person(other),
            person(number, surname="Tweede")]
    path = write_csv(tmp_path / "c.csv", rows)
    code, summary = import_json(env, path)
    assert code == 1
    assert [(r["row"], r["reason"]) for r in summary["rejects"]] == [(4, "duplicate BSN")]
    assert "row 2" in summary["rejects"][0]["detail"]
    assert summary["imported"] == 2
    names = sorted(c["name"] for c in cases(env))
    assert names == ["J. van Dam", "J. van Eerste"]


def test_eight_and_nine_digit_forms_of_one_bsn_are_duplicates(env: Env,
                                                                tmp_path: Path) -> None:
    number = bsns(1, start=4_321_000)[0]
    assert number.startswith("0")
    rows = [person(number[1:]), person(number)]
    code, summary = import_json(env, write_csv(tmp_path / "c.csv", rows))
    assert code == 1
    assert [(r["row"], r["reason"]) for r in summary["rejects"]] == [(3, "duplicate BSN")]
    assert summary["imported"] == 1


def test_duplicate_is_caught_across_import_batches(env: Env, tmp_path: Path) -> None:
    write_config(env.root, env.database_url, "\n[import]\nbatch_size = 2\n")
    numbers = bsns(5)
    rows = [person(n) for n in numbers] + [person(numbers[0]), person(numbers[3], postcode="X")]
    code, summary = import_json(env, write_csv(tmp_path / "c.csv", rows))
    assert code == 1
    assert [(r["row"], r["reason"]) for r in summary["rejects"]] == [
        (7, "duplicate BSN"), (8, "malformed postcode"),
    ]
    assert summary["imported"] == 5
    assert len(cases(env)) == 5


def test_people_imported_in_batches_are_in_the_name_index_as_a_rebuild_makes_it(
        env: Env, tmp_path: Path) -> None:
    """The people of an import go into the trigram name index with one statement per batch;
    the index then holds what one made anew from the stored names holds (SQLite), and a
    person changed later is still followed by its triggers."""
    write_config(env.root, env.database_url, "\n[import]\nbatch_size = 4\n")
    names = [("J.P.", "van der", "Berg"), ("Ç.", "", "Çelik"), ("T.", "'t", "Hart"),
             ("O.", "", 'O"Brien'), ("É.", "de la", "Fuente"), ("", "", "Qwyxzvaar")]
    numbers = bsns(11)
    rows = [person(n, initials=names[i % 6][0], prefix=names[i % 6][1],
                   surname=f"{names[i % 6][2]}{i}") for i, n in enumerate(numbers)]
    path = write_csv(tmp_path / "c.csv", rows)
    code, summary = import_json(env, path)
    assert (code, summary["imported"]) == (0, 11)
    assert import_json(env, path)[1]["already_present"] == 11
    if not env.database_url.startswith("sqlite"):
        return
    engine = env.engine()
    try:
        with engine.db.begin() as conn:
            def found(word: str) -> list[int]:
                return list(conn.exec_driver_sql(
                    "SELECT rowid FROM participant_names WHERE participant_names MATCH ? "
                    "ORDER BY rowid", ('"' + word.replace('"', '""') + '"',)).scalars())

            assert found("çelik") == [2, 8]
            assert found('o"brien') == [4, 10]
            assert found("qwyxzvaar5") == [6]
            conn.exec_driver_sql("UPDATE participants SET surname = 'Anders' WHERE id = 6")
            assert found("qwyxzvaar") == [] and found("anders") == [6]
            pages = []
            for commands in (["optimize"], ["rebuild", "optimize"]):  # as imported; made anew
                for command in commands:
                    conn.exec_driver_sql("INSERT INTO participant_names(participant_names) "
                                         f"VALUES ('{command}')")
                pages.append(index_pages(conn))
            assert pages[0] == pages[1]
    finally:
        engine.db.dispose()


def test_the_elfproef_is_the_one_of_python_stdnum() -> None:
    """A BSN passes the import's elfproef exactly when python-stdnum says it is valid, in its
    nine- and eight-digit forms (spreadsheets drop a leading 0)."""
    from stdnum.nl import bsn as stdnum_bsn

    from casework.cohort import RowError, normalise_bsn

    def passes(text: str) -> bool:
        try:
            return normalise_bsn(text) == text.zfill(9)
        except RowError:
            return False

    numbers = [*range(0, 3_000), *range(10_000_000, 10_003_000), *range(999_990_000, 10 ** 9),
               *range(123_456_000, 123_459_000, 7)]
    for number in numbers:
        text = f"{number:09d}"
        assert passes(text) == (number != 0 and stdnum_bsn.is_valid(text)), text
        if text.startswith("0"):
            assert passes(text[1:]) == passes(text), text


def test_excel_eight_digit_bsn_is_accepted(env: Env, tmp_path: Path) -> None:
    number = bsns(1, start=4_321_000)[0]
    assert number.startswith("0") and len(number) == 9
    path = write_csv(tmp_path / "excel.csv", [person(number[1:])])
    code, summary = import_json(env, path)
    assert code == 0, summary
    assert summary["imported"] == 1
    [case] = cases(env)
    assert show(env, case["id"])["person"]["bsn_masked"] == "******" + number[-3:]
    # The same person written with the leading zero is the same person.
    code, summary = import_json(env, write_csv(tmp_path / "full.csv", [person(number)]))
    assert code == 0
    assert (summary["imported"], summary["already_present"]) == (0, 1)


@pytest.mark.parametrize("written", ["9711ab", "9711 ab", " 9711AB ", "9711 AB"])
def test_postcode_is_normalised(env: Env, tmp_path: Path, written: str) -> None:
    path = write_csv(tmp_path / "c.csv", [person(bsns(1)[0], postcode=written)])
    code, summary = import_json(env, path)
    assert code == 0, summary
    [case] = cases(env)
    assert show(env, case["id"])["person"]["postcode"] == "9711 AB"


def test_row_values_are_stored_as_given(env: Env, tmp_path: Path) -> None:
    number = bsns(1)[0]
    row = person(number, initials="A.M.", prefix="de", surname="Vries", street="Zonnelaan",
                 house_number="14", house_number_suffix="B", postcode="9742ab",
                 wijk="Paddepoel", wij_team_contact="yes", last_guidance="2019-05-14",
                 email="a.devries@example.nl", phone="06-12345678")
    env.ok("cohort", "import", str(write_csv(tmp_path / "c.csv", [row])), "--workflow", WORKFLOW)
    [case] = cases(env)
    assert case["wijk"] == "Paddepoel"
    shown = show(env, case["id"])["person"]
    assert shown["name"] == "A.M. de Vries"
    assert shown["postcode"] == "9742 AB"
    assert shown["city"] == "Groningen"
    assert shown["wij_team_contact"] is True
    assert shown["last_guidance"] == "2019-05-14"
    assert shown["email"] == "a.devries@example.nl"
    assert shown["address"].startswith("Zonnelaan 14")


def test_blank_lines_do_not_shift_row_numbers(env: Env, tmp_path: Path) -> None:
    first, bad = bsns(2)
    text = csv_text([person(first)]) + "\n" + csv_text([person(bad, postcode="X")]).split(
        "\n", 1)[1]
    path = tmp_path / "blank.csv"
    path.write_text(text, encoding="utf-8")
    # header = row 1, first person = row 2, blank row 3, bad person = row 4
    code, summary = import_json(env, path)
    assert code == 1
    assert [r["row"] for r in summary["rejects"]] == [4]
    assert summary["imported"] == 1


# --- spreadsheets as they come ----------------------------------------------------------------

@pytest.mark.parametrize("delimiter", [";", ","])
def test_trailing_rows_of_empty_cells_are_ignored_not_rejected(env: Env, tmp_path: Path,
                                                              delimiter: str) -> None:
    first, second = bsns(2)
    empty = delimiter * (len(HEADER) - 1)
    text = (csv_text([person(first), person(second)], delimiter) + empty + "\n" + empty
            + "\n" + delimiter * 3 + "\n" + " " + delimiter + " \n")
    path = tmp_path / "export.csv"
    path.write_text(text, encoding="utf-8")
    code, summary = import_json(env, path)
    assert code == 0, summary
    assert (summary["read"], summary["imported"], summary["rejected"]) == (2, 2, 0)
    result = import_file(env, path)
    assert result.exit_code == 0
    assert "rejected         0" in result.stdout


def test_an_empty_row_between_people_keeps_the_row_numbers(env: Env, tmp_path: Path) -> None:
    first, bad = bsns(2)
    text = csv_text([person(first)], ";") + ";" * (len(HEADER) - 1) + "\n" + csv_text(
        [person(bad, postcode="X")], ";").split("\n", 1)[1]
    path = tmp_path / "gap.csv"
    path.write_text(text, encoding="utf-8")
    code, summary = import_json(env, path)
    assert code == 1
    assert [(r["row"], r["reason"]) for r in summary["rejects"]] == [(4, "malformed postcode")]
    assert summary["imported"] == 1


BAD_CONTACT = {
    "email": ("email", {"email": "not-an-address"}),
    "phone-words": ("phone", {"phone": "call me"}),
    "phone-short": ("phone", {"phone": "12345"}),
    "phone-too-long": ("phone", {"phone": "0" * 31}),
    "email-too-long": ("email", {"email": "a" * 200 + "@example.nl"}),
}


@pytest.mark.parametrize(("column", "change"), BAD_CONTACT.values(), ids=BAD_CONTACT.keys())
def test_a_bad_phone_or_email_is_left_out_with_a_warning_and_the_person_imported(
        env: Env, tmp_path: Path, column: str, change: dict[str, str]) -> None:
    before, warned = bsns(2)
    path = write_csv(tmp_path / "c.csv", [person(before), person(warned, **change)])
    code, summary = import_json(env, path)
    assert code == 0, summary
    assert (summary["imported"], summary["rejected"]) == (2, 0)
    [warning] = summary["warnings"]
    assert (warning["row"], warning["field"]) == (3, column)
    assert warning["detail"].startswith(column)
    assert warning["detail"].endswith("imported without it")
    stored = [show(env, c["id"])["person"] for c in cases(env)]
    kept = [p for p in stored if p[column] is None]
    assert len(kept) == 1
    # the other contact detail of the warned row is kept
    other = "phone" if column == "email" else "email"
    assert kept[0][other] == person(warned)[other]


def test_warnings_name_row_and_field_never_the_bsn(env: Env, tmp_path: Path) -> None:
    good, warned = bsns(2)
    # a phone column holding the BSN by mistake: the warning must not repeat it
    path = write_csv(tmp_path / "c.csv", [person(good), person(warned, phone=warned,
                                                                 email="nope")])
    result = import_file(env, path)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(lines) == 2
    assert lines[0].startswith("row 3: warning: phone ")
    assert lines[1].startswith("row 3: warning: email 'nope' is not an e-mail address")
    assert warned not in result.output
    assert "warnings         2" in result.stdout


def test_case_open_still_refuses_a_bad_phone(env: Env) -> None:
    result = env.run("case", "open", "--workflow", "participatiecoach", "--source", "partner",
                     "--bsn", "111222333", "--surname", "Jansen", "--street", "Dorpsstraat",
                     "--house-number", "1", "--postcode", "9700 AB", "--city", "Groningen",
                     "--wijk", "Beijum", "--phone", "call me")
    assert result.exit_code == 1
    assert "phone 'call me' is not a phone number" in result.output


def test_row_number_counts_rows_not_lines_when_a_cell_holds_a_line_break(
    env: Env, tmp_path: Path
) -> None:
    # Excel writes a cell with Alt+Enter as a quoted field over two lines; it is still one row.
    first, bad = bsns(2)
    path = write_csv(tmp_path / "c.csv", [person(first, street="Kerkstraat\nachterhuis"),
                                          person(bad, postcode="X")])
    code, summary = import_json(env, path)
    assert code == 1
    # A line break is a control character outside notes: that row is refused too.
    assert [(r["row"], r["reason"]) for r in summary["rejects"]] == [
        (2, "control character"), (3, "malformed postcode")]  # row 3 is file line 4


# --- the rejects file ----------------------------------------------------------------------

def test_rejects_file_holds_bad_rows_with_row_reason_and_original_columns(
    env: Env, tmp_path: Path
) -> None:
    rejects = tmp_path / "rejects.csv"
    result = import_file(env, EXAMPLES / "cohort_with_errors.csv", "--rejects", str(rejects))
    assert result.exit_code == 1
    rows = read_rejects(rejects)
    assert rows, "no rejects written"
    assert list(rows[0])[:2] == ["row", "reason"]
    assert list(rows[0])[2:] == list(HEADER)
    assert [int(r["row"]) for r in rows] == sorted(SAMPLE_ERRORS)
    assert all(r["reason"].strip() for r in rows)
    original = list(csv.reader(
        io.StringIO((EXAMPLES / "cohort_with_errors.csv").read_text(encoding="utf-8-sig"),
                    newline=""), delimiter=";"))
    for r in rows:
        assert [r[c] for c in HEADER] == original[int(r["row"]) - 1]
    assert str(rejects) in result.stdout or rejects.name in result.stdout


def test_rejects_file_of_comma_file_can_be_read_back(env: Env, tmp_path: Path) -> None:
    good, bad, dup = bsns(3)
    rows = [person(good), person(bad, last_guidance="yesterday"), person(dup),
            person(dup, surname="Again")]
    path = write_csv(tmp_path / "c.csv", rows)
    rejects = tmp_path / "out" / "rejects.csv"
    rejects.parent.mkdir()
    code, summary = import_json(env, path, "--rejects", str(rejects))
    assert code == 1
    written = read_rejects(rejects)
    assert [(int(r["row"]), r["bsn"], r["surname"]) for r in written] == [
        (3, bad, "Dam"), (5, dup, "Again"),
    ]
    for line, reject in zip(written, summary["rejects"], strict=True):
        assert reject["detail"] in line["reason"] or reject["reason"] in line["reason"]


def test_rejects_file_corrected_and_imported_again_completes_the_cohort(
    env: Env, tmp_path: Path
) -> None:
    good, bad = bsns(2)
    path = write_csv(tmp_path / "c.csv", [person(good), person(bad, postcode="9711-AB")])
    rejects = tmp_path / "rejects.csv"
    assert import_file(env, path, "--rejects", str(rejects)).exit_code == 1
    corrected = [dict(r, postcode="9711 AB") for r in read_rejects(rejects)]
    fixed = write_csv(tmp_path / "fixed.csv",
                      [{c: r[c] for c in HEADER} for r in corrected])
    code, summary = import_json(env, fixed)
    assert code == 0, summary
    assert summary["imported"] == 1
    assert len(cases(env)) == 2


def test_clean_file_with_rejects_option_exits_0(env: Env, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", [person(b) for b in bsns(2)])
    rejects = tmp_path / "rejects.csv"
    result = import_file(env, path, "--rejects", str(rejects))
    assert result.exit_code == 0, result.output
    assert not rejects.exists() or read_rejects(rejects) == []


# --- file-level errors ---------------------------------------------------------------------

def test_missing_required_columns_are_named_and_nothing_is_imported(
    env: Env, tmp_path: Path
) -> None:
    header = [c for c in HEADER if c not in ("postcode", "wijk")]
    numbers = bsns(2)
    path = write_csv(tmp_path / "c.csv", [person(n) for n in numbers], header=header)
    code, output = run_as_user_sees(env, "cohort", "import", str(path), "--workflow", WORKFLOW)
    assert code == 1, output
    assert "Traceback" not in output
    assert "Error:" in output
    missing = re.search(r"misses the column\(s\) ([^;]+);", output)
    assert missing, output
    assert missing.group(1).split(", ") == ["postcode", "wijk"]
    assert_no_bsn(output, numbers)
    assert cases(env) == []


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\n", b"\r\n\r\n"],
                         ids=["zero-bytes", "bom-only", "newline", "blank-lines"])
def test_empty_file_is_a_clear_error(env: Env, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    code, output = run_as_user_sees(env, "cohort", "import", str(path), "--workflow", WORKFLOW)
    assert code == 1, output
    assert "Traceback" not in output
    assert "empty" in output
    assert cases(env) == []


def test_header_only_file_imports_nothing_and_exits_0(env: Env, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "header.csv", [])
    code, summary = import_json(env, path)
    assert code == 0
    assert (summary["read"], summary["imported"], summary["rejected"]) == (0, 0, 0)


def test_nonexistent_file_is_a_clear_error(env: Env, tmp_path: Path) -> None:
    path = tmp_path / "missing.csv"
    code, output = run_as_user_sees(env, "cohort", "import", str(path), "--workflow", WORKFLOW)
    assert code == 1, output
    assert "Traceback" not in output
    assert "missing.csv" in output and "no such file" in output
    assert cases(env) == []


def test_unknown_workflow_lists_known_ids_and_imports_nothing(env: Env, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", [person(b) for b in bsns(2)])
    code, output = run_as_user_sees(env, "cohort", "import", str(path), "--workflow", "nope")
    assert code == 2, output
    assert "Traceback" not in output
    assert "nope" in output
    assert "Known: dienstencentrum, kansen-in-kaart, meedoen-werkt, participatiecoach" in output
    assert cases(env) == []


def test_workflow_option_is_required(env: Env, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", [person(b) for b in bsns(1)])
    result = env.run("cohort", "import", str(path))
    assert result.exit_code == 2
    assert "--workflow" in result.output


# --- what was stored before ----------------------------------------------------------------

def test_participant_in_a_second_file_on_another_row_is_not_duplicated(
    env: Env, tmp_path: Path
) -> None:
    x, y, z = bsns(3)
    env.ok("cohort", "import", str(write_csv(tmp_path / "a.csv", [person(x), person(y)])),
           "--workflow", WORKFLOW)
    second = write_csv(tmp_path / "b.csv", [person(z, surname="Nieuw"),
                                            person(y, street="Andere straat"), ],
                       delimiter=";", bom=True)
    code, summary = import_json(env, second)
    assert code == 0
    assert (summary["imported"], summary["already_present"]) == (1, 1)
    listed = cases(env)
    assert len(listed) == 3
    masked = [show(env, c["id"])["person"]["bsn_masked"] for c in listed]
    assert len(set(masked)) == 3
    assert sorted(c["name"] for c in listed) == ["J. van Dam", "J. van Dam", "J. van Nieuw"]
    assert [e["trigger"] for e in case_of(env, y)["timeline"]] == ["open"]


def test_rejected_row_leaves_what_was_stored_before_untouched(env: Env, tmp_path: Path) -> None:
    x, y = bsns(2)
    env.ok("cohort", "import", str(write_csv(tmp_path / "a.csv", [person(x)])),
           "--workflow", WORKFLOW)
    before = case_of(env, x)
    changed = [
        person(x, surname="Anders", street="Nieuwe Weg", postcode="nope"),
        person(x, surname="Anders", last_guidance="2999-12-31"),
        person(y),
    ]
    code, summary = import_json(env, write_csv(tmp_path / "b.csv", changed))
    assert code == 1
    assert [r["row"] for r in summary["rejects"]] == [2, 3]
    assert summary["imported"] == 1
    after = case_of(env, x)
    assert after["person"] == before["person"]
    assert after["timeline"] == before["timeline"]
    assert (after["state"], after["version"]) == (before["state"], before["version"])
    assert len(cases(env)) == 2


def test_failed_file_level_import_leaves_stored_cases_untouched(env: Env,
                                                                tmp_path: Path) -> None:
    env.ok("cohort", "import", str(EXAMPLES / "cohort.csv"), "--workflow", WORKFLOW)
    header = [c for c in HEADER if c != "bsn"]
    path = write_csv(tmp_path / "c.csv", [person(b) for b in bsns(2)], header=header)
    assert import_file(env, path).exit_code == 1
    assert len(cases(env)) == 200


# --- a BSN never appears in output ---------------------------------------------------------

ALL_KINDS: dict[str, Any] = {
    **{key: change for key, (_, change) in BAD_ROWS.items()},
    "duplicate": "duplicate",
    "wrong-field-count": "short",
    "bad-encoding": "cp1252",
}


def file_with_bad_row(tmp_path: Path, kind: Any, numbers: list[str]) -> Path:
    good, broken, last = numbers
    path = tmp_path / "bad.csv"
    head = csv_text([person(good), person(last)])
    if kind == "duplicate":
        path.write_text(head + csv_text([person(good, surname="Twee")]).split("\n", 1)[1],
                        encoding="utf-8")
    elif kind == "short":
        path.write_text(head + ",".join(list(person(broken).values())[:9]) + "\n",
                        encoding="utf-8")
    elif kind == "cp1252":
        line = ",".join(person(broken, surname="Müller").values()) + "\n"
        path.write_bytes(head.encode("utf-8") + line.encode("cp1252"))
    else:
        path.write_text(head + csv_text([bad_row(broken, kind)]).split("\n", 1)[1],
                        encoding="utf-8")
    return path


@pytest.mark.parametrize("mode", ["text", "json", "rejects"])
@pytest.mark.parametrize("kind", ALL_KINDS.values(), ids=ALL_KINDS.keys())
def test_no_bsn_in_output_for_any_bad_row(env: Env, tmp_path: Path, kind: Any,
                                          mode: str) -> None:
    numbers = bsns(3)
    path = file_with_bad_row(tmp_path, kind, numbers)
    shown = [*numbers, failing_elfproef(numbers[1])]
    if isinstance(kind, dict) and kind.get("bsn") not in (None, "ELF"):
        shown.append(kind["bsn"])
    extra = {"text": (), "json": ("--json",),
             "rejects": ("--rejects", str(tmp_path / "rejects.csv"))}[mode]
    for _ in range(2):  # first import and re-import
        code, output = run_as_user_sees(env, "cohort", "import", str(path),
                                        "--workflow", WORKFLOW, *extra)
        assert code == 1, output
        assert re.search(r'row"?:? 4\b', output), output  # the bad row is reported
        assert_no_bsn(output, shown)


def test_no_bsn_in_error_for_a_file_without_header_row(env: Env, tmp_path: Path) -> None:
    numbers = bsns(3)
    text = csv_text([person(n) for n in numbers]).split("\n", 1)[1]  # header left off
    path = tmp_path / "noheader.csv"
    path.write_text(text, encoding="utf-8")
    code, output = run_as_user_sees(env, "cohort", "import", str(path), "--workflow", WORKFLOW)
    assert code == 1, output
    assert "Traceback" not in output
    assert "header" in output
    assert_no_bsn(output, numbers)
    assert cases(env) == []


def test_no_bsn_in_error_for_unknown_workflow(env: Env, tmp_path: Path) -> None:
    numbers = bsns(2)
    path = write_csv(tmp_path / "c.csv", [person(n) for n in numbers])
    code, output = run_as_user_sees(env, "cohort", "import", str(path), "--workflow", "other")
    assert code == 2
    assert_no_bsn(output, numbers)


def test_value_too_long_for_storage_is_no_crash_and_shows_no_bsn(env: Env,
                                                                 tmp_path: Path) -> None:
    # initials may hold 20 characters; a longer value must not crash the import (PostgreSQL
    # enforces the length) nor print the row's values in a traceback.
    good, long_initials, last = bsns(3)
    rows = [person(good), person(long_initials, initials="J.W.M.A.H.P.G.M.T.C.J.K."),
            person(last)]
    path = write_csv(tmp_path / "c.csv", rows)
    code, output = run_as_user_sees(env, "cohort", "import", str(path), "--workflow", WORKFLOW)
    assert code in (0, 1), output
    assert "Traceback" not in output
    assert_no_bsn(output, [good, long_initials, last])
    listed = cases(env)
    assert len(listed) == 3 or (code == 1 and len(listed) == 2 and "row 3" in output)
