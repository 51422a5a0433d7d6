"""Mail-house batches: sealed when made, handed over once, or re-made with fresh letters.

``casework.mailroom.form_batches`` merges rendered letters into a batch (a PDF and a manifest
CSV) and records it here; from then on the batch's letters and files never change. A letter
cancelled while its batch has not gone (declined, consent withdrawn, closed, ``letters
cancel``) stays in it, marked ``to_pull``: the back office pulls it from the printed stack, and
when the batch is marked sent it is ``pulled``. A batch that went out never changes again.

A batch not handed over can be re-made: its files are removed, and its letters that are still
wanted are queued again as new letters, rendered with the day's date; those whose appointment
has passed, or that a newer letter of the same kind replaced, are not. The same holds for a
letter rendered on an earlier day that never got into a batch (a run stopped between rendering
and batching): it is rendered again, or cancelled, before the day's batches are made.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, case, func, insert, select, update

from casework.access import log_access
from casework.db import unit_of_work
from casework.engine import Engine
from casework.errors import InvalidData, NotFound
from casework.models import Batch, Letter
from casework.outfiles import remove_outputs
from casework.permissions import Actor
from casework.text import shown

_LETTERS = Letter.__table__
_BATCHES = Batch.__table__
BATCH_STATUSES = ("made", "sent", "remade")
PULL = ("to_pull", "pulled")
_NAME = re.compile(r"[0-9]{8}-[0-9]+")
_BATCH_FILE = re.compile(r"batch-(?P<name>[0-9]{8}-[0-9]+)\.(?:pdf|csv)")
# A batch's files are complete a moment before its transaction commits: a file younger than
# this whose batch is not (yet) recorded may belong to a run still making it.
UNMATCHED_AFTER_SECONDS = 60


def record_batch(conn: Connection, name: str, run_date: date, rows: Sequence[Any],
                 pdf: Path, manifest: Path, now: datetime) -> None:
    """Record a batch just made, in the transaction that put its letters in it."""
    conn.execute(insert(_BATCHES).values(
        name=name, run_date=run_date, status="made", made_at=now, letters=len(rows),
        pages=sum(r.pages or 0 for r in rows), sheets=sum(r.sheets or 0 for r in rows),
        pdf=str(pdf.resolve()), manifest=str(manifest.resolve())))


def _check_name(batch: str) -> None:
    if not _NAME.fullmatch(batch):
        raise InvalidData(f"{shown(batch)} is not a batch name (like 20261130-1); see "
                          "'casework letters batch list'")


def _batch(conn: Connection, batch: str) -> Any:
    _check_name(batch)
    row = conn.execute(select(_BATCHES).where(_BATCHES.c.name == batch)).first()
    if row is None:
        raise NotFound(f"no batch {batch}; see 'casework letters batch list'")
    return row


def _local_day(engine: Engine, moment: datetime | None) -> str:
    from casework.display import DUTCH_DAY
    from casework.display import moment as shown_moment

    return shown_moment(moment, engine.tz, DUTCH_DAY) if moment else "?"


def _claim(conn: Connection, engine: Engine, row: Any, status: str, **values: Any) -> None:
    """Move an unsent batch to status (sent or remade); refuse a batch that went out or was
    re-made (also when another process did it a moment ago)."""
    claimed = conn.execute(update(_BATCHES).where(_BATCHES.c.name == row.name,
                                                  _BATCHES.c.status == "made")
                           .values(status=status, **values)).rowcount
    if claimed == 1:
        return
    current = conn.execute(select(_BATCHES).where(_BATCHES.c.name == row.name)).one()
    if current.status == "sent":
        day = _local_day(engine, current.sent_at)
        raise InvalidData(f"batch {row.name} was already marked sent ({day}); a batch handed "
                          "to the mail house never changes",
                          says=f"Stapel {row.name} was al als verstuurd vastgelegd ({day}); "
                               "een verstuurde stapel verandert niet meer. Er is niets "
                               "opnieuw vastgelegd.")
    day = _local_day(engine, current.remade_at)
    raise InvalidData(f"batch {row.name} was re-made ({day}); its letters went into a new "
                      "batch (see 'casework letters batch list')",
                      says=f"Stapel {row.name} is opnieuw gemaakt ({day}); de brieven zitten "
                           "in een nieuwe stapel. Er is niets vastgelegd.")


# --- what the back office does with a batch -------------------------------------------------


def list_batches(engine: Engine, actor: Actor, status: str | None = None) -> dict[str, Any]:
    """Return the batches, newest first, with how many letters each holds, how many of them
    are to be pulled (cancelled after it was made) and how many go (or went) to the post."""
    actor.require("letters")
    if status is not None and status not in BATCH_STATUSES:
        raise InvalidData(f"batch status {shown(status)} must be one of "
                          f"{', '.join(BATCH_STATUSES)}")
    counts = (
        select(_LETTERS.c.batch,
               func.sum(case((_LETTERS.c.status.in_(PULL), 1), else_=0)).label("to_pull"),
               func.sum(case((_LETTERS.c.status.in_(("in_batch", "sent", "returned")), 1),
                             else_=0)).label("to_post"))
        .where(_LETTERS.c.batch.is_not(None)).group_by(_LETTERS.c.batch).subquery()
    )
    query = (select(_BATCHES, counts.c.to_pull, counts.c.to_post)
             .outerjoin(counts, counts.c.batch == _BATCHES.c.name)
             .order_by(_BATCHES.c.made_at.desc(), _BATCHES.c.name.desc()))
    if status:
        query = query.where(_BATCHES.c.status == status)
    with engine.db.connect() as conn:
        rows = conn.execute(query).all()
    return {"batches": [{
        "batch": r.name, "status": r.status, "run_date": r.run_date.isoformat(),
        "made_at": r.made_at.isoformat(), "letters": r.letters,
        "to_pull": int(r.to_pull or 0), "to_post": int(r.to_post or 0),
        "pages": r.pages, "sheets": r.sheets, "pdf": r.pdf, "manifest": r.manifest,
        "sent_at": r.sent_at.isoformat() if r.sent_at else None, "sent_by": r.sent_by,
        "remade_at": r.remade_at.isoformat() if r.remade_at else None,
        "remade_by": r.remade_by,
    } for r in rows]}


BATCH_FILES = ("pdf", "manifest")


def batch_file(engine: Engine, actor: Actor, batch: str, kind: str = "pdf") -> Path:
    """Return a batch's PDF or manifest (``kind``) to hand to the mail house; logged as a
    read of the cases whose letters it holds. NotFound when the batch or the file is gone
    (re-made, purged, or removed by hand)."""
    actor.require("letters")
    if kind not in BATCH_FILES:
        raise InvalidData(f"a batch file is one of {', '.join(BATCH_FILES)}, not {shown(kind)}")
    with unit_of_work(engine) as conn:
        row = _batch(conn, batch)
        name = row.pdf if kind == "pdf" else row.manifest
        path = Path(name) if name else None
        if path is None or row.status == "remade" or not path.is_file():
            raise NotFound(f"batch {batch} has no {kind} file any more")
        case_ids = conn.execute(select(_LETTERS.c.case_id).where(_LETTERS.c.batch == batch)
                                .distinct()).scalars().all()
        log_access(conn, actor, f"letters batch {kind}", sorted(case_ids), "letters",
                   engine.now())
    return path


def cancel_letter(engine: Engine, actor: Actor, letter_id: int) -> dict[str, Any]:
    """Cancel a letter that has not gone to the mail house; one already in a batch stays in
    it (the batch is sealed), marked to be pulled from it."""
    from casework.effects import UNSENT, cancel_pending_letters  # not needed to list letters

    actor.require("letters")
    with unit_of_work(engine) as conn:
        row = conn.execute(select(_LETTERS).where(_LETTERS.c.id == letter_id)).first()
        if row is None:
            raise NotFound(f"no letter {letter_id}; see 'casework letters list'",
                           says=f"Er is geen brief {letter_id}.")
        if row.status in PULL:
            raise InvalidData(f"letter {letter_id} is already marked to be pulled from batch "
                              f"{row.batch}", says=f"Brief {letter_id} wordt al uit stapel "
                                                   f"{row.batch} gehaald.")
        if row.status not in UNSENT:
            raise InvalidData(f"letter {letter_id} is {row.status}; only a letter that has not "
                              "gone to the mail house can be cancelled",
                              says=f"Brief {letter_id} is al naar het postbedrijf of niet meer "
                                   "in de rij; alleen een brief die nog niet weg is kan worden "
                                   "tegengehouden.")
        done = cancel_pending_letters(conn, [row.case_id], letter_id=letter_id,
                                      reason=f"cancelled by {actor.name}")
        if done.count == 0:
            raise InvalidData(f"letter {letter_id} went to the mail house a moment ago; it "
                              "can no longer be cancelled",
                              says=f"Brief {letter_id} is zojuist naar het postbedrijf gegaan.")
        log_access(conn, actor, "letter cancel", [row.case_id], "letters", engine.now())
    batch = done.to_pull[0]["batch"] if done.to_pull else None
    return {"letter": letter_id, "case_id": row.case_id,
            "status": "to_pull" if batch else "cancelled", "batch": batch,
            "to_pull": done.to_pull}


def mark_batch_sent(engine: Engine, actor: Actor, batch: str) -> dict[str, Any]:
    """Record that a batch was handed to the mail house: its letters are sent, those marked
    to be pulled are pulled; from now on the batch never changes."""
    actor.require("letters")
    now = engine.now()
    with unit_of_work(engine) as conn:
        row = _batch(conn, batch)
        _claim(conn, engine, row, "sent", sent_at=now, sent_by=actor.name)
        sent = conn.execute(
            update(_LETTERS).where(_LETTERS.c.batch == batch, _LETTERS.c.status == "in_batch")
            .values(status="sent", sent_at=now)
        ).rowcount
        pulled = conn.execute(
            select(_LETTERS.c.id).where(_LETTERS.c.batch == batch,
                                        _LETTERS.c.status == "to_pull")
            .order_by(_LETTERS.c.id)
        ).scalars().all()
        if pulled:
            conn.execute(update(_LETTERS).where(_LETTERS.c.id.in_(pulled))
                         .values(status="pulled"))
    return {"batch": batch, "sent": sent, "pulled": list(pulled)}


def remake_batch(engine: Engine, actor: Actor, batch: str) -> dict[str, Any]:
    """Take back a batch that was not handed over: its PDF and manifest are removed and its
    letters that are still wanted are queued again as new letters (rendered with the date
    of the day they are made); the others are cancelled with the reason."""
    actor.require("letters")
    now = engine.now()
    queued: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    with unit_of_work(engine) as conn:
        row = _batch(conn, batch)
        _claim(conn, engine, row, "remade", remade_at=now, remade_by=actor.name)
        letters = conn.execute(select(_LETTERS).where(_LETTERS.c.batch == batch)
                               .order_by(_LETTERS.c.id)).all()
        for letter in letters:
            if letter.status == "to_pull":  # cancelled already; now it never goes out at all
                conn.execute(update(_LETTERS).where(_LETTERS.c.id == letter.id)
                             .values(status="cancelled"))
                continue
            if letter.status != "in_batch":
                continue
            outdated = outdated_reason(conn, engine, letter, now)
            if outdated:
                reason, says = outdated
                conn.execute(update(_LETTERS).where(_LETTERS.c.id == letter.id).values(
                    status="cancelled", reason=f"batch {batch} re-made; {reason}"))
                dropped.append({"letter": letter.id, "case_id": letter.case_id,
                                "template": letter.template, "reason": reason, "says": says})
                continue
            new_id = conn.execute(insert(_LETTERS).values(
                case_id=letter.case_id, template=letter.template, variant=letter.variant,
                status="queued", payload=letter.payload, partner=letter.partner,
                origin_seq=letter.origin_seq, attempts=0, created_at=now,
            )).inserted_primary_key[0]
            conn.execute(update(_LETTERS).where(_LETTERS.c.id == letter.id).values(
                status="cancelled", reason=f"batch {batch} re-made: queued again as letter "
                                           f"{new_id}"))
            queued.append({"letter": new_id, "replaces": letter.id, "case_id": letter.case_id,
                           "template": letter.template})
        if letters:
            log_access(conn, actor, "letters batch remake",
                       sorted({letter.case_id for letter in letters}), "letters", now)
    removed = remove_outputs([Path(row.pdf), Path(row.manifest)], engine.settings)
    return {"batch": batch, "status": "remade", "queued": queued, "not_queued": dropped,
            "removed_files": [str(path) for path in removed]}


# --- keeping what is made fresh --------------------------------------------------------------


def outdated_reason(conn: Connection, engine: Engine, letter: Any, now: datetime
                    ) -> tuple[str, str] | None:
    """Return why a letter made earlier must not be made again now, and the same in Dutch
    (None when it may): the appointment it proposes or reminds of has passed, or a newer
    letter of the same kind for the case replaced it."""
    moment = (letter.payload or {}).get("appointment")
    if moment and datetime.fromisoformat(moment) <= now:
        from casework.display import DUTCH_DAY
        from casework.display import moment as shown_moment

        when = shown_moment(moment, engine.tz, DUTCH_DAY + " %H:%M")
        return (f"its appointment of {when} has passed",
                f"de afspraak van {when} is voorbij")
    newer = conn.execute(
        select(_LETTERS.c.id).where(
            _LETTERS.c.case_id == letter.case_id, _LETTERS.c.template == letter.template,
            _LETTERS.c.partner.is_not_distinct_from(letter.partner),
            _LETTERS.c.id > letter.id,
            _LETTERS.c.status.not_in(("cancelled", *PULL)))
        .limit(1)
    ).scalar()
    if newer is not None:
        return f"letter {newer} replaced it", f"brief {newer} vervangt hem"
    return None


def renew_unbatched(engine: Engine) -> list[dict[str, Any]]:
    """Queue again (or cancel, with the reason) the letters rendered on an earlier day that
    never got into a batch, so no batch holds a letter dated before the day it is made."""
    now = engine.now()
    today = datetime.combine(now.astimezone(engine.tz).date(), datetime.min.time(),
                             tzinfo=engine.tz)
    renewed: list[dict[str, Any]] = []
    files: list[Path] = []
    with unit_of_work(engine) as conn:
        rows = conn.execute(
            select(_LETTERS).where(_LETTERS.c.status == "rendered", _LETTERS.c.batch.is_(None),
                                   _LETTERS.c.rendered_at < today)
            .order_by(_LETTERS.c.id).with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            outdated = outdated_reason(conn, engine, row, now)
            reason = outdated[0] if outdated else None
            values: dict[str, Any] = (
                {"status": "cancelled", "reason": f"never batched; {reason}"} if reason else
                {"status": "queued", "file": None, "checksum": None, "pages": None,
                 "sheets": None, "rendered_at": None, "reason": None})
            changed = conn.execute(update(_LETTERS).where(
                _LETTERS.c.id == row.id, _LETTERS.c.status == "rendered",
                _LETTERS.c.batch.is_(None)).values(**values)).rowcount
            if not changed:
                continue
            if row.file and not reason:
                files.append(Path(row.file))
            renewed.append({"letter": row.id, "case_id": row.case_id,
                            "template": row.template, "status": values["status"],
                            "reason": reason})
    remove_outputs(files, engine.settings)
    return renewed


def remove_unmatched_batch_files(engine: Engine, out: Path) -> list[str]:
    """Remove batch PDFs and manifests in the letters folder whose batch is not one that is
    made or sent (a re-made batch, one taken apart by an older version, a run that stopped
    before recording it); return them relative to the folder."""
    if not out.is_dir():
        return []
    found: dict[str, list[Path]] = {}
    for path in out.glob("*/batch-*"):
        match = _BATCH_FILE.fullmatch(path.name)
        if match:
            found.setdefault(match["name"], []).append(path)
    if not found:
        return []
    with engine.db.connect() as conn:
        live = set(conn.execute(select(_BATCHES.c.name).where(
            _BATCHES.c.name.in_(list(found)),
            _BATCHES.c.status.in_(("made", "sent")))).scalars())
    cutoff = time.time() - UNMATCHED_AFTER_SECONDS
    stale = []
    for name, paths in found.items():
        if name in live:
            continue
        for path in paths:
            try:
                if path.lstat().st_mtime < cutoff:
                    stale.append(path)
            except OSError:
                continue
    return sorted(str(path.relative_to(out)) for path in remove_outputs(stale,
                                                                         engine.settings))
