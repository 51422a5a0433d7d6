"""Bulk apply's fast paths store exactly what the plain ones do: a chunk of many lines (folded
effects, converted values reused across lines, rows bound without SQLAlchemy's per-row
handling) leaves the same rows as applying each line on its own."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import Env, Templates, _environment
from helpers import Clock, query, staff, write
from sqlalchemy import event, inspect, select, text

from casework.bulk import apply_file
from casework.bulkwrite import write_many
from casework.effects import _INSERT, _LETTERS, _TASKS
from casework.models import Appointment, Consent, Event
from casework.steps import _INSERT_EVENTS, UPDATE_CASE

AMS = ZoneInfo("Europe/Amsterdam")
# Varied lines: the whole route, rules that block (exclusion: case 2 is in contact with the
# social team; consent: case 4 is referred before sharing was agreed), route refusals, bad
# values, a consent line between steps, moved appointments (letters replaced), no letter for
# who moved away, the same written values on many lines.
CONVERSATION = {"classification": "not_active", "participation_potential": "supported",
                "activity_kinds": "volunteering|activities", "themes.health": "gaat redelijk",
                "consent": "record_report|share:coach_meedoen"}
LINES: list[dict[str, Any]] = [
    {"case": 1, "trigger": "invite", "appointment": "2099-01-05 10:00"},
    {"case": 2, "trigger": "invite", "appointment": "2099-01-05 10:00"},
    {"case": 3, "trigger": "invite", "appointment": "2099-01-05 10:00", "location": "wijkhuis"},
    {"case": 4, "trigger": "invite", "appointment": "2099-01-06 11:00"},
    {"case": 1, "trigger": "hold_conversation", **CONVERSATION, "note": "open gesprek"},
    {"case": 3, "trigger": "reschedule", "appointment": "2099-01-12 10:00"},
    {"case": 4, "trigger": "hold_conversation", "classification": "work_potential",
     "participation_potential": "self", "consent": "record_report"},
    {"case": 1, "trigger": "refer", "partner": "coach_meedoen"},
    {"case": 4, "trigger": "refer", "partner": "coach_meedoen"},
    {"case": 5, "trigger": "invite", "appointment": "not a moment"},
    {"case": 5, "trigger": "invite", "appointment": "2099-01-05 10:00"},
    {"case": 3, "trigger": "not_home"},
    {"case": 4, "consent": "share:coach_meedoen"},
    {"case": 4, "trigger": "refer", "partner": "coach_meedoen", "note": "na toestemming"},
    {"case": 6, "trigger": "hold_conversation", **CONVERSATION},
    {"case": 1, "trigger": "start_activity", "activity": "volunteering"},
    {"case": 5, "trigger": "hold_conversation", **CONVERSATION, "classification": "nonsense"},
    {"case": 5, "trigger": "hold_conversation", **CONVERSATION},
    {"case": 5, "trigger": "self_action"},
    {"case": 3, "trigger": "reschedule", "appointment": "2099-01-19 10:00"},
    {"case": 1, "trigger": "close", "reason": "completed"},
    {"case": 4, "trigger": "close", "reason": "moved"},
    {"case": 3, "trigger": "decline"},
    {"case": 5, "trigger": "start_activity", "activity": "volunteering"},
    {"case": 9, "trigger": "invite", "appointment": "2099-01-05 10:00"},
    {"case": 9, "trigger": "decline"},
]
TABLES = ("cases", "events", "tasks", "letters", "appointments", "referrals", "consents",
          "applied_lines")


@pytest.fixture
def twin(tmp_path: Path, backend: str, templates: Templates) -> Iterator[Env]:
    """A second copy of the sample cohort, to apply the same lines the other way."""
    folder = tmp_path / "twin"
    folder.mkdir()
    yield from _environment("cohort", folder, backend, templates)


def stored(env: Env) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a step writes as the database holds it, without the ids it
    numbers itself."""
    engine = env.engine()
    try:
        with engine.db.connect() as conn:
            return {name: rows_of(conn, name) for name in TABLES}
    finally:
        engine.db.dispose()


def rows_of(conn: Any, name: str) -> list[tuple[Any, ...]]:
    columns = ", ".join(f'"{c["name"]}"' for c in inspect(conn).get_columns(name)
                        if c["name"] != "id")
    return sorted((tuple(row) for row in conn.execute(text(f"SELECT {columns} FROM {name}"))),
                  key=repr)


def apply_with_clock(env: Env, path: Path, moment: datetime) -> Any:
    engine = env.engine(clock=lambda: moment)
    try:
        return apply_file(engine, path, staff(engine, "anna"))
    finally:
        engine.db.dispose()


def test_a_chunk_of_lines_stores_what_each_line_alone_stores(cohort: Env, twin: Env) -> None:
    # One moment for everything (steps, letters, recorded_at): only the way differs.
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    whole = write(cohort, "whole.jsonl", "".join(json.dumps(line) + "\n" for line in LINES))
    summary = apply_with_clock(cohort, whole, moment)
    failed = {number for number, _ in summary.failures}
    assert failed == {2, 9, 10, 15, 17}  # exclusion, consent, value, route, value
    assert summary.applied == len(LINES) - len(failed)

    for number, line in enumerate(LINES, 1):  # each line in its own file: a chunk of one
        one = write(twin, f"line{number}.jsonl", json.dumps(line) + "\n")
        alone = apply_with_clock(twin, one, moment)
        assert (alone.applied == 1) == (number not in failed), alone.failures

    chunk, alone = stored(cohort), stored(twin)
    for name in TABLES:
        assert chunk[name] == alone[name], name


def test_csv_lines_that_do_the_same_are_read_as_json_lines_are(cohort: Env, twin: Env) -> None:
    """A CSV line's step, moment, note and data are read once for the lines that write them
    the same (only the case and id line by line): the file stores and refuses exactly what
    the same lines as JSON store and refuse, each line with its own case, id and reason."""
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    invite = {"trigger": "invite", "appointment": "2099-01-05 10:00"}
    lines = [*LINES,
             {"case": 7, "trigger": "invite", "appointment": "not a moment"},  # remembered
             {"case": 8, "trigger": "invite", "appointment": "not a moment"},  # refusal
             {"case": "x8", **invite},  # a bad case with a step read before
             {"case": 8, **invite, "id": "i" * 201},  # an id too long
             {"case": 8, **invite, "id": "own-8"},
             {"case": 10, **invite, "id": "own-10"},
             {"case": 10, **invite, "id": "own-10"},  # the same id again: already applied
             {"case": 11, **invite, "at": "2020-01-01 09:00"},
             {"case": 11, "trigger": "decline", "at": "2020-01-01 09:00"},
             {"bsn": "", "trigger": "decline"},  # no case named
             {"case": 12, "trigger": "decline"}, {"case": 13, "trigger": "decline"}]
    columns = list(dict.fromkeys(key for line in lines for key in line))
    rows = [",".join(columns)] + [",".join(f'"{line[c]}"' if c in line else "" for c in columns)
                                  for line in lines]
    as_csv = write(cohort, "whole.csv", "\n".join(rows) + "\n")
    as_json = write(twin, "whole.jsonl", "".join(json.dumps(line) + "\n" for line in lines))
    by_csv = apply_with_clock(cohort, as_csv, moment)
    by_json = apply_with_clock(twin, as_json, moment)
    # The CSV file's header is its first line.
    assert [(n - 1, why) for n, why in by_csv.failures] == by_json.failures
    assert len(by_json.failures) == 13, by_json.failures
    assert (by_csv.applied, by_csv.already_applied) == (by_json.applied, 1)
    assert by_csv.by_trigger == by_json.by_trigger
    chunk, alone = stored(cohort), stored(twin)
    for name in TABLES:
        assert chunk[name] == alone[name], name


# --- write_many ------------------------------------------------------------------------------

def _rows() -> dict[str, tuple[Any, list[dict[str, Any]]]]:
    """Rows for the statements a chunk writes: moments in other zones and with microseconds,
    nested and non-ASCII JSON, JSON null, dates, booleans, columns left to their default."""
    at = datetime(2026, 3, 29, 1, 59, 59, 999_999, tzinfo=AMS)
    later = datetime(2026, 3, 29, 3, 0, tzinfo=AMS)
    utc = datetime(2026, 10, 25, 0, 30, 0, 5, tzinfo=UTC)
    event = {"case_id": 1, "seq": 90, "at": at, "recorded_at": utc, "actor": "anna",
             "trigger": "invite", "from_state": "selected", "to_state": "invited",
             "data": {"themes": {"health": "gaat réde\u0301lijk ✓"}, "n": [1, 2.5, None]},
             "note": None, "reason": None}
    task = {"key": "1:90:call:1", "case_id": 1, "kind": "call", "due": date(2026, 4, 1),
            "round": 1, "status": "open", "attempts": 0, "assigned_to": None, "result": None,
            "done_at": None, "performer": "staff", "scope": "state", "role": None,
            "label": "Bellen", "spec": {"outcomes": {}, "letters": {"a": "b"}},
            "origin_seq": 90, "last_error": None, "escalate_to": None, "escalated_at": None,
            "done_by": None, "created_at": at}
    letter = {"case_id": 1, "template": "uitnodiging", "variant": None, "status": "queued",
              "payload": {"appointment": "2099-01-05T09:00:00+00:00", "x": "ü"},
              "partner": None, "origin_seq": 90, "created_at": utc}  # attempts: default
    return {
        "events": (_INSERT_EVENTS, [event, {**event, "seq": 91, "at": later, "data": {},
                                            "note": "regel\ntwee", "reason": "completed"}]),
        "tasks": (_INSERT[_TASKS], [task, {**task, "key": "1:91:call:1", "status": "cancelled",
                                           "done_at": later, "result": {"k": None}}]),
        "letters": (_INSERT[_LETTERS], [letter, {**letter, "payload": None}]),
        "appointments": (_INSERT[Appointment.__table__], [
            {"case_id": 1, "starts_at": later, "location": None, "status": "planned",
             "created_at": utc, "specialist": None}]),
        "consents": (_INSERT[Consent.__table__], [
            {"participant_id": 1, "case_id": 1, "scope": "record_report", "granted": True,
             "method": "conversation", "recorded_by": "anna", "at": at},
            {"participant_id": 1, "case_id": 1, "scope": "share:x", "granted": False,
             "method": "letter", "recorded_by": "anna", "at": utc}]),
        "cases": (UPDATE_CASE, [
            {"b_id": 1, "b_version": 1, "b_state": "invited", "b_data": {"a": [1, "é"]},
             "b_new_version": 2, "b_last": at, "b_entered": later, "b_closed_at": None,
             "b_reason": None}]),
    }


def test_write_many_stores_byte_for_byte_what_sqlalchemy_stores(cohort: Env) -> None:
    engine = cohort.engine()
    try:
        for name, (statement, rows) in _rows().items():
            found = []
            for way in (write_many, lambda conn, stmt, rows: conn.execute(stmt, rows)):
                with engine.db.connect() as conn, conn.begin() as transaction:
                    result = way(conn, statement, rows)
                    if name == "cases":
                        assert result.rowcount == 1
                    found.append(rows_of(conn, name))
                    transaction.rollback()
            assert found[0] == found[1], name
    finally:
        engine.db.dispose()



def test_rows_written_together_are_stored_as_row_by_row(cohort: Env) -> None:
    """write_many(together=True) (a cohort import's people: one multi-row INSERT per slice of
    rows, so the name index's trigger flushes once per statement) stores what SQLAlchemy's
    executemany stores, in the same order (the same ids), also when the rows take several
    statements; the name index finds the people as it finds them row by row."""
    from casework.cohort import _INSERT_PEOPLE

    moment = datetime(2026, 3, 29, 1, 59, 59, 999_999, tzinfo=AMS)
    people = [{"bsn": f"99999{n:04d}", "initials": ["J.P.", None, "É."][n % 3],
               "prefix": [None, "van der", "'t"][n % 3], "surname": f"Qwyxz{n}-Çelik",
               "street": "Kerkstraat", "house_number": n + 1, "house_number_suffix": None,
               "postcode": "9711 AB", "city": "Groningen", "wijk": "Vinkhuizen",
               "phone": None, "email": None, "wij_team_contact": n % 2 == 0,
               "last_guidance": date(2025, 1, n + 1), "birth_date": None,
               "flag": None, "created_at": moment} for n in range(23)]
    statements = {"participants": (_INSERT_PEOPLE, people),
                  **{name: found for name, found in _rows().items() if name != "cases"}}
    engine = cohort.engine()
    try:
        for most in (None, 40):  # SQLite binds 40 values a statement: two people each
            for name, (statement, rows) in statements.items():
                found = []
                for together in (True, False):
                    with engine.db.connect() as conn, conn.begin() as transaction:
                        driver: Any = conn.connection.dbapi_connection
                        sqlite = engine.db.dialect.name == "sqlite"
                        top = conn.execute(text(f"SELECT max(id) FROM {name}")).scalar() or 0
                        before = driver.getlimit(9) if sqlite else None
                        if sqlite and most:
                            driver.setlimit(9, most)  # SQLITE_LIMIT_VARIABLE_NUMBER
                        try:
                            if together:
                                result = write_many(conn, statement, rows, together=True)
                            else:
                                result = conn.execute(statement, rows)
                        finally:
                            if sqlite:
                                driver.setlimit(9, before)
                        if sqlite:  # PostgreSQL's executemany tells no count (-1)
                            assert result.rowcount == len(rows)
                        # The new rows, numbered from the first (PostgreSQL's sequences do not
                        # roll back: the second way's ids come after the first's).
                        new = conn.execute(text(
                            f"SELECT * FROM {name} WHERE id > {top} ORDER BY id")).all()
                        stored = [(row[0] - new[0][0], *row[1:]) for row in new]
                        if name == "participants":
                            stored += cohort_names(conn)
                        found.append(stored)
                        transaction.rollback()
                assert found[0] == found[1], name
    finally:
        engine.db.dispose()


def cohort_names(conn: Any) -> list[tuple[Any, ...]]:
    """Who a name search through the trigram index finds for a few words (SQLite)."""
    if conn.dialect.name != "sqlite":
        return []
    return [(word, *conn.execute(text(
        "SELECT rowid FROM participant_names WHERE participant_names MATCH :w ORDER BY rowid"),
        {"w": f'"{word}"'}).scalars()) for word in ("qwyxz1", "çelik", "van der", "j.p", "'t")]


def test_statements_on_the_drivers_cursor_read_and_refuse_as_sqlalchemy_does(
        cohort: Env) -> None:
    """casework.direct (one advance's case load and log append) reads the same values as
    SQLAlchemy, and a row the database refuses raises SQLAlchemy's error, values hidden."""
    from sqlalchemy import exc

    from casework.direct import first
    from casework.engine import _LOAD_CASE

    engine = cohort.engine()
    try:
        anna = staff(engine, "anna")
        engine.advance(1, "invite", anna, {"appointment": "2099-01-05 10:00"})
        with engine.db.connect() as conn:
            for case_id in (1, 3, 10_000):
                direct = first(conn, _LOAD_CASE, {"b_id": case_id})
                plain = conn.execute(_LOAD_CASE, {"b_id": case_id}).first()
                assert direct == (None if plain is None else tuple(plain))
            assert first(conn, _LOAD_CASE, {"b_id": 1})[6].tzinfo is not None
        event = dict(_rows()["events"][1][0], case_id=1, seq=2)  # case 1's invite: taken
        with (engine.db.connect() as conn, conn.begin(),
              pytest.raises(exc.IntegrityError) as refused):
            write_many(conn, _INSERT_EVENTS, [event])
        assert "anna" not in str(refused.value) and "gaat" not in str(refused.value)
    finally:
        engine.db.dispose()


def test_after_a_large_apply_the_planner_reads_a_cases_letters_by_the_case(
        cohort: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without statistics SQLite's planner took the index on the status for "these cases'
    letters (tasks) not yet sent (done)": every close or move read all unsent letters of the
    municipality, a cost that grew with everything stored (7 of 60 s of a 100,000-case
    apply). A large apply refreshes the statistics; then the case's index is taken."""
    import casework.bulk

    monkeypatch.setattr(casework.bulk, "ANALYZE_AFTER", 20)
    rows = "".join(f"{case},invite,2099-01-05 10:00\n" for case in range(1, 41))
    path = write(cohort, "invite.csv", "case,trigger,appointment\n" + rows)
    summary = apply_with_clock(cohort, path, datetime.now(UTC))
    assert summary.applied >= 20, summary.failures
    if cohort.database_url.startswith("postgresql"):
        return  # PostgreSQL keeps statistics itself; the refresh ran without a problem
    some = "3, 5, 8, 13, 21"  # a person's cases, a close's list: few beside the table
    engine = cohort.engine()
    try:
        with engine.db.connect() as conn:
            for statement, index in (
                (f"UPDATE letters SET status = 'cancelled' WHERE case_id IN ({some}) "
                 "AND status IN ('queued', 'held', 'rendered', 'in_batch')", "ix_letters_case_id"),
                (f"UPDATE tasks SET status = 'cancelled' WHERE case_id IN ({some}) "
                 "AND status = 'open'", "ix_tasks_case_id"),
            ):
                plan = " ".join(row[-1] for row in conn.exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + statement))
                assert index in plan, plan
    finally:
        engine.db.dispose()


# SQLite's own counters are read through CPython's sqlite3 connection object (ctypes).
COUNTERS_READABLE = (sys.implementation.name == "cpython"
                     and (3, 11) <= sys.version_info < (3, 14))


def _statement_counts(dbapi_connection: Any, path: str) -> dict[str, tuple[int, int]]:
    """Return SQLite's own counters of the statements a connection holds prepared: SQL ->
    (times prepared again, times run)."""
    import ctypes
    import sqlite3

    module = sys.modules[sqlite3.Connection.__module__.replace("sqlite3", "_sqlite3")]
    lib = ctypes.CDLL(module.__file__)  # the SQLite library this sqlite3 module uses
    lib.sqlite3_db_filename.restype = ctypes.c_char_p
    lib.sqlite3_db_filename.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.sqlite3_next_stmt.restype = ctypes.c_void_p
    lib.sqlite3_next_stmt.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.sqlite3_sql.restype = ctypes.c_char_p
    lib.sqlite3_sql.argtypes = [ctypes.c_void_p]
    lib.sqlite3_stmt_status.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    # CPython's connection object holds SQLite's handle right after the object header.
    db = ctypes.c_void_p.from_address(id(dbapi_connection) + object.__basicsize__).value
    assert db and (lib.sqlite3_db_filename(db, b"main") or b"").decode() == path
    counts: dict[str, tuple[int, int]] = {}
    statement = lib.sqlite3_next_stmt(db, None)
    while statement:
        sql = (lib.sqlite3_sql(statement) or b"").decode()
        counts[sql] = (lib.sqlite3_stmt_status(statement, 5, 0),  # SQLITE_STMTSTATUS_REPREPARE
                       lib.sqlite3_stmt_status(statement, 6, 0))  # SQLITE_STMTSTATUS_RUN
        statement = lib.sqlite3_next_stmt(db, statement)
    return counts


def test_a_bulk_apply_moves_appointments_and_prepares_each_statement_once(
        cohort: Env) -> None:
    """Moving many appointments in one apply marks each earlier one moved. On SQLite that
    statement was prepared again at each run (the bound status decided whether the partial
    index ix_appointments_specialist_booked may be used): 75,000 instructions for every
    moved appointment, until the status was written into the SQL. SQLite's own counters show
    no statement of an apply prepared again per run."""
    invite = write(cohort, "invite.csv", "case,trigger,appointment\n" + "".join(
        f"{case},invite,2099-01-05 10:00\n" for case in range(1, 31)))
    engine = cohort.engine(clock=lambda: datetime.now(UTC))
    connections: list[Any] = []  # the driver's connections the apply used
    event.listen(engine.db, "checkout", lambda dbapi, *_: connections.append(dbapi))
    sqlite = cohort.database_url.startswith("sqlite")
    try:
        actor = staff(engine, "anna")
        summary = apply_file(engine, invite, actor)
        excluded = {number - 1 for number, _ in summary.failures}  # line 2 is case 1's
        cases = [case for case in range(1, 31) if case not in excluded]
        assert len(cases) >= 20, summary.failures
        move = write(cohort, "move.csv", "case,trigger,appointment\n" + "".join(
            f"{case},reschedule,2099-01-12 10:00\n" for case in cases))
        # The second file moves the appointments the first stored.
        assert apply_file(engine, move, actor).applied == len(cases)
        path = cohort.database_url.removeprefix("sqlite:///")
        found = ([_statement_counts(dbapi, path) for dbapi in set(connections)]
                 if sqlite and COUNTERS_READABLE else [])
    finally:
        engine.db.dispose()
    rows = query(cohort, select(Appointment.case_id, Appointment.status)
                 .where(Appointment.case_id.in_(cases)))
    assert sorted(rows) == sorted([(case, "moved") for case in cases]
                                  + [(case, "planned") for case in cases])
    if not found:  # PostgreSQL, or a Python whose connection object this cannot read
        return
    counts = {sql: count for each in found for sql, count in each.items()}
    marks = [run for sql, (_, run) in counts.items() if sql.startswith("UPDATE appointments")]
    assert marks and max(marks) >= len(cases), counts  # the statements of the apply
    again = {sql[:80]: prepared for sql, (prepared, _) in counts.items() if prepared > 2}
    assert not again, again


def test_the_lines_of_a_chunk_happen_at_its_moment_and_in_their_order(cohort: Env) -> None:
    """A chunk's lines that give no moment are written in one transaction and happen at its
    moment (one moment: a bulk apply's steps no longer each ask the clock); a step after a
    consent line of the same case, which the clock dated later, happens at the consent's
    moment: a case's timeline never goes back."""
    clock = Clock(datetime.now(UTC), step=timedelta(seconds=1))  # after the import
    lines = [{"case": 1, "trigger": "invite", "appointment": "2099-01-05 10:00"},
             {"case": 3, "trigger": "invite", "appointment": "2099-01-05 10:00"},
             {"case": 1, "consent": "record_report|share:coach_meedoen"},
             {"case": 1, "trigger": "hold_conversation", **CONVERSATION},
             {"case": 3, "trigger": "not_home"}]
    path = write(cohort, "mixed.jsonl", "".join(json.dumps(line) + "\n" for line in lines))
    engine = cohort.engine(clock=clock)
    try:
        summary = apply_file(engine, path, staff(engine, "anna"))
    finally:
        engine.db.dispose()
    assert summary.applied == len(lines), summary.failures
    events = query(cohort, select(Event.case_id, Event.seq, Event.trigger, Event.at)
                   .where(Event.case_id.in_([1, 3]), Event.seq > 1)
                   .order_by(Event.case_id, Event.seq))
    at = {(row.case_id, row.trigger): row.at for row in events}
    assert at[(1, "invite")] == at[(3, "invite")] == at[(3, "not_home")]  # the chunk's
    assert at[(1, "hold_conversation")] == at[(1, "consent_granted")] > at[(1, "invite")]
    for case in (1, 3):
        moments = [row.at for row in events if row.case_id == case]
        assert moments == sorted(moments), (case, moments)


def test_is_in_finds_what_an_in_list_finds_with_one_parameter(cohort: Env) -> None:
    """A chunk's hundreds of ids go to SQLite as one JSON parameter (json_each), not one
    parameter each: the same rows, numbers and texts alike."""
    from casework.db import is_in
    from casework.models import Case, Participant

    engine = cohort.engine()
    try:
        with engine.db.connect() as conn:
            ids = [*range(1, 3000, 7), 10**9]
            statement = select(Case.id).where(is_in(conn, Case.id, ids))
            found = [row.id for row in conn.execute(statement.order_by(Case.id))]
            assert found == [row.id for row in conn.execute(
                select(Case.id).where(Case.id.in_(ids)).order_by(Case.id))]
            assert found
            if conn.dialect.name == "sqlite":
                assert "json_each(?)" in str(statement.compile(conn))
            bsns = [row.bsn for row in conn.execute(select(Participant.bsn).limit(5))]
            assert sorted(row.bsn for row in conn.execute(select(Participant.bsn).where(
                is_in(conn, Participant.bsn, [*bsns, "000000000"])))) == sorted(bsns)
    finally:
        engine.db.dispose()


def test_is_in_binds_value_by_value_where_sqlite_has_no_json_functions(
        cohort: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    import casework.db
    from casework.models import Case

    monkeypatch.setattr(casework.db, "_JSON_EACH", False)
    engine = cohort.engine()
    try:
        with engine.db.connect() as conn:
            statement = select(Case.id).where(casework.db.is_in(conn, Case.id, [1, 2, 3]))
            assert "json_each" not in str(statement.compile(conn))
            assert [row.id for row in conn.execute(statement.order_by(Case.id))] == [1, 2, 3]
    finally:
        engine.db.dispose()
