"""What a step does besides moving its case: one small class per kind of effect.

A step (casework.engine.Step) carries a list of effects. Each effect knows its rows: ``add``
puts them in the per-table buffers of an ``EffectRows``, folding them with the rows earlier
steps of the same case left pending (an invitation, then a reschedule, in one chunk), so
``EffectRows.write`` can run one ``executemany`` per table. Rules add effects in
``after_transition`` like the core does.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, insert, or_, select, update

from casework.bulkwrite import write_many
from casework.db import is_in
from casework.models import (
    PLANNED,
    Appointment,
    Consent,
    Letter,
    Match,
    MeetingAttendance,
    Referral,
    Task,
)

if TYPE_CHECKING:
    from casework.engine import Step

_TASKS = Task.__table__
_LETTERS = Letter.__table__
_APPOINTMENTS = Appointment.__table__
_REFERRALS = Referral.__table__
_ATTENDANCE = MeetingAttendance.__table__

# Cancel a case's open tasks: those of its state, and those of the scopes b_case_scope and
# b_person_scope ('state' when not wanted; or_ rather than in_: no IN list in an executemany).
_CANCEL_TASKS = (
    update(_TASKS)
    .where(_TASKS.c.case_id == bindparam("b_case"), _TASKS.c.status == "open",
           or_(_TASKS.c.scope == "state", _TASKS.c.scope == bindparam("b_case_scope"),
               _TASKS.c.scope == bindparam("b_person_scope")))
    .values(status="cancelled", done_at=bindparam("b_now"))
)
# What each level of CancelTasks cancels, by the task's scope (casework.route_format TASK).
TASK_SCOPES = {"state": ("state",), "case": ("state", "case"),
               "person": ("state", "case", "person")}
_MARK_PLANNED = (
    update(_APPOINTMENTS)
    .where(_APPOINTMENTS.c.case_id == bindparam("b_case"), _APPOINTMENTS.c.status == PLANNED)
    .values(status=bindparam("b_status"))
)
# A letter not yet made (or held) is replaced by a newer one of the same kind (a moved
# appointment; an invitation held because it could not arrive in time).
_SUPERSEDE_LETTERS = (
    update(_LETTERS)
    .where(_LETTERS.c.case_id == bindparam("b_case"),
           _LETTERS.c.template == bindparam("b_template"),
           _LETTERS.c.partner.is_not_distinct_from(bindparam("b_partner")),
           # or_ rather than in_: an IN list cannot be used in an executemany.
           or_(_LETTERS.c.status == "queued", _LETTERS.c.status == "held"))
    .values(status="cancelled", reason=bindparam("b_reason"))
)
REPLACED = "replaced by a newer letter"
UNSENT = ("queued", "held", "rendered", "in_batch")
# The start of the reason of a letter held because its person is flagged: clearing the flag
# queues exactly these letters again.
FLAGGED = "not sent: the person"
_FLAG_WORDS = {"deceased": "died", "moved": "moved away"}


def flagged_reason(flag: str) -> str:
    """Return the reason a letter to a person with this flag is held."""
    return (f"{FLAGGED} {_FLAG_WORDS.get(flag, flag)} (flag {flag}); clearing the flag "
            "('casework case flag CASE none') queues it again")


_INSERT = {table: insert(table) for table in (
    _TASKS, _LETTERS, _APPOINTMENTS, _REFERRALS, Match.__table__, Consent.__table__,
    _ATTENDANCE)}


@dataclass
class EffectRows:
    """The rows a group of steps asks for, per table, folded in memory case by case."""

    now: datetime
    cancel_tasks: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    pending_tasks: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    marks: list[dict[str, Any]] = field(default_factory=list)
    appointments: list[dict[str, Any]] = field(default_factory=list)
    pending_appointment: dict[int, dict[str, Any]] = field(default_factory=dict)
    referrals: list[dict[str, Any]] = field(default_factory=list)
    matches: list[dict[str, Any]] = field(default_factory=list)
    # (meeting, case) -> the attendance a meeting step records (once per meeting and case)
    attendances: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    consents: list[dict[str, Any]] = field(default_factory=list)
    letters: list[dict[str, Any]] = field(default_factory=list)
    pending_letters: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    # case -> the steps that cancel all its unsent letters (they learn what is to be pulled)
    cancel_all: dict[int, list[Step]] = field(default_factory=dict)
    # case -> the templates its closing keeps (a report still owed to the person)
    keep_letters: dict[int, tuple[str, ...]] = field(default_factory=dict)
    cancel_named: dict[tuple[int, str], Step] = field(default_factory=dict)
    superseded: dict[tuple[int, str, str | None], dict[str, Any]] = field(default_factory=dict)
    superseders: dict[tuple[int, str, str | None], Step] = field(default_factory=dict)
    # Cases whose first step (Step.fresh) is among these: nothing of theirs is stored yet,
    # so what their later steps cancel, move or replace is all here, folded in memory.
    fresh: set[int] = field(default_factory=set)

    def add(self, step: Step) -> None:
        if step.fresh:
            self.fresh.add(step.case_id)
        for effect in step.effects:
            effect.add(step, self)

    def write(self, conn: Connection) -> None:
        """Write the rows, one statement per table; steps learn the letters to be pulled."""
        if self.cancel_tasks:
            write_many(conn, _CANCEL_TASKS, list(self.cancel_tasks.values()))
        if self.tasks:
            write_many(conn, _INSERT[_TASKS], self.tasks)
        if self.marks:
            write_many(conn, _MARK_PLANNED, self.marks)
        if self.appointments:
            write_many(conn, _INSERT[_APPOINTMENTS], self.appointments)
        if self.referrals:
            write_many(conn, _INSERT[_REFERRALS], self.referrals)
        if self.matches:
            write_many(conn, _INSERT[Match.__table__], self.matches)
        if self.consents:
            write_many(conn, _INSERT[Consent.__table__], self.consents)
        if self.attendances:
            _record_attendances(conn, self.attendances)
        # A case's letters are replaced before they are all stopped: a case closes last.
        if self.superseded:
            write_many(conn, _SUPERSEDE_LETTERS, list(self.superseded.values()))
            pulled = _pull_superseded(conn, set(self.superseded))
            by_kind = {(case, template): step
                       for (case, template, _), step in self.superseders.items()}
            for pull in pulled:  # told by the step whose newer letter replaced it
                by_kind[(pull["case_id"], pull["template"])].to_pull.append(pull)
        if self.cancel_all:
            by_keep: dict[tuple[str, ...], list[int]] = {}
            for case_id in self.cancel_all:
                by_keep.setdefault(self.keep_letters.get(case_id, ()), []).append(case_id)
            pulls = [pull for keep, cases in by_keep.items()
                     for pull in cancel_pending_letters(conn, cases, keep=keep).to_pull]
            for case_id, enders in self.cancel_all.items():
                for step in enders:
                    step.to_pull += [p for p in pulls if p["case_id"] == case_id]
            # A closed case's referrals that no partner took up are no longer open to partners.
            conn.execute(update(_REFERRALS)
                         .where(is_in(conn, _REFERRALS.c.case_id, list(self.cancel_all)),
                                _REFERRALS.c.status == "sent")
                         .values(status="closed", updated_at=self.now))
        if self.cancel_named:  # not yet in a batch, the render drops it (mailroom: outdated)
            for row in conn.execute(
                    select(_LETTERS.c.id, _LETTERS.c.case_id, _LETTERS.c.template)
                    .where(is_in(conn, _LETTERS.c.case_id,
                                 sorted({c for c, _ in self.cancel_named})),
                           _LETTERS.c.status == "in_batch")).all():
                step = self.cancel_named.get((row.case_id, row.template))
                if step is not None:
                    step.to_pull += cancel_pending_letters(
                        conn, [row.case_id], letter_id=row.id,
                        reason="the appointment it names has ended").to_pull
        if self.letters:
            write_many(conn, _INSERT[_LETTERS], self.letters)


class Effect(ABC):
    """One thing a step does besides its case update and event."""

    @abstractmethod
    def add(self, step: Step, rows: EffectRows) -> None:
        """Add the rows this effect asks for (folded with the case's pending ones)."""


@dataclass
class PlanTask(Effect):
    """Work a state plans on entry (casework.engine.plan_task makes the row)."""

    row: dict[str, Any]

    def add(self, step: Step, rows: EffectRows) -> None:
        # Dated by the step, so a work list as of a past day shows the work then. The row is
        # the step's own (made for it by the engine), written once: not copied.
        row = self.row
        row["created_at"] = step.at
        rows.tasks.append(row)
        rows.pending_tasks.setdefault(step.case_id, []).append(row)


@dataclass
class CancelTasks(Effect):
    """Cancel the case's open work: that of the state it leaves ("state"); on closing all of
    it but the work owed to the person ("case"), or that too ("person": nothing may be sent
    to them any more)."""

    scope: str  # a key of TASK_SCOPES

    def add(self, step: Step, rows: EffectRows) -> None:
        cancelled = TASK_SCOPES[self.scope]
        if step.case_id not in rows.fresh:
            rows.cancel_tasks.setdefault((step.case_id, self.scope), {
                "b_case": step.case_id, "b_now": step.at,
                "b_case_scope": "case" if "case" in cancelled else "state",
                "b_person_scope": "person" if "person" in cancelled else "state",
            })
        for row in rows.pending_tasks.get(step.case_id, []):
            if row["status"] == "open" and row["scope"] in cancelled:
                row["status"] = "cancelled"
                row["done_at"] = step.at


@dataclass
class QueueLetter(Effect):
    """A letter to make (Engine.letter_row makes the row); it replaces an unsent one of the
    same kind."""

    row: dict[str, Any]

    def add(self, step: Step, rows: EffectRows) -> None:
        row = self.row  # the step's own (made for it by the engine), written once
        row["created_at"] = rows.now
        row.setdefault("reason", None)
        for earlier in rows.pending_letters.get(step.case_id, []):
            if (earlier["template"], earlier["partner"], earlier["status"]) == (
                    row["template"], row["partner"], "queued"):
                earlier["status"] = "cancelled"  # a newer letter of the same kind
                earlier["reason"] = REPLACED  # as the update of a stored one says
        if step.case_id not in rows.fresh:
            rows.superseded.setdefault((step.case_id, row["template"], row["partner"]), {
                "b_case": step.case_id, "b_template": row["template"],
                "b_partner": row["partner"], "b_reason": REPLACED})
            rows.superseders[(step.case_id, row["template"], row["partner"])] = step
        rows.letters.append(row)
        rows.pending_letters.setdefault(step.case_id, []).append(row)


@dataclass
class CancelLetters(Effect):
    """Stop the case's unsent letters: all of them (templates None) but those of the
    templates kept (a report still owed to the person), or only those of the templates named
    (letters naming an appointment that ended; none named: none stopped)."""

    templates: list[str] | None = None
    keep: tuple[str, ...] = ()

    def add(self, step: Step, rows: EffectRows) -> None:
        if self.templates is not None:
            for template in self.templates:
                rows.cancel_named[(step.case_id, template)] = step
            return
        rows.cancel_all.setdefault(step.case_id, []).append(step)
        rows.keep_letters[step.case_id] = self.keep
        for row in rows.pending_letters.get(step.case_id, []):
            if row["template"] not in self.keep:
                row["status"] = "cancelled"


@dataclass
class BookAppointment(Effect):
    """A proposed appointment (none: the old one is off and no new one is set)."""

    starts_at: str | None
    location: str | None = None
    specialist: str | None = None

    def status_of_previous(self, step: Step) -> str:
        """Return what becomes of the appointment this one replaces, as the route's
        transition declares it (old_appointment: e.g. not_home, else moved)."""
        return step.transition.old_appointment

    def add(self, step: Step, rows: EffectRows) -> None:
        if step.case_id in rows.pending_appointment:
            rows.pending_appointment.pop(step.case_id)["status"] = self.status_of_previous(step)
        elif step.case_id not in rows.fresh:
            rows.marks.append({"b_case": step.case_id, "b_status": self.status_of_previous(step)})
        if self.starts_at:
            row = {"case_id": step.case_id, "starts_at": datetime.fromisoformat(self.starts_at),
                   "location": self.location, "status": "planned", "created_at": rows.now,
                   "specialist": self.specialist}
            rows.appointments.append(row)
            rows.pending_appointment[step.case_id] = row


@dataclass
class EndAppointment(Effect):
    """The case's planned appointment ended: held, missed, cancelled (the route says)."""

    status: str

    def add(self, step: Step, rows: EffectRows) -> None:
        if step.case_id in rows.pending_appointment:
            rows.pending_appointment.pop(step.case_id)["status"] = self.status
        elif step.case_id not in rows.fresh:
            # Only a step books an appointment: a case whose first step is among these has
            # none stored, and those these steps booked were ended above (the close of a
            # case that went invite, conversation, ... close in one file: no update).
            rows.marks.append({"b_case": step.case_id, "b_status": self.status})


@dataclass
class Refer(Effect):
    """A referral sent to a partner."""

    partner: str

    def add(self, step: Step, rows: EffectRows) -> None:
        rows.referrals.append({"case_id": step.case_id, "partner": self.partner,
                               "status": "sent", "outcome": None, "referred_at": step.at,
                               "updated_at": rows.now})


@dataclass
class RecordMatch(Effect):
    """A match with an employer."""

    employer_id: int
    job: Any = None
    hours_per_week: Any = None
    fte: Any = None

    def add(self, step: Step, rows: EffectRows) -> None:
        rows.matches.append({"case_id": step.case_id, "employer_id": self.employer_id,
                             "job": self.job, "hours_per_week": self.hours_per_week,
                             "fte": self.fte, "matched_at": step.at, "origin_seq": step.seq})


@dataclass
class RecordAttendance(Effect):
    """The case's presence at a meeting, recorded by the route's meeting step (``[workflow]
    meeting_step`` with the field ``meeting``): the same row ``casework event attend`` writes,
    so the meeting's count and the case file agree with the step however it was taken."""

    meeting_id: int

    def add(self, step: Step, rows: EffectRows) -> None:
        rows.attendances.setdefault((self.meeting_id, step.case_id), {
            "meeting_id": self.meeting_id, "case_id": step.case_id,
            "recorded_by": step.actor or "?", "at": step.at})


def _record_attendances(conn: Connection,
                        wanted: dict[tuple[int, int], dict[str, Any]]) -> None:
    """Insert the attendances not recorded yet (``event attend`` records its own first)."""
    present = {(row.meeting_id, row.case_id) for row in conn.execute(
        select(_ATTENDANCE.c.meeting_id, _ATTENDANCE.c.case_id)
        .where(_ATTENDANCE.c.case_id.in_(sorted({case for _, case in wanted}))))}
    rows = [row for key, row in wanted.items() if key not in present]
    if rows:
        write_many(conn, _INSERT[_ATTENDANCE], rows)


@dataclass
class GrantConsent(Effect):
    """Consents given during the step (in conversation), one row per scope."""

    participant_id: int
    scopes: list[str]
    method: str

    def add(self, step: Step, rows: EffectRows) -> None:
        rows.consents.extend({
            "participant_id": self.participant_id, "case_id": step.case_id,
            "scope": scope, "granted": True, "method": self.method,
            "recorded_by": step.actor or "?", "at": step.at,
        } for scope in self.scopes)


@dataclass
class CancelledLetters:
    """What cancelling a case's unsent letters did: how many were stopped, and which of them
    sit in a sealed batch not yet sent (marked to_pull: the batch itself never changes)."""

    count: int = 0
    to_pull: list[dict[str, Any]] = field(default_factory=list)


def cancel_pending_letters(conn: Connection, case_ids: list[int],
                           template: str | None = None, partner: str | None = None,
                           letter_id: int | None = None,
                           reason: str | None = None,
                           keep: Collection[str] = (),
                           batched_only: bool = False) -> CancelledLetters:
    """Cancel the cases' letters that have not gone to the mail house (only the one letter,
    given letter_id; none of the templates in keep; only those in a batch, batched_only). A
    letter already in a batch stays in it, marked to be pulled: a batch is sealed when made."""
    which = [is_in(conn, _LETTERS.c.case_id, case_ids), _LETTERS.c.status.in_(UNSENT)]
    if template:
        which.append(_LETTERS.c.template == template)
    if keep:
        which.append(_LETTERS.c.template.not_in(list(keep)))
    if partner:
        which.append(_LETTERS.c.partner == partner)
    if letter_id is not None:
        which.append(_LETTERS.c.id == letter_id)
    values: dict[str, Any] = {"status": "cancelled", "batch": None}
    if reason:
        values["reason"] = reason
    # First the letters in no batch; then those a batch holds (also one a concurrent run
    # put in a batch a moment ago: it is pulled, never taken out of its batch).
    count = 0 if batched_only else int(conn.execute(update(_LETTERS).where(
        *which, _LETTERS.c.status != "in_batch").values(**values)).rowcount)
    batched = conn.execute(
        select(_LETTERS.c.id, _LETTERS.c.case_id, _LETTERS.c.template, _LETTERS.c.batch)
        .where(*which, _LETTERS.c.status == "in_batch").order_by(_LETTERS.c.id)
    ).all()
    to_pull = []
    for row in batched:
        # Guarded by the status: a batch marked sent meanwhile keeps its letter sent.
        if conn.execute(update(_LETTERS).where(_LETTERS.c.id == row.id,
                                               _LETTERS.c.status == "in_batch").values(
                status="to_pull", reason=f"{reason or 'cancelled'} after batch {row.batch} "
                                         "was made: pull it from the batch before posting")
                        ).rowcount:
            to_pull.append({"letter": row.id, "case_id": row.case_id,
                            "template": row.template, "batch": row.batch})
    return CancelledLetters(count + len(to_pull), to_pull)


def _pull_superseded(conn: Connection,
                     superseded: set[tuple[int, str, str | None]]) -> list[dict[str, Any]]:
    """A newer letter of the same kind (a moved appointment) also replaces one already made:
    rendered, it is cancelled; in a batch not yet sent, it is pulled (the batch never
    changes). Return the letters to pull."""
    rows = conn.execute(
        select(_LETTERS.c.id, _LETTERS.c.case_id, _LETTERS.c.template, _LETTERS.c.partner)
        .where(is_in(conn, _LETTERS.c.case_id, sorted({case for case, _, _ in superseded})),
               _LETTERS.c.status.in_(("rendered", "in_batch")))).all()
    pulled: list[dict[str, Any]] = []
    for row in rows:
        if (row.case_id, row.template, row.partner) in superseded:
            pulled += cancel_pending_letters(conn, [row.case_id], letter_id=row.id,
                                             reason=REPLACED).to_pull
    return pulled
