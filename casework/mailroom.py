"""The letter queue: render to PDF, check before printing, batch for the mail house, follow up.

Letters are queued as rows by the step that asks for them (never rendered inside it). Rendering
takes the queue a page at a time: every letter is checked (address block, characters the fonts
cannot print, page limit) and rendered once; a letter that cannot go out as it is, or cannot be
made from its own data, is held with a reason and its case gets a task to fix it. A letter is
dated the day it is rendered; one about an appointment it cannot reach in time (the post takes
``letters.delivery_workdays``) is not made: a reminder is cancelled, an invitation held with a
task to propose a new appointment. Rendered
letters are merged into batches of at most ``letters.batch_size``, sorted by postcode, each with
a manifest CSV for the mail house.
Lifecycle: queued -> rendered -> in_batch -> sent -> returned; cancelled while it is in no
batch, to_pull (then pulled) when cancelled in a batch not yet sent: a batch is sealed when
made (``casework.batches``).

Nothing is made or batched for a person flagged as deceased or moved away (``case flag``),
whichever of their cases the letter belongs to and whatever closed it: such a letter is held
with the reason (``casework.effects.FLAGGED``), without a task (there is nothing to fix),
and queued again when the flag is cleared (``casework.cases.flag_person``).
"""

from __future__ import annotations

import gc
import hashlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, or_, select, update

from casework.access import log_access
from casework.batches import record_batch, remove_unmatched_batch_files, renew_unbatched
from casework.db import unit_of_work
from casework.engine import Engine
from casework.errors import InvalidData, NotFound, no_case
from casework.letters import (
    LetterError,
    LetterRenderer,
    UnprintableText,
    Window,
    address_lines,
    capfirst,
    case_reference,
    check_address,
    describe_char,
    dutch_date,
    dutch_moment,
)
from casework.models import PERSON_FLAGS, Case, Letter, Participant, Task
from casework.outfiles import (
    csv_writer,
    open_output,
    remove_outputs,
    remove_stale_temporaries,
    write_output,
)
from casework.people import address_line, display_name
from casework.permissions import Actor, NotAllowed, check_cases

PAGE = 200
TASK_LABEL_LENGTH = 200  # tasks.label is a varchar(200)
_LETTERS = Letter.__table__
_PAGES = re.compile(rb"/Type\s*/Page[^s]")
MANIFEST_COLUMNS = [
    "letter_id", "case_reference", "template", "variant", "pages", "sheets",
    "address_1", "address_2", "address_3", "address_4", "address_5", "address_6", "address_7",
    "postcode", "checksum",
]
_LETTER_COLUMNS = (
    Letter.id, Letter.case_id, Letter.template, Letter.variant, Letter.payload,
    Letter.attempts, Case.workflow_id, Case.workflow_version, Case.data.label("case_data"),
    Participant.initials, Participant.prefix, Participant.surname, Participant.street,
    Participant.house_number, Participant.house_number_suffix, Participant.postcode,
    Participant.city, Participant.flag,
)


def renderer(engine: Engine) -> LetterRenderer:
    """Return a renderer for the configured templates, window and page limit."""
    s = engine.settings
    window = Window(s["letters.window_left_mm"], s["letters.window_top_mm"],
                    s["letters.window_width_mm"], s["letters.window_height_mm"])
    return LetterRenderer(s.templates_dir, window, s["letters.max_pages"])


def count_pages(pdf: bytes) -> int:
    return len(_PAGES.findall(pdf))


def letter_context(engine: Engine, row: Any, letter_date: date) -> dict[str, Any]:
    """Return everything a template may print for one letter (a row of _LETTER_COLUMNS)."""
    s = engine.settings
    route = engine.registry.get(row.workflow_id, row.workflow_version)
    payload: dict[str, Any] = dict(row.payload or {})
    name = display_name(row.initials, row.prefix, row.surname)
    if not row.initials:  # 'Beste Van Dijk,': without initials the name starts with a capital
        name = capfirst(name)
    ctx: dict[str, Any] = {
        "org": {key: s[f"organisation.{key}"] for key in
                ("name", "department", "address", "postcode_city", "phone", "contact",
                 "website")},
        "reference": case_reference(row.workflow_id, row.case_id),
        "letter_date": dutch_date(letter_date),
        "salutation": name,
        "address": address_lines(name, address_line(row.street, row.house_number,
                                                     row.house_number_suffix),
                                 row.postcode, row.city),
        "appointment": None, "location": None, "partner": None, "themes": [],
        "agreed": payload.get("agreed"), "correction_days": s["letters.correction_days"],
        **engine.rules.letter_defaults(), "variant": row.variant,
        # A training database's letters say OEFENING in the page header.
        "training": engine.training,
    }
    if route.contact:
        ctx["org"]["contact"] = route.contact
    if payload.get("appointment"):
        ctx["appointment"] = dutch_moment(datetime.fromisoformat(payload["appointment"]),
                                          engine.tz)
        where = payload.get("location") or s["planning.location"]
        ctx["location"] = "bij u thuis" if where.strip().lower() == "thuis" else where
    if payload.get("partner"):
        partner_field = route.fields.get("partner")
        ctx["partner"] = (partner_field.label_of(payload["partner"]) if partner_field
                          else payload["partner"])
    themes_field = route.fields.get("themes")
    for key, text in (payload.get("themes") or {}).items():
        label = themes_field.label_of(key) if themes_field else key
        ctx["themes"].append({"label": label, "text": text})
    variables = engine.rules.letter_variables(route, {"id": row.case_id}, row.template, s)
    ctx.update(variables)
    if row.variant:  # the variant chosen when the letter was queued is the one printed
        ctx["variant"] = row.variant
        ctx.update(engine.rules.variant_variables(row.variant))
    return ctx


@dataclass
class RenderSummary:
    run_date: date
    rendered: int = 0
    held: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    batches: list[dict[str, Any]] = field(default_factory=list)
    output_dir: str = ""
    case_ids: set[int] = field(default_factory=set)
    # Letters rendered on an earlier day that never got into a batch: queued again or
    # cancelled (casework.batches.renew_unbatched).
    renewed: list[dict[str, Any]] = field(default_factory=list)
    # Batch files in the folder that no longer match a batch, removed.
    removed_files: list[str] = field(default_factory=list)
    # Reminders that could no longer arrive before their appointment: cancelled, not made.
    too_late: list[dict[str, Any]] = field(default_factory=list)
    # Letters to a person flagged deceased or moved away: held, not made or not batched.
    flagged: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"run_date": self.run_date.isoformat(), "rendered": self.rendered,
                "held": self.held, "failed": self.failed, "batches": self.batches,
                "output_dir": self.output_dir, "renewed": self.renewed,
                "removed_files": self.removed_files, "too_late": self.too_late,
                "flagged": self.flagged}


def _cut(text: str, length: int) -> str:
    """Return text cut to length (the whole text stays in the task's spec)."""
    return text if len(text) <= length else text[: length - 1] + "…"


def _address_task(conn: Any, engine: Engine, letter_id: int, case_id: int, reason: str,
                  key: str, now: datetime, what: str = "Adres controleren",
                  kind: str = "address_check") -> None:
    """Give the case's worker a task to fix the address, or what else keeps the letter from
    going out (once per letter and cause); finishing it puts the letter back in the queue.
    Held again after that (finished without a fix), the letter gets a new task. A closed case
    gets no task (nothing more is sent to it), but for a letter still owed to the person (a
    report: casework.workflow.Route.owed_letters).

    ``kind="new_appointment"``: the letter proposes an appointment it cannot reach in time;
    the task is to propose a new one (the step that does so replaces the letter and ends the
    task with the state's other work); finished without that, the held letter is cancelled."""
    earlier = conn.execute(select(Task.status).where(
        Task.case_id == case_id, or_(Task.key == key, Task.key.like(f"{key}:%")))).scalars().all()
    if "open" in earlier:
        return
    if earlier:
        key = f"{key}:{len(earlier) + 1}"
    case = conn.execute(select(Case.assigned_to, Case.closed_at, Case.workflow_id,
                               Case.workflow_version).where(Case.id == case_id)).first()
    if case is None:
        return
    scope = "state" if kind == "new_appointment" else "case"
    if case.closed_at is not None:
        template = conn.execute(select(_LETTERS.c.template)
                                .where(_LETTERS.c.id == letter_id)).scalar()
        route = engine.registry.get(case.workflow_id, case.workflow_version)
        if kind == "new_appointment" or template not in route.owed_letters:
            return
        scope = "person"
    spec: dict[str, Any] = {"letter": letter_id, "reason": reason, "rounds": 1}
    if kind == "new_appointment":
        spec["on_done"] = "cancel"
    conn.execute(insert(Task.__table__).values(
        key=key, case_id=case_id, kind=kind,
        due=now.astimezone(engine.tz).date(), round=1, status="open", attempts=0,
        assigned_to=case.assigned_to, created_at=now, performer="staff", scope=scope,
        label=_cut(f"{what}: brief {letter_id} ({reason})", TASK_LABEL_LENGTH),
        spec=spec,
    ))


def appointment_too_late(engine: Engine, template: str, payload: Mapping[str, Any] | None,
                         made: date, r: LetterRenderer | None = None) -> str | None:
    """Return why a letter made on ``made`` would arrive after the appointment it proposes or
    reminds of (None when it arrives in time, or prints no appointment)."""
    from casework.delivery import too_late

    moment = (payload or {}).get("appointment")
    if not moment or not (r or renderer(engine)).prints(template, "appointment"):
        return None
    return too_late(engine.settings, made, datetime.fromisoformat(moment))


def _hold_late(conn: Any, engine: Engine, row: Any, reason: str, now: datetime,
               summary: RenderSummary) -> None:
    """Keep a letter about an appointment it cannot reach from going out: a call's reminder
    is cancelled (the appointment stands; the letter is pointless), and so is an invitation
    to an appointment the case no longer has (held or moved meanwhile); an invitation to the
    case's appointment is held and the case gets a task to propose a new appointment."""
    payload = row.payload or {}
    current = (row.case_data or {}).get("appointment")
    if payload.get("task_kind") or current != payload.get("appointment"):
        conn.execute(update(_LETTERS).where(_LETTERS.c.id == row.id,
                                            _LETTERS.c.status == "queued")
                     .values(status="cancelled", reason=reason))
        summary.too_late.append({"letter": row.id, "case_id": row.case_id,
                                 "template": row.template, "reason": reason})
        return
    conn.execute(update(_LETTERS).where(_LETTERS.c.id == row.id, _LETTERS.c.status == "queued")
                 .values(status="held", reason=reason))
    _address_task(conn, engine, row.id, row.case_id, reason, f"letter:{row.id}:late", now,
                  "Nieuwe afspraak voorstellen", kind="new_appointment")
    summary.held.append({"letter": row.id, "case_id": row.case_id, "template": row.template,
                         "reason": reason})


# The parts of a letter that come from the person and the case (the rest is the template and
# config.toml): where a character no font has, or a failing render, is the letter's own.
_CASE_TEXTS = (("salutation", "the name"), ("address", "the address"),
               ("location", "the place of the appointment"), ("partner", "the partner"),
               ("themes", "the report's notes"), ("agreed", "the agreements"))
_NEUTRAL = {"salutation": "J. Jansen", "address": ["J. Jansen", "Dorpsstraat 1",
                                                   "9711 AB  GRONINGEN"],
            "location": "bij u thuis", "partner": "de partner", "agreed": "afspraken"}


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)


def _font_problem(r: LetterRenderer, ctx: Mapping[str, Any], char: str | None = None
                  ) -> str | None:
    """Return why the person's or case's text cannot be printed (None when it can): the first
    character none of the letter's fonts has (or, given char, where that one is)."""
    for key, where in _CASE_TEXTS:
        for text in _texts(ctx.get(key)):
            found = (char if char in text else None) if char else r.unprintable(text)
            if found:
                return (f"{where} has a character the letter's fonts cannot print "
                        f"({describe_char(found)}); correct it in the person's record")
    return None


def _own_data_problem(r: LetterRenderer, row: Any, ctx: Mapping[str, Any] | None,
                      exc: LetterError, probes: dict[Any, bool]) -> str | None:
    """Return why a letter that failed to render can never render as its data stands, or None
    when the failure is not the letter's own (then it fails and the next run tries again).

    The letter's own: a character no font has in the person's or case's text, or a failure
    that goes away when the same letter is made with neutral text in their place. Not its own:
    a template or config.toml mistake (the neutral letter fails too; every letter of that
    template fails until it is fixed) and anything else, such as a full disk."""
    if ctx is None:
        return None
    if isinstance(exc, UnprintableText):
        return _font_problem(r, ctx, exc.char)
    neutral = {**ctx, **{k: v for k, v in _NEUTRAL.items() if ctx.get(k) is not None}}
    if ctx.get("themes"):
        neutral["themes"] = [{"label": "Thema", "text": "tekst"} for _ in ctx["themes"]]
    key = (row.template, row.variant, row.workflow_id, row.workflow_version,
           tuple(sorted(k for k, v in ctx.items() if v is None)))
    if key not in probes:
        try:
            r.pdf(row.template, neutral)
            probes[key] = True
        except LetterError:
            probes[key] = False
    if not probes[key]:
        return None
    return (f"it cannot be made from this case's data; correct the person's or the case's "
            f"data ({exc})")


BIG_RUN = 1000  # letters rendered in one run before the memory is collected at once


def render_queue(engine: Engine, run_date: date, out_dir: Path | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 actor: Actor | None = None) -> RenderSummary:
    """Render every queued letter once, hold the ones that cannot go out, then batch.
    Rendered by a person (``actor``): the cases whose letters were made are logged."""
    if actor:
        actor.require("letters")
    from casework.daily import refuse_going_back

    refuse_going_back(engine, run_date, "rendering letters")
    out = out_dir or engine.settings.letters_dir
    summary = RenderSummary(run_date=run_date, output_dir=str(out))
    remove_stale_temporaries(out)  # letters a killed run left half-written
    summary.removed_files = remove_unmatched_batch_files(engine, out)
    summary.renewed = renew_unbatched(engine)
    _render_all(engine, run_date, out, summary, progress, should_stop)
    if actor and summary.case_ids:
        with unit_of_work(engine) as conn:
            log_access(conn, actor, "letters render", sorted(summary.case_ids), "letters",
                       engine.now())
    # The typst compiler and its fonts are gone by now: after a big run the merge reuses
    # their memory. (A full collection costs a third of a second: not for a few letters.)
    if summary.rendered >= BIG_RUN:
        gc.collect()
    summary.flagged += hold_flagged_rendered(engine)
    summary.batches = form_batches(engine, run_date, out)
    return summary


def _hold_flagged(conn: Any, letter_id: int, case_id: int, template: str, flag: str,
                  status: str) -> dict[str, Any] | None:
    """Hold a letter (of status) whose person is flagged deceased or moved away; return what
    was held (None when the letter was no longer of that status). Made already (rendered),
    it is made anew when it is queued again."""
    from casework.effects import flagged_reason  # not needed to list letters

    values: dict[str, Any] = {"status": "held", "reason": flagged_reason(flag)}
    if status == "rendered":
        values.update(file=None, checksum=None, pages=None, sheets=None, rendered_at=None)
    held = conn.execute(update(_LETTERS).where(
        _LETTERS.c.id == letter_id, _LETTERS.c.status == status,
        _LETTERS.c.batch.is_(None)).values(**values)).rowcount
    if not held:
        return None
    return {"letter": letter_id, "case_id": case_id, "template": template,
            "reason": values["reason"]}


def hold_flagged_rendered(engine: Engine) -> list[dict[str, Any]]:
    """Hold the letters made but not yet batched whose person was flagged deceased or moved
    away since (their files are removed); return them."""
    held: list[dict[str, Any]] = []
    files: list[Path] = []
    with unit_of_work(engine) as conn:
        rows = conn.execute(
            select(_LETTERS.c.id, _LETTERS.c.case_id, _LETTERS.c.template, _LETTERS.c.file,
                   Participant.flag)
            .join(Case, Case.id == _LETTERS.c.case_id)
            .join(Participant, Participant.id == Case.participant_id)
            .where(_LETTERS.c.status == "rendered", _LETTERS.c.batch.is_(None),
                   Participant.flag.in_(PERSON_FLAGS))
            .order_by(_LETTERS.c.id)).all()
        for row in rows:
            item = _hold_flagged(conn, row.id, row.case_id, row.template, row.flag, "rendered")
            if item:
                held.append(item)
                if row.file:
                    files.append(Path(row.file))
    remove_outputs(files, engine.settings)
    return held


def _render_all(engine: Engine, run_date: date, out: Path, summary: RenderSummary,
                progress: Callable[[int, int], None] | None,
                should_stop: Callable[[], bool] | None) -> None:
    (out / run_date.isoformat() / "letters").mkdir(parents=True, exist_ok=True, mode=0o700)
    r = renderer(engine)
    max_pages: int = engine.settings["letters.max_pages"]
    duplex: bool = engine.settings["letters.duplex"]
    row_case: dict[int, int] = {}
    probes: dict[Any, bool] = {}  # per template: does it render with neutral text?
    with engine.db.connect() as conn:
        total = conn.execute(select(func.count()).select_from(_LETTERS)
                             .where(_LETTERS.c.status == "queued")).scalar_one()
    done = 0
    last = 0
    while not (should_stop and should_stop()):
        now = engine.now()
        made_on = now.astimezone(engine.tz).date()  # a letter is dated the day it is made
        with unit_of_work(engine) as conn:
            # Claim a page: PostgreSQL locks the rows (others skip them); the no-op update
            # takes SQLite's write lock, and reading the rows again after it means a second
            # process never renders what the first already did.
            ids = conn.execute(
                select(_LETTERS.c.id).where(_LETTERS.c.status == "queued", _LETTERS.c.id > last)
                .order_by(_LETTERS.c.id).limit(PAGE)
                .with_for_update(skip_locked=True)
            ).scalars().all()
            if not ids:
                break
            last = ids[-1]
            conn.execute(update(_LETTERS).where(_LETTERS.c.id.in_(ids))
                         .values(attempts=_LETTERS.c.attempts))
            rows = conn.execute(
                select(*_LETTER_COLUMNS)
                .join(Case, Case.id == Letter.case_id)
                .join(Participant, Participant.id == Case.participant_id)
                .where(Letter.id.in_(ids), Letter.status == "queued")
                .order_by(Letter.id)
            ).all()
            made: list[dict[str, Any]] = []
            for row in rows:
                ctx: dict[str, Any] | None = None
                fix = "Adres controleren"
                if row.flag in PERSON_FLAGS:  # whichever case, whatever closed it
                    item = _hold_flagged(conn, row.id, row.case_id, row.template, row.flag,
                                         "queued")
                    summary.flagged += [item] if item else []
                    continue
                late = appointment_too_late(engine, row.template, row.payload, made_on, r)
                if late:
                    _hold_late(conn, engine, row, late, now, summary)
                    continue
                try:
                    ctx = letter_context(engine, row, made_on)
                    problem = check_address(ctx["address"])
                    if problem is None:
                        problem = _font_problem(r, ctx)
                        fix = "Brief controleren" if problem else fix
                    pdf = None if problem else r.pdf(row.template, ctx)
                except LetterError as exc:
                    # Held after the first failure when it is the letter's own data (a person
                    # must fix it; trying daily would fail daily); else failed, tried again.
                    problem = _own_data_problem(r, row, ctx, exc, probes)
                    if problem is None:
                        conn.execute(update(_LETTERS).where(_LETTERS.c.id == row.id).values(
                            attempts=_LETTERS.c.attempts + 1, reason=str(exc)))
                        summary.failed.append({"letter": row.id, "case_id": row.case_id,
                                               "template": row.template, "reason": str(exc),
                                               "attempts": row.attempts + 1})
                        continue
                    fix, pdf = "Brief controleren", None
                assert ctx is not None
                pages = count_pages(pdf) if pdf else 0
                if pdf is not None and pages > max_pages:
                    problem = f"the letter has {pages} pages; at most {max_pages} may go out"
                if problem or pdf is None:
                    conn.execute(update(_LETTERS).where(_LETTERS.c.id == row.id,
                                                        _LETTERS.c.status == "queued")
                                 .values(status="held", reason=problem,
                                         address=ctx["address"]))
                    _address_task(conn, engine, row.id, row.case_id, problem or "",
                                  f"letter:{row.id}:held", now, fix)
                    summary.held.append({"letter": row.id, "case_id": row.case_id,
                                         "template": row.template, "reason": problem})
                    continue
                target = (out / run_date.isoformat() / "letters" / f"{row.id}.pdf").resolve()
                write_output(target, pdf)  # whole or not at all, owner-only
                row_case[row.id] = row.case_id
                made.append({
                    "id": row.id, "file": str(target),
                    "checksum": hashlib.sha256(pdf).hexdigest(), "pages": pages,
                    "sheets": (pages + 1) // 2 if duplex else pages,
                    "address": ctx["address"], "postcode": row.postcode,
                })
            for item in made:
                result = conn.execute(
                    update(_LETTERS).where(_LETTERS.c.id == item["id"],
                                           _LETTERS.c.status == "queued")
                    .values(status="rendered", file=item["file"], checksum=item["checksum"],
                            pages=item["pages"], sheets=item["sheets"],
                            address=item["address"], postcode=item["postcode"],
                            rendered_at=now, reason=None)
                )
                summary.rendered += result.rowcount
                if result.rowcount:
                    summary.case_ids.add(int(row_case[item["id"]]))
        done += len(ids)
        if progress:
            progress(done, max(total, done))


def form_batches(engine: Engine, run_date: date, out: Path) -> list[dict[str, Any]]:
    """Merge rendered letters into mail-house batches sorted by postcode, with manifests."""
    size: int = engine.settings["letters.batch_size"]
    made: list[dict[str, Any]] = []
    folder = out / run_date.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        with unit_of_work(engine) as conn:
            # The letters and their people are locked together (PostgreSQL), people being
            # flagged at this moment skipped: a flag that commits first leaves its person's
            # letters out (hold_flagged_rendered holds them), and one that comes later waits
            # for this batch and pulls them from it (cases.flag_person: to_pull). Nothing
            # waits here (a locked row is left for the next run): no deadlock with a flag.
            ids = conn.execute(
                select(_LETTERS.c.id)
                .join(Case, Case.id == _LETTERS.c.case_id)
                .join(Participant, Participant.id == Case.participant_id)
                .where(_LETTERS.c.status == "rendered", _LETTERS.c.batch.is_(None),
                       # flagged since it was made (hold_flagged_rendered holds it)
                       or_(Participant.flag.is_(None), Participant.flag.not_in(PERSON_FLAGS)))
                .order_by(_LETTERS.c.postcode, _LETTERS.c.id).limit(size)
                .with_for_update(skip_locked=True, of=[_LETTERS, Participant.__table__])
            ).scalars().all()
            if not ids:
                return made
            name = f"{run_date:%Y%m%d}-{min(ids)}"
            # Claim first (SQLite: this takes the write lock), then merge while holding it:
            # a crash leaves no half-made batch in the database, and no letter is merged twice.
            claimed = conn.execute(
                update(_LETTERS).where(_LETTERS.c.id.in_(ids), _LETTERS.c.status == "rendered",
                                       _LETTERS.c.batch.is_(None))
                .values(status="in_batch", batch=name)
            ).rowcount
            if claimed != len(ids):  # another process batched some of them meanwhile
                conn.rollback()
                continue
            rows = conn.execute(
                select(_LETTERS.c.id, _LETTERS.c.file, _LETTERS.c.case_id, _LETTERS.c.template,
                       _LETTERS.c.variant, _LETTERS.c.pages, _LETTERS.c.sheets,
                       _LETTERS.c.address, _LETTERS.c.postcode, _LETTERS.c.checksum,
                       Case.workflow_id)
                .join(Case, Case.id == _LETTERS.c.case_id)
                .where(_LETTERS.c.id.in_(ids))
                .order_by(_LETTERS.c.postcode, _LETTERS.c.id)
            ).all()
            pdf_path = folder / f"batch-{name}.pdf"
            manifest_path = folder / f"batch-{name}.csv"
            _write_batch_files(out, rows, pdf_path, manifest_path)
            # Sealed from here on: its letters and files never change.
            record_batch(conn, name, run_date, rows, pdf_path, manifest_path, engine.now())
        made.append({
            "batch": name, "letters": len(rows), "pages": sum(r.pages or 0 for r in rows),
            "sheets": sum(r.sheets or 0 for r in rows),
            "pdf": str(pdf_path.relative_to(out)),
            "manifest": str(manifest_path.relative_to(out)),
        })


def _write_batch_files(out: Path, rows: list[Any], pdf_path: Path, manifest_path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for row in rows:
        writer.append(str(out / row.file), import_outline=False)  # absolute paths stay as is
    # Both files are complete before either replaces anything.
    pdf_file = open_output(pdf_path, binary=True)
    manifest = open_output(manifest_path, newline="", encoding="utf-8")
    try:
        writer.write(pdf_file.file)
        writer.close()
        out_csv = csv_writer(manifest.file, delimiter=";")
        out_csv.writerow(MANIFEST_COLUMNS)
        for row in rows:
            lines = [*(row.address or []), "", "", "", "", "", "", ""]
            out_csv.writerow([row.id, case_reference(row.workflow_id, row.case_id),
                              row.template, row.variant or "", row.pages, row.sheets,
                              *lines[:7], row.postcode, row.checksum])
    except BaseException:
        pdf_file.abort()
        manifest.abort()
        raise
    pdf_file.commit()
    manifest.commit()


# --- lifecycle ----------------------------------------------------------------------------


def list_letters(engine: Engine, actor: Actor, case_id: int | None = None,
                 status: str | None = None, batch: str | None = None,
                 limit: int | None = 500) -> dict[str, Any]:
    """Return letters, newest first; logs the read of the cases shown."""
    actor.require("letters")
    conditions = []
    if case_id is not None:
        conditions.append(_LETTERS.c.case_id == case_id)
    if status:
        conditions.append(_LETTERS.c.status == status)
    if batch:
        conditions.append(_LETTERS.c.batch == batch)
    query = select(_LETTERS).where(*conditions).order_by(_LETTERS.c.id.desc())
    if limit:
        query = query.limit(limit)
    with unit_of_work(engine) as conn:
        total = conn.execute(select(func.count()).select_from(_LETTERS)
                             .where(*conditions)).scalar_one()
        rows = conn.execute(query).all()
        if rows:
            log_access(conn, actor, "letters list", sorted({r.case_id for r in rows}),
                       "letters", engine.now())
    return {"total": total, "letters": [{
        "id": r.id, "case_id": r.case_id, "template": r.template, "variant": r.variant,
        "status": r.status, "batch": r.batch, "pages": r.pages, "sheets": r.sheets,
        "file": r.file, "checksum": r.checksum, "reason": r.reason,
        "created_at": r.created_at.isoformat(),
        "rendered_at": r.rendered_at.isoformat() if r.rendered_at else None,
        "sent_at": r.sent_at.isoformat() if r.sent_at else None,
        "returned_at": r.returned_at.isoformat() if r.returned_at else None,
    } for r in rows]}


def count_letters(engine: Engine, actor: Actor) -> dict[str, int]:
    """Return how many letters there are per status (counts only: no case is shown, so
    nothing is logged)."""
    actor.require("letters")
    with engine.db.connect() as conn:
        rows = conn.execute(select(_LETTERS.c.status, func.count())
                            .group_by(_LETTERS.c.status)).all()
    return {status: int(count) for status, count in rows}


def _letter(conn: Any, letter_id: int) -> Any:
    row = conn.execute(select(_LETTERS).where(_LETTERS.c.id == letter_id)).first()
    if row is None:
        raise NotFound(f"no letter {letter_id}; see 'casework letters list'",
                       says=f"Er is geen brief {letter_id}.")
    return row


def mark_returned(engine: Engine, actor: Actor, letter_id: int) -> dict[str, Any]:
    """Record returned mail; the case gets a task to check the address."""
    actor.require("letters")
    with unit_of_work(engine) as conn:
        row = _letter(conn, letter_id)
        if row.status != "sent":
            raise InvalidData(f"letter {letter_id} is {row.status}; only a sent letter can "
                              "come back", says=f"Brief {letter_id} is niet verstuurd (of al "
                                                "als teruggekomen vastgelegd).")
        now = engine.now()
        conn.execute(update(_LETTERS).where(_LETTERS.c.id == letter_id)
                     .values(status="returned", returned_at=now))
        _address_task(conn, engine, letter_id, row.case_id, "post kwam terug",
                      f"letter:{letter_id}:returned", now)
    return {"letter": letter_id, "status": "returned", "case_id": row.case_id}


# --- preview, check, calibrate ---------------------------------------------------------------


def preview(engine: Engine, actor: Actor, template: str, case_id: int,
            payload: Mapping[str, Any] | None = None) -> tuple[LetterRenderer, dict[str, Any]]:
    """Return the renderer and the context of a letter for a case, as it would be made today."""
    actor.require("letters")
    with unit_of_work(engine) as conn:
        row = _preview_case(conn, case_id)
        check_cases(conn, actor, [case_id], "letters")  # the actor's projects
        log_access(conn, actor, "letter preview", [case_id], "letters", engine.now())
    route = engine.registry.get(row.workflow_id, row.workflow_version)
    variables = engine.rules.letter_variables(route, {"id": case_id}, template, engine.settings)
    fake = _Row(id=0, template=template, variant=variables.get("variant"),
                payload={**(row.case_data or {}), **(payload or {})}, attempts=0,
                **row._mapping)
    today = engine.now().astimezone(engine.tz).date()
    return renderer(engine), letter_context(engine, fake, today)


def preview_letter(engine: Engine, actor: Actor, case_id: int, letter_id: int) -> bytes:
    """Return the PDF of one of a case's letters as it would be made now: its template,
    variant and what the step put in it, with the person's present address, dated the day
    it was rendered (today when it was not). For whoever may read the case (the case page),
    or handle the letters of its project (``letters preview``); logged as a preview. A
    letter of another case is not found, as a case out of reach is."""
    capabilities = [c for c in ("case.read", "letters") if actor.has(c)]
    if not capabilities:
        actor.require("case.read")
    with unit_of_work(engine) as conn:
        row = _preview_case(conn, case_id)
        for capability in capabilities:  # a case of their own, or of their projects' mail
            try:
                check_cases(conn, actor, [case_id], capability)
                break
            except NotAllowed:
                if capability == capabilities[-1]:
                    raise
        letter = conn.execute(select(_LETTERS).where(_LETTERS.c.id == letter_id,
                                                     _LETTERS.c.case_id == case_id)).first()
        if letter is None:
            raise NotFound(f"case {case_id} has no letter {letter_id}")
        log_access(conn, actor, "letter preview", [case_id], "letters", engine.now())
    fake = _Row(id=letter.id, template=letter.template, variant=letter.variant,
                payload=letter.payload, attempts=0, **row._mapping)
    day = (letter.rendered_at or engine.now()).astimezone(engine.tz).date()
    return renderer(engine).pdf(letter.template, letter_context(engine, fake, day))


def _preview_case(conn: Any, case_id: int) -> Any:
    row = conn.execute(
        select(Case.id.label("case_id"), Case.workflow_id, Case.workflow_version,
               Case.data.label("case_data"), Participant.initials, Participant.prefix,
               Participant.surname, Participant.street, Participant.house_number,
               Participant.house_number_suffix, Participant.postcode, Participant.city)
        .join(Participant, Participant.id == Case.participant_id)
        .where(Case.id == case_id)
    ).first()
    if row is None:
        raise NotFound(no_case(case_id))  # a number that may be a BSN is not repeated
    return row


class _Row:
    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


HOSTILE = {
    "name": "Å.-M. #set van 't $Hoog-Uit* _de_ Wit-\\Ståhlberg <script>@ref [x] `y` \"q\"",
    "lines": [
        "Å.-M. #set van 't $Hoog-Uit* _de_ Wit-\\Ståhlberg",
        "p/a Stichting De Overloop \"Noord\" & Co",
        "t.a.v. afdeling Beheer <admin>",
        "Langestraat-Achter de Hoge Brug 1234 bis",
        "2e verdieping, kamer 12 [achteringang]",
        "9711 AB  GRONINGEN",
    ],
    "themes": {"daily_activities": "Zorgt voor moeder; *soms* 50% #druk $$ @ 08:00 \\ klaar",
               "health": "Rug <L4> _hernia_ // niet opschrijven?"},
}


def check_templates(engine: Engine, workflow_id: str | None = None) -> list[dict[str, Any]]:
    """Render every template and variant against a sample person with hostile values;
    return one result per template and variant (ok, or the error)."""
    r = renderer(engine)
    route = engine.registry.get(workflow_id) if workflow_id else next(iter(engine.registry))
    results = []
    for template in r.templates():
        for variant in engine.rules.letter_variants() or [None]:
            row = _Row(id=0, case_id=999999, template=template, variant=variant,
                       workflow_id=route.id, workflow_version=route.version, attempts=0,
                       payload={"appointment": "2026-12-24T09:30:00+00:00",
                                "location": HOSTILE["lines"][1], "partner": "wij_team",
                                "themes": HOSTILE["themes"], "agreed": HOSTILE["lines"][2]},
                       case_data={}, initials=None, prefix=None, surname=HOSTILE["name"],
                       street="x", house_number=1, house_number_suffix=None,
                       postcode="9711 AB", city="Groningen")
            try:
                ctx = letter_context(engine, row,
                                     engine.now().astimezone(engine.tz).date())
                ctx["address"] = HOSTILE["lines"]
                pdf = r.pdf(template, ctx)
                pages = count_pages(pdf)
                problem = check_address(ctx["address"])
                if pages > r.max_pages:
                    problem = f"{pages} pages, more than letters.max_pages ({r.max_pages})"
                results.append({"template": template, "variant": variant, "pages": pages,
                                "ok": problem is None, "error": problem})
            except LetterError as exc:
                results.append({"template": template, "variant": variant, "pages": 0,
                                "ok": False, "error": str(exc)})
    return results


def calibration_pdf(engine: Engine) -> bytes:
    """Return a page with the configured window drawn, to hold against a real envelope."""
    import typst

    s = engine.settings
    left, top = s["letters.window_left_mm"], s["letters.window_top_mm"]
    width, height = s["letters.window_width_mm"], s["letters.window_height_mm"]
    marks = "\n".join(
        f"#place(top + left, dx: {mm}mm, dy: 0mm, line(length: 5mm, angle: 90deg))"
        f"#place(top + left, dx: {mm}mm + 0.5mm, dy: 5mm, text(size: 6pt)[{mm // 10}])"
        for mm in range(0, 211, 10))
    source = f"""#set page(paper: "a4", margin: 0mm)
#set text(font: "Libertinus Serif", size: 9pt, lang: "nl")
{marks}
#place(top + left, dx: {left}mm, dy: {top}mm,
  rect(width: {width}mm, height: {height}mm, stroke: 0.4pt + red)[
    #set text(size: 8pt)
    Venster: {left} mm van links, {top} mm van boven, {width} x {height} mm
    (#raw("letters.window_*_mm") in config.toml)
  ])
#place(top + left, dx: 20mm, dy: 120mm, block(width: 170mm)[
  Print deze pagina op 100% (niet passend maken), vouw hem zoals de brieven en steek hem in
  een envelop. Het rode kader moet helemaal in het venster vallen. Pas anders de
  instellingen aan en print opnieuw.
])
"""
    return bytes(typst.compile(source.encode("utf-8"), format="pdf"))
