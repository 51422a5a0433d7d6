"""Bulk apply: many advances from a CSV or JSON-lines file, each line checked like one advance.

Lines are applied in chunks, one transaction per chunk; a failing line is reported by line
number and the other lines still apply. When another process changed a case while a chunk was
being prepared, or the database refused something in it, that chunk is redone line by line so
only the offending lines fail.

Each line has an identity: its `id`, else a hash of what it does and which occurrence of that
line in the file it is. Applied identities are stored with the step, in the same transaction,
so applying a file again (or rerunning it after a kill) skips the lines already applied.

A line without a trigger records a consent (``consent``) or a task's outcome (``task_kind``
and ``task_outcome``) through the same core as ``consent grant`` and ``task done``, so a whole
history can be loaded from one file with one row per happening.
"""

from __future__ import annotations

import csv
import gc
import hashlib
import itertools
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from casework.bulkwrite import write_many
from casework.cohort import RowError, normalise_bsn
from casework.db import ANALYZE_AFTER, checkpoints_aside, is_in, refresh_statistics, unit_of_work
from casework.effects import BookAppointment
from casework.engine import CaseSnapshot, Engine, Step
from casework.errors import CaseworkError, ConflictError, InputFileError, InvalidData, no_case
from casework.fields import DATE_RANGE, MOMENT_FORMS, parse_datetime
from casework.models import AppliedLine, Case, Participant
from casework.permissions import Actor
from casework.rules import RuleContext
from casework.steps import StepWriter
from casework.text import shown
from casework.workflow import Route

CHUNK = 2000
_SET_WAVE = (
    update(Case.__table__).where(Case.__table__.c.id == bindparam("b_id"))
    .values(wave=bindparam("b_wave"))
)
_INSERT_APPLIED = insert(AppliedLine.__table__)
_BAD_BYTES = re.compile("[\udc80-\udcff]")
_META = {"case", "case_id", "id", "bsn", "workflow", "trigger", "at", "note", "data",
         "consent_how", "task_kind", "task_outcome", "consent_withdrawn"}
STEP, CONSENT, WITHDRAWAL, TASK = "step", "consent", "withdrawal", "task"
CONSENT_FIELD = "consent"
WITHDRAWN_FIELD = "consent_withdrawn"
MAX_CASE_ID = 2**31 - 1  # cases.id is a 32-bit integer on PostgreSQL
MAX_NUMBER = 2**53  # beyond this a number in the data is no longer exact in JSON
MAX_DEPTH = 8  # a line's record, its data and a field's parts need 3
MAX_ID = 200
_UNSTORABLE = "could not be {} ({}); check the values in this line"
# The columns that say which case a line is about (and its own id): read for every line.
_REFS = frozenset({"case", "case_id", "id", "bsn", "workflow"})
SAME_LINES = 4096  # what distinct CSV lines do, remembered (_same_line)


@dataclass(slots=True)
class Line:
    number: int
    case_id: int | None
    bsn: str | None
    workflow: str | None
    trigger: str  # for a consent or task line: what the summary counts it as
    at: datetime | None
    data: dict[str, Any]
    note: str | None
    wave: int | None = None
    # STEP, CONSENT or WITHDRAWAL (data: the scopes; how) or TASK (task_kind, outcome)
    kind: str = STEP
    how: str | None = None
    task_kind: str | None = None
    task_outcome: str | None = None
    line_id: str | None = None  # the file's `id` for this line
    specialist: str | None = None  # who holds the appointment the line proposes (waves)
    # Which occurrence of this same line in the file it is; with line_id None and occurrence
    # None the line has no identity and is not remembered (waves planned by the engine).
    occurrence: int | None = None
    content: str = ""  # what the line does, without the case reference, as text


@dataclass
class ApplySummary:
    file: str
    dry_run: bool
    history: bool = False
    read: int = 0
    applied: int = 0
    already_applied: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)
    by_trigger: Counter[str] = field(default_factory=Counter)
    # Letters the lines cancelled that sit in a batch not yet sent: to be pulled from it.
    to_pull: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.failures)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file, "dry_run": self.dry_run, "history": self.history,
            "read": self.read,
            "applied": self.applied, "already_applied": self.already_applied,
            "failed": self.failed,
            "failures": [{"line": n, "reason": r} for n, r in self.failures],
            "by_trigger": dict(self.by_trigger.most_common()),
            "to_pull": self.to_pull,
        }


class LineError(ValueError):
    pass


def _data_from_flat(values: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in values.items():
        if value is None or value == "":
            continue
        if "." in key:
            head, sub = key.split(".", 1)
            data.setdefault(head, {})
            if not isinstance(data[head], dict):
                raise LineError(f"field '{head}' given both as a whole and per part")
            data[head][sub] = value
        else:
            data[key] = value
    return data


def _parse_case_ref(value: Any) -> int | None:
    if type(value) is str:  # nearly always (every CSV line): a number written as text
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= 10 and int(text) <= MAX_CASE_ID:
            return int(text)
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > MAX_CASE_ID:
        raise LineError(f"the case number is too large (at most {MAX_CASE_ID})")
    text = str(value).strip() if isinstance(value, str | int) else ""
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()):
        raise LineError(f"case {shown(value)} is not a case number")
    if len(text) > 10 or int(text) > MAX_CASE_ID:
        raise LineError(f"the case number is too large (at most {MAX_CASE_ID})")
    return int(text)


def _text(record: dict[str, Any], key: str) -> str | None:
    """Return the field as stripped text (None when empty); numbers count as text."""
    value = record.get(key)
    if value is None:
        return None
    if type(value) is str:  # nearly always: skip the checks below
        return value.strip() or None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise LineError(f"'{key}' must be text, not {type(value).__name__}")
    return str(value).strip() or None


def _check_values(record: dict[str, Any]) -> None:
    """Refuse what no step can store: text that is not Unicode, non-finite or huge numbers,
    and nesting deeper than a route's fields go."""
    stack: list[tuple[Any, int]] = [(record, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise LineError(f"is nested more than {MAX_DEPTH} levels deep")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    _check_text(key)
                stack.append((item, depth + 1))
        elif isinstance(value, str):
            _check_text(value)
        elif isinstance(value, float) and not math.isfinite(value):
            raise LineError("has a number that is not finite (NaN or Infinity)")
        elif isinstance(value, int) and not -MAX_NUMBER < value < MAX_NUMBER:
            raise LineError(f"has a number too large to store (beyond {MAX_NUMBER})")


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise LineError(
            "contains text that is not valid Unicode (a lone surrogate such as \\ud800); "
            "correct the escape or save the file as UTF-8"
        ) from None


def _make_line(number: int, record: dict[str, Any], engine: Engine) -> Line:
    given = _META.intersection(record)  # the others are None: not asked one by one
    trigger = _text(record, "trigger") if "trigger" in given else None
    task_kind = _text(record, "task_kind") if "task_kind" in given else None
    task_outcome = _text(record, "task_outcome") if "task_outcome" in given else None
    how = _text(record, "consent_how") if "consent_how" in given else None
    withdrawn = record.get(WITHDRAWN_FIELD) if WITHDRAWN_FIELD in given else None
    line_id, case_id, bsn, workflow = _refs(record, given)
    at = at_utc = None
    written = _text(record, "at") if "at" in given else None
    if written:
        try:
            at = parse_datetime(written, engine.tz)
            at_utc = at.astimezone(UTC)
        except (ValueError, OverflowError):
            raise LineError(
                f"'at' {shown(written)} is not a date and time {DATE_RANGE} (use "
                f"{MOMENT_FORMS})"
            ) from None
    data = record.get("data") or {}
    if not isinstance(data, dict):
        raise LineError("'data' must be an object of field names and values")
    flat = {k: v for k, v in record.items() if k not in _META}
    data = _data_from_flat({**flat, **data})
    note = _text(record, "note") if "note" in given else None
    when = at_utc.isoformat() if at_utc else None
    if withdrawn not in (None, "", []) and (trigger or task_kind or task_outcome
                                             or CONSENT_FIELD in data):
        raise LineError("a line records one happening: 'consent_withdrawn' goes on a line "
                        "of its own (no trigger, consent or task outcome)")
    if trigger:
        if task_kind or task_outcome:
            raise LineError("a line records one happening: a 'trigger', or a 'task_outcome' "
                            "with 'task_kind', not both")
        if how:
            raise LineError("'consent_how' is for a line that records only a consent (no "
                            "trigger); a step's 'consent' is given in conversation")
        # repr, not json.dumps: three times faster, and as exact (values are JSON types)
        content = repr((trigger, when, sorted(data.items()), note))
        return Line(number, case_id, bsn, workflow, trigger, at, data, note,
                    line_id=line_id, content=content)
    if task_kind or task_outcome:
        if not (task_kind and task_outcome):
            raise LineError("a task outcome needs both 'task_kind' (e.g. follow_up_call) and "
                            "'task_outcome' (reached, not_reached, wrong_number or done)")
        if how:
            raise LineError("'consent_how' is for a line that records only a consent")
        content = repr((TASK, task_kind, task_outcome, when, sorted(data.items()), note))
        return Line(number, case_id, bsn, workflow, f"{task_kind} {task_outcome}", at, data,
                    note, line_id=line_id, content=content, kind=TASK, task_kind=task_kind,
                    task_outcome=task_outcome)
    if CONSENT_FIELD in data or withdrawn not in (None, "", []):
        key, kind, counted = ((CONSENT_FIELD, CONSENT, "consent_granted")
                              if CONSENT_FIELD in data
                              else (WITHDRAWN_FIELD, WITHDRAWAL, "consent_withdrawn"))
        other = sorted(set(data) - {CONSENT_FIELD})
        if other:
            raise LineError(f"a consent line (no trigger) takes no field {shown(other[0])}; "
                            "give it its own line with a trigger")
        scopes = _scopes(data[CONSENT_FIELD] if kind == CONSENT else withdrawn, key)
        how = how or "conversation"
        content = repr((kind, how, when, scopes, note))
        return Line(number, case_id, bsn, workflow, counted, at, {CONSENT_FIELD: scopes},
                    note, line_id=line_id, content=content, kind=kind, how=how)
    raise LineError("no trigger given (or a 'consent' or 'consent_withdrawn', or a "
                    "'task_outcome' with 'task_kind')")


NAME_THE_CASE = "name the case: give 'case' (the case number) or 'bsn' and 'workflow'"


def _refs(record: dict[str, Any], given: set[str]
          ) -> tuple[str | None, int | None, str | None, str | None]:
    """Return the line's own id and which case it names: (id, case number, BSN, workflow)."""
    line_id = _text(record, "id") if "id" in given else None
    if line_id is not None and len(line_id) > MAX_ID:
        raise LineError(f"'id' is longer than {MAX_ID} characters")
    case_id = _parse_case_ref(record.get("case") or record.get("case_id"))
    bsn = None
    written_bsn = _text(record, "bsn") if "bsn" in given else None
    if written_bsn:
        try:  # the one BSN parser (8 digits: the leading zero a spreadsheet dropped)
            bsn = normalise_bsn(written_bsn)
        except RowError as exc:
            raise LineError(f"bsn: {exc.detail}") from None
    workflow = _text(record, "workflow") if "workflow" in given else None
    if case_id is None and not (bsn and workflow):
        raise LineError(NAME_THE_CASE)
    return line_id, case_id, bsn, workflow


def _scopes(value: Any, key: str) -> list[str]:
    """Return the consent scopes a line names (one, or several as a|b or a list)."""
    scopes = value
    if isinstance(scopes, str):
        scopes = [item.strip() for item in re.split(r"[,|]", scopes) if item.strip()]
    if (not isinstance(scopes, list) or not scopes
            or not all(isinstance(x, str) for x in scopes)):
        raise LineError(f"{key!r} must be scopes such as record_report|share:wij_team")
    return scopes


def read_lines(path: Path, engine: Engine) -> Iterator[tuple[int, Line | str]]:
    """Yield (line number, Line or the reason the line cannot be read), streaming the file."""
    try:
        fh = path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="")
    except OSError as exc:
        raise InputFileError(f"{path}: cannot be read ({exc.strerror})") from None
    with fh:
        head = fh.readline()
        if path.suffix.lower() in (".jsonl", ".ndjson", ".json") or head.lstrip()[:1] == "{":
            items = _json_lines(itertools.chain([head], fh), engine)
        else:
            items = _csv_lines(path, head, fh, engine)
        yield from _number_occurrences(items)


def _number_occurrences(items: Iterable[tuple[int, Line | str]]
                        ) -> Iterator[tuple[int, Line | str]]:
    """Give each line without an `id` its occurrence: 2 for the second identical line, etc.

    Only an 8-byte digest of each distinct line is kept in memory: one that is the same in
    every run (Python's own hash of a text is not), so a file applied again is numbered as
    it was the first time."""
    seen: set[bytes] = set()
    more: Counter[bytes] = Counter()
    for number, item in items:
        if type(item) is Line and item.line_id is None:
            ref = f"case:{item.case_id}" if item.case_id is not None else (
                f"bsn:{item.bsn}:{item.workflow}")
            digest = hashlib.blake2b(f"{ref}\0{item.content}".encode(), digest_size=8).digest()
            if digest in seen:
                more[digest] += 1
                item.occurrence = more[digest] + 1
            else:
                seen.add(digest)
                item.occurrence = 1
        yield number, item


def _json_lines(lines: Iterable[str], engine: Engine) -> Iterator[tuple[int, Line | str]]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if _BAD_BYTES.search(line):
            yield number, "contains characters that are not UTF-8; save the file as UTF-8"
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise LineError("each line must be a JSON object")
            _check_values(record)
            yield number, _make_line(number, record, engine)
        except json.JSONDecodeError as exc:
            yield number, f"not valid JSON ({exc.msg} at column {exc.colno})"
        except RecursionError:
            yield number, f"is nested too deeply (at most {MAX_DEPTH} levels)"
        except LineError as exc:
            yield number, str(exc)
        except ValueError:  # e.g. an integer of more than 4300 digits
            yield number, "not valid JSON (a number has too many digits)"
        except Exception as exc:  # no line may stop the others
            yield number, _UNSTORABLE.format("read", type(exc).__name__)


def _csv_lines(path: Path, head: str, rest: Iterable[str],
               engine: Engine) -> Iterator[tuple[int, Line | str]]:
    delimiter = ";" if head.count(";") > head.count(",") else ","
    reader = csv.reader(itertools.chain([head], rest), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader, [])]
    except csv.Error as exc:
        raise InputFileError(f"{path}: the header cannot be read: {_csv_problem(exc)}") from None
    if _BAD_BYTES.search("".join(header)):  # the fields are checked line by line below
        raise InputFileError(f"{path}: the header is not UTF-8; save the file as UTF-8")
    if not {"trigger", CONSENT_FIELD, WITHDRAWN_FIELD, "task_outcome"} & set(header):
        raise InputFileError(
            f"{path}: the header has no 'trigger' column; columns are case (or bsn and "
            "workflow), trigger, at, note and the data fields (and consent, "
            "consent_withdrawn, consent_how, task_kind, task_outcome for lines without a "
            "trigger)"
        )
    unique = len(set(header)) == len(header)
    # What a line does (its trigger, moment, note and data) is read once for all lines
    # that write it the same (a file of many cases taking the same step): only the columns
    # that name the case (and the line's id) are read line by line.
    refs = [i for i, name in enumerate(header) if name in _REFS]
    body = [i for i, name in enumerate(header) if name not in _REFS]
    same = itemgetter(*body) if unique and body else None
    made: dict[Any, tuple[Line | str, bool]] = {}
    only_case = refs[0] if len(refs) == 1 and header[refs[0]] == "case" else None
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # the reader goes on with the next line
            yield reader.line_num, _csv_problem(exc)
            continue
        number = reader.line_num
        joined = "".join(fields)
        if not joined.strip():  # every field blank
            continue
        if len(fields) != len(header):
            yield number, f"has {len(fields)} fields, the header has {len(header)}"
            continue
        if _BAD_BYTES.search(joined):
            yield number, "contains characters that are not UTF-8; save the file as UTF-8"
            continue
        try:
            if same is not None:
                yield number, _same_line(number, fields, header, refs, same(fields), made,
                                         engine, only_case)
                continue
            # An empty cell says what a missing one says (no value), so with every column
            # named once only the cells that hold something are looked at.
            record = ({key: value for key, value in zip(header, fields, strict=True) if value}
                      if unique else dict(zip(header, fields, strict=True)))
            yield number, _make_line(number, record, engine)
        except LineError as exc:
            yield number, str(exc)
        except Exception as exc:  # no line may stop the others
            yield number, _UNSTORABLE.format("read", type(exc).__name__)


def _same_line(number: int, fields: list[str], header: list[str], refs: list[int],
               key: Any, made: dict[Any, tuple[Line | str, bool]], engine: Engine,
               only_case: int | None = None) -> Line | str:
    """Return the line of a CSV row (or why it cannot be read), what it does taken from an
    earlier row that wrote the same (made: by key, the row's cells but those naming the
    case, with whether its data is text only): the row's own id and case are read as
    _make_line reads them, first (only_case: the index of the one column naming the case,
    when the file names cases only by their number)."""
    if only_case is not None:
        line_id = bsn = workflow = None
        case_id = _parse_case_ref(fields[only_case])
        if case_id is None:
            raise LineError(NAME_THE_CASE)
    else:
        record = {header[i]: fields[i] for i in refs if fields[i]}
        line_id, case_id, bsn, workflow = _refs(record, _META.intersection(record))
    known = made.get(key)
    if known is None:
        if len(made) >= SAME_LINES:  # a file whose lines are all different: no memory grows
            made.clear()
        body = {header[i]: fields[i] for i in range(len(header))
                if fields[i] and header[i] not in _REFS}
        try:  # the case named here is a stand-in: what the line does does not depend on it
            made_line: Line | str = _make_line(number, {**body, "case": "1"}, engine)
        except LineError as exc:
            made_line = str(exc)
        except Exception as exc:  # no line may stop the others
            made_line = _UNSTORABLE.format("read", type(exc).__name__)
        flat = (not isinstance(made_line, str)
                and {*map(type, made_line.data.values())}.isdisjoint((dict, list)))
        known = made[key] = (made_line, flat)
    found, flat = known
    if isinstance(found, str):
        return found
    data = (dict(found.data) if flat else
            {name: value.copy() if type(value) in (dict, list) else value
             for name, value in found.data.items()})
    return Line(number, case_id, bsn, workflow, found.trigger, found.at, data, found.note,
                None, found.kind, found.how, found.task_kind, found.task_outcome, line_id,
                None, None, found.content)


def _csv_problem(exc: csv.Error) -> str:
    if "field larger than field limit" in str(exc):
        return (f"a field is longer than {csv.field_size_limit()} characters (the CSV limit); "
                "shorten it")
    return f"cannot be read as CSV ({exc})"


def apply_file(engine: Engine, path: Path, actor: Actor, dry_run: bool = False,
               progress: Callable[[int], None] | None = None,
               history: bool = False) -> ApplySummary:
    """Apply every line of the file; return what was applied and what failed, by line.
    With history, no line queues a letter (the past is recorded, nobody is written to)."""

    actor.require("case.write")
    return apply_lines(engine, read_lines(path, engine), actor, dry_run, progress, path.name,
                       history)


# The tables a file's steps write to (their planner statistics are refreshed as they grow).
WRITTEN_TABLES = ("cases", "events", "tasks", "letters", "appointments", "referrals",
                  "consents", "applied_lines")


def apply_lines(engine: Engine, items: Iterable[tuple[int, Line | str]], actor: Actor,
                dry_run: bool = False, progress: Callable[[int], None] | None = None,
                name: str = "", history: bool = False,
                capability: str = "case.write") -> ApplySummary:
    """Apply lines in chunks; a line that is a text is a failure that was found reading it.
    Each case must be within the actor's reach for the capability (a wave: cohort.plan)."""
    actor.require(capability)
    with _long_lived_frozen(), checkpoints_aside(engine):
        return _apply_lines(engine, items, actor, dry_run, progress, name, history,
                            capability)


@contextmanager
def _long_lived_frozen() -> Iterator[None]:
    """Keep Python's cyclic garbage collector off what exists before the lines are read
    (modules, the routes, SQLAlchemy's tables): a chunk makes hundreds of thousands of
    objects, and each full collection they cause would walk all of those again. Nothing is
    kept that would otherwise be freed: it is all unfrozen at the end (not when someone else
    froze objects already).

    A chunk's objects (lines, steps, rows) live until the chunk is written and are freed
    by their reference counts, not by the collector: with its default thresholds it walked
    them again every 700 allocations (4 % of a bulk apply's instructions). While lines are
    applied it runs after every 100,000 (GC_THRESHOLDS); the thresholds come back at the
    end."""
    thresholds = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        if gc.get_freeze_count():
            yield
            return
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
    finally:
        gc.set_threshold(*thresholds)


# The collector's thresholds while lines are applied: what is left of a cycle (an error's
# traceback) is found after 100,000 allocations, a few megabytes at most.
GC_THRESHOLDS = (100_000, 20, 100)


def _apply_lines(engine: Engine, items: Iterable[tuple[int, Line | str]], actor: Actor,
                 dry_run: bool, progress: Callable[[int], None] | None, name: str,
                 history: bool, capability: str) -> ApplySummary:
    summary = ApplySummary(file=name, dry_run=dry_run, history=history)
    # A dry run stores nothing, so the ids it would have stored are remembered here.
    ids = _Seen(legacy=_legacy_keys(engine))
    chunk: list[Line] = []
    chunks, next_analyze = 0, 1
    for number, item in items:
        summary.read += 1
        if isinstance(item, str):
            summary.failures.append((number, item))
            continue
        chunk.append(item)
        if len(chunk) >= CHUNK:
            _apply_chunk(engine, chunk, actor, dry_run, summary, ids, capability)
            chunk = []
            chunks += 1
            if chunks == next_analyze and not dry_run:
                # The tables this file fills have grown fourfold since the planner's
                # statistics were taken: refresh them, a few ms each time on SQLite.
                refresh_statistics(engine, WRITTEN_TABLES)
                next_analyze *= 4
            if progress:
                progress(summary.read)
    if chunk:
        _apply_chunk(engine, chunk, actor, dry_run, summary, ids, capability)
    if summary.applied >= ANALYZE_AFTER and not dry_run:  # for the next command's planner
        refresh_statistics(engine, WRITTEN_TABLES)
    if progress:
        progress(summary.read)
    summary.failures.sort()
    return summary


def _legacy_keys(engine: Engine) -> bool:
    """Whether the database holds lines applied with keys of the old form (a hash alone)."""
    from casework.models import DatabaseMark

    with unit_of_work(engine) as conn:
        return conn.execute(select(DatabaseMark.value).where(
            DatabaseMark.name == LEGACY_KEYS)).first() is not None


def _resolve(conn: Connection, lines: list[Line]) -> dict[tuple[str, str], int]:
    """Return the case id for each (bsn, workflow) named in the lines (the open case first)."""
    wanted = {(line.bsn, line.workflow) for line in lines if line.case_id is None}
    found: dict[tuple[str, str], int] = {}
    if not wanted:
        return found
    bsns = list({bsn for bsn, _ in wanted if bsn})
    rows = conn.execute(
        select(Participant.bsn, Case.workflow_id, Case.id, Case.closed_at)
        .join(Case, Case.participant_id == Participant.id)
        .where(Participant.bsn.in_(bsns))
        .order_by(Case.id)
    ).all()
    for row in rows:
        key = (row.bsn, row.workflow_id)
        if key in wanted and (key not in found or row.closed_at is None):
            found[key] = row.id
    return found


def _identity(line: Line, case_id: int, seen: _Seen) -> _Identity | None:
    """Return the line's identity: who it is and what it does; None for no identity."""
    if line.line_id is None and line.occurrence is None:
        return None
    kind = "case" if line.case_id is not None else "bsn"
    what = hashlib.sha256(f"{case_id}\0{kind}\0{line.content}".encode())
    digest = what.hexdigest()[:32]
    if line.line_id is not None:
        return _Identity(_hash(f"id\0{line.line_id}"), digest)
    what.update(f"\0{line.occurrence}".encode())  # the key: what, then the occurrence
    hashed = what.hexdigest()
    # The key begins with the case ("n" and its number in hex, never a hash's first digit):
    # a file's lines, which go case by case, are stored side by side in the key's index. A
    # hash alone spread each chunk's 2,000 keys over the whole index: each write touched a
    # page of its own (a third of the write-ahead log of a 100,000-case apply).
    return _Identity((f"n{case_id:08x}{hashed}")[:32], digest,
                     hashed[:32] if seen.legacy else None)


class _Identity(NamedTuple):
    key: str
    digest: str  # what the line does
    # Its key as stored before migration 0022 (a hash alone), looked up too on a database
    # with lines applied before it (_Seen.legacy).
    legacy: str | None = None


@dataclass
class _Seen:
    """What one apply knows of identities beyond the database: those a dry run would have
    stored (key to digest) and whether keys of the old form may be stored."""

    ids: dict[str, str] = field(default_factory=dict)
    legacy: bool = False


LEGACY_KEYS = "applied_lines_hashed_keys"  # the database mark migration 0022 sets


def _hash(text: str) -> str:
    """Return 128 bits of SHA-256 in hex: short keys keep the index small."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _environment(exc: Exception) -> bool:
    """Whether an error is about the database or the run as a whole, not about one line."""
    return isinstance(exc, CaseworkError | OperationalError | InterfaceError)


def _apply_chunk(engine: Engine, lines: list[Line], actor: Actor, dry_run: bool,
                 summary: ApplySummary, ids: _Seen, capability: str) -> None:
    try:
        applied = _apply_chunk_once(engine, lines, actor, dry_run, summary, ids, capability)
    except Exception as exc:
        if _environment(exc) and not isinstance(exc, ConflictError):
            raise
        applied = _apply_one_by_one(engine, lines, actor, dry_run, summary, ids, capability)
    summary.applied += len(applied)
    summary.by_trigger.update(applied)


def _apply_chunk_once(engine: Engine, lines: list[Line], actor: Actor, dry_run: bool,
                      summary: ApplySummary, ids: _Seen,
                      capability: str = "case.write") -> list[str]:
    """Apply a chunk in one transaction; return what each applied line did (its trigger, or
    consent_granted, or the task's kind and outcome)."""
    failures: list[tuple[int, str]] = []
    already = 0
    marks: list[dict[str, Any]] = []
    remember: list[tuple[str, str]] = []  # ids of the lines applied in a dry run
    planned: list[Step] = []  # every step of the chunk (letters they pulled, once written)
    applied: list[str] = []
    touched: set[int] = set()
    waves: dict[int, int] = {}
    refused: dict[int, str] = {}
    with unit_of_work(engine, dry_run) as conn:
        by_bsn = _resolve(conn, lines)
        case_of = {line.number: line.case_id or by_bsn.get((line.bsn or "", line.workflow or ""))
                   for line in lines}
        wanted = set(case_of.values())
        wanted.discard(None)
        snapshots = engine.load_cases(conn, list(wanted))
        # Deny by default: only the cases the actor may touch (the system actor: all).
        from casework.permissions import NotAllowed, check_cases

        try:  # once per chunk; only when a case is refused, each is asked to say which
            check_cases(conn, actor, list(snapshots), capability, snapshots.values())
        except NotAllowed:
            for cid in list(snapshots):
                try:
                    check_cases(conn, actor, [cid], capability, [snapshots[cid]])
                except NotAllowed as exc:
                    snapshots.pop(cid)
                    refused[cid] = str(exc)
        ctx = engine.context(conn)
        # One moment for the chunk's lines that give none: they are written together.
        ctx.now = now = engine.now()
        engine.rules.preload(ctx, [snap.participant_id for snap in snapshots.values()])
        writer = StepWriter(conn, now, engine.recorded_now(), chunk=True)
        identity = {line.number: _identity(line, cid, ids) for line in lines
                    if (cid := case_of[line.number]) is not None}
        keys = [ident.key for ident in identity.values() if ident is not None]
        keys += [ident.legacy for ident in identity.values() if ident and ident.legacy]
        done = dict(conn.execute(  # one query per chunk: the lines applied before
            select(AppliedLine.key, AppliedLine.digest).where(
                is_in(conn, AppliedLine.key, keys))
        ).all()) if keys else {}
        routes: dict[tuple[str, int], Route] = {}  # by workflow and version
        for line in lines:
            cid = case_of[line.number]
            if cid is None:
                failures.append((line.number, "no case of that person in that workflow"
                                 if line.case_id is None else no_case(line.case_id)))
                continue
            snap = snapshots.get(cid)
            if snap is None:
                if line.case_id is None:  # by BSN: a refusal must not tell the person exists
                    failures.append((line.number, "no case of that person in that workflow"))
                else:
                    failures.append((line.number, refused.get(cid) or no_case(cid)))
                continue
            ident = identity[line.number]
            if ident is not None:
                before = (done.get(ident.key) or ids.ids.get(ident.key)
                          or (ident.legacy and done.get(ident.legacy)))
                if before == ident.digest:
                    already += 1
                    continue
                if before is not None:
                    failures.append((line.number, f"id {shown(line.line_id)} was applied "
                                     "before with other values; give each line its own id"))
                    continue
            if line.kind != STEP:
                # Consents and task outcomes write through their own core at once: the steps
                # planned so far are written first, so everything lands in the file's order.
                _write(writer, ctx)
                try:
                    summary.to_pull.extend(
                        _apply_other(engine, conn, ctx, line, snap, actor, summary.history))
                except CaseworkError as exc:
                    failures.append((line.number, f"case {cid}: {exc}"))
                    continue
                snap = snapshots[cid] = engine.load_case(conn, cid)
                seq = snap.version
            else:
                try:
                    route = routes.get((snap.workflow_id, snap.workflow_version))
                    if route is None:
                        route = routes[(snap.workflow_id, snap.workflow_version)] = (
                            engine.route_of(snap))
                    step = engine.plan_step(route, snap, line.trigger,
                                            line.data, line.at, line.note, ctx,
                                            letters=not summary.history)
                except CaseworkError as exc:
                    failures.append((line.number, f"case {cid}: {exc}"))
                    continue
                except Exception as exc:  # no line may stop the others
                    why = _UNSTORABLE.format("checked", type(exc).__name__)
                    failures.append((line.number, f"case {cid}: {why}"))
                    continue
                if line.specialist:  # the appointment is booked for this person
                    for effect in step.effects:
                        if isinstance(effect, BookAppointment):
                            effect.specialist = line.specialist
                writer.add(step, actor.name, snap)
                snap.state, snap.data, snap.version = step.dest, step.case_data, step.seq
                snap.last_event_at = step.at
                if step.dest != step.source:
                    snap.state_entered_at = step.at
                planned.append(step)
                seq = step.seq
            applied.append(line.trigger)
            touched.add(cid)
            if ident is not None:
                done[ident.key] = ident.digest
                marks.append({"key": ident.key, "digest": ident.digest, "case_id": cid,
                              "seq": seq})
                if line.line_id is not None:
                    remember.append((ident.key, ident.digest))
            if line.wave is not None:
                waves[cid] = line.wave
        _write(writer, ctx)
        if marks:  # in the same transaction as the steps: a kill never separates them
            try:
                write_many(conn, _INSERT_APPLIED, marks)
            except IntegrityError:
                raise ConflictError("a line in this chunk was applied by another process") from None
        if waves:
            write_many(conn, _SET_WAVE, [{"b_id": c, "b_wave": w} for c, w in waves.items()])
        if applied and not dry_run:
            from casework.access import log_access

            log_access(conn, actor, "apply", sorted(touched), "case apply", engine.now())
    summary.failures.extend(failures)
    summary.already_applied += already
    for step in planned:  # nearly always none
        if step.to_pull:
            summary.to_pull.extend(step.to_pull)
    if dry_run:
        ids.ids.update(remember)
    return applied


def _apply_other(engine: Engine, conn: Connection, ctx: Any, line: Line, snap: CaseSnapshot,
                 actor: Actor, history: bool) -> list[dict[str, Any]]:
    """Record a consent, its withdrawal or a task outcome line, as 'consent grant', 'consent
    withdraw' and 'task done' do; return the letters to pull from a batch not yet sent."""
    if line.kind == CONSENT:
        from casework.consents import grant_in

        scopes = line.data[CONSENT_FIELD]
        grant_in(engine, conn, snap, actor, scopes, line.how or "conversation", line.at,
                 line.note)
        engine.rules.consent_recorded(ctx, snap.participant_id, list(scopes))  # later lines
        return []
    if line.kind == WITHDRAWAL:
        from casework.consents import check_scopes, withdraw_in

        scopes = line.data[CONSENT_FIELD]
        how = line.how or "conversation"
        check_scopes(engine.route_of(snap), scopes, how)  # all of them before anything is written
        to_pull: list[dict[str, Any]] = []
        for scope in scopes:
            to_pull.extend(withdraw_in(engine, conn, snap, actor, scope, how, line.at,
                                       line.note)[1])
        engine.rules.consent_withdrawn(ctx, snap.participant_id, list(scopes))  # later lines
        return to_pull
    from casework.tasks import finish_task, open_task_of

    assert line.task_kind is not None and line.task_outcome is not None
    task = open_task_of(conn, snap.id, line.task_kind)
    if task is None:
        raise InvalidData(f"no open task {shown(line.task_kind)} (see 'casework task list')")
    finish_task(engine, conn, task, actor, line.task_outcome, line.data, line.at,
                letters=not history, note=line.note)
    return []


def _write(writer: StepWriter, ctx: RuleContext) -> None:
    """Write the steps planned so far: a case changed by another process meanwhile, or an
    event the database refuses, is a conflict (the chunk is redone line by line). What the
    rules tallied of them is in the database from now on (``ctx.pending``)."""
    writer.flush()
    ctx.pending.clear()


def _apply_one_by_one(engine: Engine, lines: list[Line], actor: Actor, dry_run: bool,
                      summary: ApplySummary, ids: _Seen,
                      capability: str) -> list[str]:
    applied: list[str] = []
    for line in lines:
        try:
            applied.extend(_apply_chunk_once(engine, [line], actor, dry_run, summary, ids,
                                             capability))
        except ConflictError as exc:
            summary.failures.append((line.number, str(exc)))
        except Exception as exc:
            if _environment(exc):
                raise
            summary.failures.append((line.number, _UNSTORABLE.format("stored",
                                                                     type(exc).__name__)))
    return applied
