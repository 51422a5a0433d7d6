"""Bulk apply: many advances from a CSV or JSON-lines file, each line checked like one advance.

Lines are applied in chunks, one transaction per chunk; a failing line is reported by line
number and the other lines still apply. When another process changed a case while a chunk was
being prepared, that chunk is redone line by line so only the conflicting lines fail.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from casework.cohort import RowError, normalise_bsn
from casework.engine import (
    CASE_COLUMNS,
    UPDATE_CASE,
    CaseSnapshot,
    Engine,
    Step,
    event_row,
    update_params,
    write_effects,
)
from casework.errors import CaseworkError, ConflictError, InputFileError, no_case
from casework.fields import parse_datetime
from casework.models import Case, Event, Participant

CHUNK = 2000
_SET_WAVE = (
    update(Case.__table__).where(Case.__table__.c.id == bindparam("b_id"))
    .values(wave=bindparam("b_wave"))
)
_BAD_BYTES = re.compile("[\udc80-\udcff]")
_META = {"case", "case_id", "id", "bsn", "workflow", "trigger", "at", "note", "data"}


@dataclass
class Line:
    number: int
    case_id: int | None
    bsn: str | None
    workflow: str | None
    trigger: str
    at: datetime | None
    data: dict[str, Any]
    note: str | None
    wave: int | None = None


@dataclass
class ApplySummary:
    file: str
    dry_run: bool
    read: int = 0
    applied: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)
    by_trigger: Counter[str] = field(default_factory=Counter)

    @property
    def failed(self) -> int:
        return len(self.failures)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file, "dry_run": self.dry_run, "read": self.read,
            "applied": self.applied, "failed": self.failed,
            "failures": [{"line": n, "reason": r} for n, r in self.failures],
            "by_trigger": dict(self.by_trigger.most_common()),
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
    if value in (None, ""):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        raise LineError(f"case {value!r} is not a case number") from None


def _make_line(number: int, record: dict[str, Any], engine: Engine) -> Line:
    trigger = str(record.get("trigger") or "").strip()
    if not trigger:
        raise LineError("no trigger given")
    case_id = _parse_case_ref(record.get("case") or record.get("case_id") or record.get("id"))
    bsn = None
    if str(record.get("bsn") or "").strip():
        try:  # the one BSN parser (8 digits: the leading zero a spreadsheet dropped)
            bsn = normalise_bsn(str(record["bsn"]))
        except RowError as exc:
            raise LineError(f"bsn: {exc.detail}") from None
    workflow = str(record.get("workflow") or "").strip() or None
    if case_id is None and not (bsn and workflow):
        raise LineError("name the case: give 'case' (the case number) or 'bsn' and 'workflow'")
    at = None
    if record.get("at") not in (None, ""):
        try:
            at = parse_datetime(str(record["at"]), engine.tz)
        except ValueError:
            raise LineError(
                f"'at' {record['at']!r} is not a date and time (use 2026-11-20 14:00)"
            ) from None
    data = record.get("data") or {}
    if not isinstance(data, dict):
        raise LineError("'data' must be an object of field names and values")
    flat = {k: v for k, v in record.items() if k not in _META}
    data = _data_from_flat({**flat, **data})
    note = str(record.get("note") or "").strip() or None
    return Line(number, case_id, bsn, workflow, trigger, at, data, note)


def read_lines(path: Path, engine: Engine) -> Iterator[tuple[int, Line | str]]:
    """Yield (line number, Line or the reason the line cannot be read), streaming the file."""
    try:
        fh = path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="")
    except OSError as exc:
        raise InputFileError(f"{path}: cannot be read ({exc.strerror})") from None
    with fh:
        head = fh.readline()
        if path.suffix.lower() in (".jsonl", ".ndjson", ".json") or head.lstrip()[:1] == "{":
            yield from _json_lines(itertools.chain([head], fh), engine)
        else:
            yield from _csv_lines(path, head, fh, engine)


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
            yield number, _make_line(number, record, engine)
        except json.JSONDecodeError as exc:
            yield number, f"not valid JSON ({exc.msg} at column {exc.colno})"
        except LineError as exc:
            yield number, str(exc)


def _csv_lines(path: Path, head: str, rest: Iterable[str],
               engine: Engine) -> Iterator[tuple[int, Line | str]]:
    delimiter = ";" if head.count(";") > head.count(",") else ","
    reader = csv.reader(itertools.chain([head], rest), delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader, [])]
    if "trigger" not in header:
        raise InputFileError(
            f"{path}: the header has no 'trigger' column; columns are case (or bsn and "
            "workflow), trigger, at, note and the data fields"
        )
    for fields in reader:
        number = reader.line_num
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            yield number, f"has {len(fields)} fields, the header has {len(header)}"
            continue
        if _BAD_BYTES.search("".join(fields)):
            yield number, "contains characters that are not UTF-8; save the file as UTF-8"
            continue
        try:
            yield number, _make_line(number, dict(zip(header, fields, strict=True)), engine)
        except LineError as exc:
            yield number, str(exc)


def apply_file(engine: Engine, path: Path, actor: str, dry_run: bool = False,
               progress: Callable[[int], None] | None = None) -> ApplySummary:
    """Apply every line of the file; return what was applied and what failed, by line."""
    return apply_lines(engine, read_lines(path, engine), actor, dry_run, progress, path.name)


def apply_lines(engine: Engine, items: Iterable[tuple[int, Line | str]], actor: str,
                dry_run: bool = False, progress: Callable[[int], None] | None = None,
                name: str = "") -> ApplySummary:
    """Apply lines in chunks; a line that is a text is a failure that was found reading it."""
    summary = ApplySummary(file=name, dry_run=dry_run)
    chunk: list[Line] = []
    for number, item in items:
        summary.read += 1
        if isinstance(item, str):
            summary.failures.append((number, item))
            continue
        chunk.append(item)
        if len(chunk) >= CHUNK:
            _apply_chunk(engine, chunk, actor, dry_run, summary)
            chunk = []
            if progress:
                progress(summary.read)
    if chunk:
        _apply_chunk(engine, chunk, actor, dry_run, summary)
    if progress:
        progress(summary.read)
    summary.failures.sort()
    return summary


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


def _apply_chunk(engine: Engine, lines: list[Line], actor: str, dry_run: bool,
                 summary: ApplySummary) -> None:
    try:
        applied = _apply_chunk_once(engine, lines, actor, dry_run, summary)
    except ConflictError:
        applied = _apply_one_by_one(engine, lines, actor, dry_run, summary)
    summary.applied += len(applied)
    summary.by_trigger.update(step.trigger for step in applied)


def _apply_chunk_once(engine: Engine, lines: list[Line], actor: str, dry_run: bool,
                      summary: ApplySummary) -> list[Step]:
    failures: list[tuple[int, str]] = []
    steps: list[tuple[Step, str]] = []
    waves: dict[int, int] = {}
    refused: dict[int, str] = {}
    conn = engine.db.connect()
    trans = conn.begin()
    try:
        by_bsn = _resolve(conn, lines)
        ids = {line.case_id or by_bsn.get((line.bsn or "", line.workflow or ""))
               for line in lines}
        ids.discard(None)
        rows = conn.execute(select(*CASE_COLUMNS).where(Case.id.in_(list(ids)))).all()
        snapshots = {row.id: CaseSnapshot.from_row(row) for row in rows}
        # Deny by default: only the cases the actor may touch (the system actor: all).
        from casework.permissions import NotAllowed, check_cases

        for cid in list(snapshots):
            try:
                check_cases(engine, conn, actor, [cid])
            except NotAllowed as exc:
                snapshots.pop(cid)
                refused[cid] = str(exc)
        ctx = engine.context(conn)
        from casework.rules.consent import preload

        preload(ctx, [snap.participant_id for snap in snapshots.values()])
        start_version = {cid: snap.version for cid, snap in snapshots.items()}
        entered = {row.id: row.state_entered_at for row in rows}
        for line in lines:
            cid = line.case_id or by_bsn.get((line.bsn or "", line.workflow or ""))
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
            try:
                step = engine.plan_step(engine.route_of(snap), snap, line.trigger, line.data,
                                        line.at, line.note, ctx)
            except CaseworkError as exc:
                failures.append((line.number, f"case {cid}: {exc}"))
                continue
            snap.state, snap.data, snap.version = step.dest, step.case_data, step.seq
            snap.last_event_at = step.at
            if step.dest != step.source:
                entered[cid] = step.at
            steps.append((step, actor))
            if line.wave is not None:
                waves[cid] = line.wave
        if steps:
            _write(engine, conn, steps, snapshots, start_version, entered)
        if waves:
            conn.execute(_SET_WAVE, [{"b_id": c, "b_wave": w} for c, w in waves.items()])
        if steps and not dry_run:
            from casework.access import log_access

            log_access(conn, actor, "apply", sorted({s.case_id for s, _ in steps}),
                       "case apply", engine.now())
        if dry_run:
            trans.rollback()
        else:
            trans.commit()
    except BaseException:
        trans.rollback()
        raise
    finally:
        conn.close()
    summary.failures.extend(failures)
    return [step for step, _ in steps]


def _write(engine: Engine, conn: Connection, steps: list[tuple[Step, str]],
           snapshots: dict[int, CaseSnapshot], start_version: dict[int, int],
           entered: dict[int, datetime]) -> None:
    """Write the chunk: case updates first (so a concurrent change shows as a conflict), then
    events and effects."""
    now = engine.now()
    for step, who in steps:
        step.actor = who
    touched: dict[int, Step] = {step.case_id: step for step, _ in steps}
    params = [update_params(step, start_version[cid], entered[cid])
              for cid, step in touched.items()]
    result = conn.execute(UPDATE_CASE, params)
    if conn.dialect.supports_sane_multi_rowcount:
        stale = result.rowcount != len(params)
    else:
        versions = dict(conn.execute(
            select(Case.id, Case.version).where(Case.id.in_(list(touched)))
        ).all())
        stale = any(versions[cid] != snapshots[cid].version for cid in touched)
    if stale:
        raise ConflictError("a case in this chunk was changed by another process")
    try:
        conn.execute(insert(Event.__table__), [event_row(step, who, now) for step, who in steps])
    except IntegrityError:
        raise ConflictError("a case in this chunk was changed by another process") from None
    write_effects(conn, [step for step, _ in steps], now)


def _apply_one_by_one(engine: Engine, lines: list[Line], actor: str, dry_run: bool,
                      summary: ApplySummary) -> list[Step]:
    applied: list[Step] = []
    for line in lines:
        try:
            applied.extend(_apply_chunk_once(engine, [line], actor, dry_run, summary))
        except ConflictError as exc:
            summary.failures.append((line.number, str(exc)))
    return applied
