"""Hostile input as properties: whatever a cohort row, an apply line, a --set value or an
option holds, a command ends with exit 0, 1 or 2 and at most a clear message, never a
traceback; what was stored before is unchanged (the history only grows); no BSN is echoed.

Bounded examples keep the suite fast; the same properties run on PostgreSQL when configured.
"""

from __future__ import annotations

import csv
import hashlib
import json
from typing import Any

import pytest
from conftest import EXAMPLES, Env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from casework.models import Case, Event, Participant

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

with (EXAMPLES / "cohort.csv").open(encoding="utf-8") as _fh:
    COHORT_BSNS = [row["bsn"] for row in csv.DictReader(_fh)]

# Payloads from the hostile test: markup, terminal escapes, formulas, other digits, huge and
# out-of-range numbers and dates, path tricks, NUL and lone surrogates.
PAYLOADS = [
    "[/]", "[link=https://evil.example]klik[/link]", "\x1b[2J\x1b[31mrood", "=cmd|' /C calc'!A0",
    "=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(1+1)", "\t=1+1",
    "\r=1+1", "\x00", "a\x00b", "\x85", "\u2028", "٧٦٤١٣٢٥٢٠", "¹²³⁴⁵⁶⁷⁸⁹", "７６４１３２５２０",
    "9" * 40, "-1", "0", "1e308", "NaN", "Infinity", "-Infinity", "0001-01-01", "9999-12-31",
    "2026-02-30", "0001-01-01 00:00", "9999-12-31 23:59", "../../etc/passwd", "/dev/null",
    "x" * 5000, "", " ", "\ud800", "😀", "𝕏", "#set page(width: 1pt)", "$x$", "<script>",
    "{{ 7*7 }}", "%s%s%s", "'; DROP TABLE cases; --",
]
TEXT = st.one_of(st.sampled_from(PAYLOADS),
                 st.text(st.characters(codec=None, exclude_categories=()), max_size=30),
                 st.integers(-(2 ** 70), 2 ** 70).map(str))
JSON_VALUE = st.recursive(
    st.one_of(TEXT, st.integers(-(2 ** 70), 2 ** 70), st.floats(), st.booleans(), st.none()),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=6)
COLUMNS = ["bsn", "initials", "prefix", "surname", "street", "house_number",
           "house_number_suffix", "postcode", "city", "wijk", "phone", "email",
           "wij_team_contact", "last_guidance", "birth_date", "flag"]
VALID = {"bsn": "111222333", "initials": "P.", "prefix": "", "surname": "Jansen",
         "street": "Hoofdweg", "house_number": "12", "house_number_suffix": "",
         "postcode": "9711 AB", "city": "Groningen", "wijk": "Beijum", "phone": "",
         "email": "", "wij_team_contact": "no", "last_guidance": "", "birth_date": "",
         "flag": ""}
TRIGGERS = ["invite", "reschedule", "not_home", "hold_conversation", "refer", "self_action",
            "start_activity", "follow_up", "record_outflow", "decline", "close", "assign",
            "nonsense"]
FIELDS = ["appointment", "location", "classification", "participation_potential",
          "activity_kinds", "themes.health", "consent", "partner", "activity", "outflow_date",
          "fte", "reason", "note", "at"]


def snapshot(env: Env) -> dict[str, Any]:
    """A fingerprint of everything stored about people, cases and their history."""
    engine = env.engine()
    try:
        with engine.db.connect() as conn:
            tables = {}
            for name, model in (("people", Participant), ("cases", Case), ("events", Event)):
                rows = conn.execute(select(model.__table__).order_by(model.__table__.c.id))
                tables[name] = {row.id: hashlib.sha256(
                    repr(tuple(row)).encode("utf-8", "backslashreplace")).hexdigest()
                    for row in rows}
            return tables
    finally:
        engine.db.dispose()


def kept(before: dict[str, Any], after: dict[str, Any], grows: tuple[str, ...] = ()) -> None:
    """Everything stored before is still there unchanged (except in the tables named, whose
    rows may change: cases move); the history only grows."""
    for table, rows in before.items():
        for row_id, digest in rows.items():
            assert row_id in after[table], f"{table} row {row_id} was lost"
            if table not in grows:
                assert after[table][row_id] == digest, f"{table} row {row_id} was changed"


def clean(result: Any, extra_secrets: list[str] = ()) -> None:
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output
    output = result.output
    for bsn in [*COHORT_BSNS, *extra_secrets]:
        if len(bsn) >= 8:
            assert bsn not in output, "a BSN was echoed"


@pytest.mark.long
@SETTINGS
@given(rows=st.lists(st.dictionaries(st.sampled_from(COLUMNS), TEXT, max_size=4),
                     min_size=1, max_size=3))
def test_any_cohort_row_is_imported_or_rejected_by_row(cohort: Env, rows: list[dict[str, str]],
                                                        tmp_path_factory: Any) -> None:
    before = snapshot(cohort)
    path = tmp_path_factory.mktemp("rows") / "cohort.csv"
    with path.open("w", encoding="utf-8", errors="surrogatepass", newline="") as fh:
        writer = csv.DictWriter(fh, COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({**VALID, **row})
    secrets = [row.get("bsn", "") for row in rows]
    result = cohort.run("cohort", "import", str(path), "--workflow", "kansen-in-kaart")
    clean(result, secrets)
    kept(before, snapshot(cohort), grows=("cases",))


@pytest.mark.long
@SETTINGS
@given(lines=st.lists(st.fixed_dictionaries(
    {"case": st.one_of(st.integers(-5, 210), st.integers(-(2 ** 80), 2 ** 80), TEXT),
     "trigger": st.one_of(st.sampled_from(TRIGGERS), TEXT)},
    optional={**{field: JSON_VALUE for field in FIELDS},
              "bsn": st.one_of(st.sampled_from(PAYLOADS[14:18]), TEXT),
              "workflow": st.sampled_from(["kansen-in-kaart", "../x", ""]),
              "data": JSON_VALUE}), min_size=1, max_size=4))
def test_any_apply_line_is_applied_or_fails_alone(cohort: Env, lines: list[dict[str, Any]],
                                                  tmp_path_factory: Any) -> None:
    before = snapshot(cohort)
    path = tmp_path_factory.mktemp("apply") / "steps.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    result = cohort.run("case", "apply", str(path))
    clean(result)
    assert result.exit_code in (0, 1)
    after = snapshot(cohort)
    kept(before, after, grows=("cases",))
    engine = cohort.engine()
    try:  # every case is in the state of its last event
        with engine.db.connect() as conn:
            last = {}
            for case_id, to_state in conn.execute(
                    select(Event.case_id, Event.to_state).order_by(Event.case_id, Event.seq)):
                last[case_id] = to_state
            for case_id, state in conn.execute(select(Case.id, Case.state)):
                assert last[case_id] == state, f"case {case_id} is not in its last state"
    finally:
        engine.db.dispose()


@pytest.mark.long
@SETTINGS
@given(trigger=st.sampled_from(TRIGGERS),
       sets=st.lists(st.tuples(st.sampled_from(FIELDS[:-2]), TEXT), max_size=3),
       at=st.one_of(st.none(), TEXT), note=st.one_of(st.none(), TEXT),
       case=st.one_of(st.sampled_from(["1", "2", "3"]), TEXT))
def test_any_set_value_is_taken_or_refused_without_a_trace(
        cohort: Env, trigger: str, sets: list[tuple[str, str]], at: str | None,
        note: str | None, case: str) -> None:
    args = ["case", "advance", case, trigger]
    for key, value in sets:
        args += ["--set", f"{key}={value}"]
    if at is not None:
        args += ["--at", at]
    if note is not None:
        args += ["--note", note]
    before = snapshot(cohort)
    result = cohort.run(*args)
    clean(result)
    after = snapshot(cohort)
    if result.exit_code != 0:
        assert after == before, "a refused step changed what was stored"
    else:
        kept(before, after, grows=("cases",))


OPTIONS = [
    ("case", "list", "--limit", "{}"), ("case", "list", "--state", "{}"),
    ("case", "show", "{}"), ("case", "triggers", "{}"), ("task", "list", "--due", "{}"),
    ("task", "done", "{}", "--outcome", "reached"), ("report", "outcomes", "--as-of", "{}"),
    ("audit", "--case", "{}"), ("audit", "--bsn", "{}"), ("audit", "--staff", "anna",
                                                          "--since", "{}"),
    ("budget", "spend", "1", "{}", "--purpose", "x"), ("daily", "--date", "{}", "--dry-run"),
    ("letters", "list", "--case", "{}"), ("consent", "list", "{}"),
    ("case", "open", "--workflow", "kansen-in-kaart", "--bsn", "{}"),
    ("cohort", "plan", "--workflow", "kansen-in-kaart", "--wijk", "Beijum", "--size", "{}",
     "--from", "2099-01-05", "--specialists", "1", "--dry-run"),
]


@pytest.mark.long
@SETTINGS
@given(template=st.sampled_from(OPTIONS), value=TEXT)
def test_any_option_value_gets_a_clear_answer(cohort: Env, template: tuple[str, ...],
                                              value: str) -> None:
    before = snapshot(cohort)
    result = cohort.run(*[part.replace("{}", value) for part in template])
    clean(result, [value] if value.isdigit() else [])
    kept(before, snapshot(cohort), grows=("cases",))

