"""The rules a season must keep, checked after every simulated day (and some at the end).

Each check reads what the day changed (events, tasks and letters of that day), so its cost
grows with the day's work, not with everything stored. The first rule broken stops the season
with the day, the case and the rule (SeasonBroken)."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select

from casework.calendar import add_workdays, is_workday
from casework.engine import Engine
from casework.errors import CaseworkError
from casework.models import (
    PERSON_FLAGS,
    PLANNED,
    AccessLog,
    Appointment,
    Case,
    Event,
    Letter,
    Participant,
    Task,
)

if TYPE_CHECKING:
    from casework.permissions import Actor
    from casework.simulation.season import Season

BSN_LIKE = re.compile(r"(?<!\d)\d{9}(?!\d)")
AS_OF_EVERY = 7  # days between the as-of reports kept to compare later
COMPARE_EVERY = 28


class SeasonBroken(CaseworkError):
    """A rule of the season was broken: the day, the case (when one) and the rule."""

    exit_code = 1

    def __init__(self, day: date, case_id: int | None, rule: str, detail: str) -> None:
        self.day, self.case_id, self.rule, self.detail = day, case_id, rule, detail
        where = f"case {case_id}: " if case_id is not None else ""
        super().__init__(f"day {day.isoformat()}: {where}rule broken: {rule} ({detail})")

    def as_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "case_id": self.case_id, "rule": self.rule,
                "detail": self.detail}


class Checker:
    """The season's invariants with what they remember between days."""

    def __init__(self, season: Season, engine: Engine) -> None:
        self.season = season
        self.engine = engine
        self.tz = engine.tz
        self.bsns: set[str] = set()
        self.sent: dict[str, tuple[list[int], str]] = {}  # batch -> (letter ids, pdf hash)
        self.batch_of: dict[int, str] = {}  # letter -> the batch whose manifest listed it
        self.batch_files: dict[str, Path] = {}
        self.as_of: dict[date, dict[str, Any]] = {}
        self.last_event = 0
        self.last_access = 0
        self.waves: dict[str, set[int]] = {}  # wijk -> the numbers of its waves that invited
        self.probes = 0
        from casework.engine import appointment_letters

        route = engine.registry.get(season.plan.workflow)
        self.appointment_letters = set(appointment_letters(route))
        # Closing reasons for which nothing more may be sent to the person (died, moved away):
        # only these end the work owed to them (tasks of scope "person", such as the report).
        self.silent_reasons = sorted({reason for t in route.transitions
                                      if route.is_final(t.dest) for reason in t.no_letter_for})
        self.finals = sorted(name for name, spec in route.states.items() if spec.final)
        self.appointment_tasks = {task.kind for state in route.states.values()
                                  for task in state.tasks if task.anchor == "appointment"}

    def fail(self, day: date, case_id: int | None, rule: str, detail: str) -> None:
        """Stop the season: the rule was broken on day (for case_id)."""
        raise SeasonBroken(day, case_id, rule, detail)

    # --- what is remembered ---------------------------------------------------------------

    def after_import(self) -> None:
        with self.engine.db.connect() as conn:
            self.bsns = set(conn.execute(select(Participant.bsn)).scalars())

    def output(self, text: str) -> None:
        """Check a text the season showed or wrote for a BSN."""
        for found in BSN_LIKE.findall(text):
            if found in self.bsns:
                self.fail(self.season.day, None, "no BSN in any output",
                          "an output holds a participant's BSN: "
                          + BSN_LIKE.sub("*********", text)[:200])

    def batches_made(self, day: date, batches: list[dict[str, Any]]) -> None:
        """A letter is in at most one batch: read each new batch's manifest."""
        out = self.engine.settings.letters_dir
        for batch in batches:
            manifest = out / batch["manifest"]
            self.batch_files[batch["batch"]] = out / batch["pdf"]
            text = manifest.read_text(encoding="utf-8")
            self.output(text)
            for row in list(csv.reader(text.splitlines(), delimiter=";"))[1:]:
                letter = int(row[0])
                earlier = self.batch_of.get(letter)
                if earlier is not None and earlier != batch["batch"]:
                    self.fail(day, None, "a letter is in at most one batch",
                              f"letter {letter} is in batch {earlier} and in "
                              f"{batch['batch']}")
                self.batch_of[letter] = batch["batch"]

    def wave_planned(self, day: date, wijk: str, result: dict[str, Any]) -> None:
        """A wave's number is given once in its wijk: a plan that invited people has a number
        no earlier plan of the wijk had, and its cases carry it. (Only a route planned in
        waves, the Kansen in Kaart season's, gets here; the route-driven season plans none.)"""
        if not result.get("invited"):
            return
        number = int(result["wave"])
        if number in self.waves.setdefault(wijk, set()):
            self.fail(day, None, "a wave's number is given once per wijk",
                      f"wave {number} of {wijk} was planned before")
        self.waves[wijk].add(number)
        invited = [inv["case_id"] for inv in result.get("invitations", [])]
        with self.engine.db.connect() as conn:
            other = conn.execute(select(Case.id, Case.wave).where(
                Case.id.in_(invited), Case.wave.is_distinct_from(number)).limit(1)).first()
        if other:
            self.fail(day, other.id, "a wave's number is given once per wijk",
                      f"invited in wave {number} of {wijk}, the case says wave {other.wave}")

    def batch_sent(self, batch: str) -> None:
        """Remember what went to the mail house; every letter in it that names an appointment
        names the one its case has now (a moved appointment's letter is pulled)."""
        with self.engine.db.connect() as conn:
            ids = sorted(conn.execute(select(Letter.id).where(Letter.batch == batch)).scalars())
            posted = conn.execute(
                select(Letter.id, Letter.case_id, Letter.template, Letter.payload, Case.data)
                .join(Case, Case.id == Letter.case_id)
                .where(Letter.batch == batch, Letter.status == "sent",
                       Letter.template.in_(self.appointment_letters))).all()
            flagged = conn.execute(
                select(Letter.id, Letter.case_id, Letter.template, Participant.flag)
                .join(Case, Case.id == Letter.case_id)
                .join(Participant, Participant.id == Case.participant_id)
                .where(Letter.batch == batch, Letter.status == "sent",
                       Participant.flag.in_(PERSON_FLAGS)).limit(1)).first()
        if flagged:
            self.fail(self.season.day, flagged.case_id,
                      "no letter goes to a person who died or moved away",
                      f"letter {flagged.id} ({flagged.template}) in batch {batch} went to the "
                      f"mail house; the person is flagged {flagged.flag}")
        self.sent[batch] = (ids, _digest(self.batch_files.get(batch)))
        for row in posted:
            named = (row.payload or {}).get("appointment")
            current = (row.data or {}).get("appointment")
            if named and named != current:
                self.fail(self.season.day, row.case_id,
                          "a letter handed to the mail house names the appointment its case has",
                          f"letter {row.id} ({row.template}) in batch {batch} names {named}, the "
                          f"case has {current or 'no appointment'}")

    def migrated(self, day: date, version: int) -> None:
        """The open work of the cases moved to a new route version follows that version's
        spec of its kind (scope, label, role): the report owed to the person outlives closing
        when the new version says so."""
        route = self.engine.registry.get(self.season.plan.workflow, version)
        specs: dict[str, Any] = {}
        for state in route.states.values():
            for task in state.tasks:
                specs.setdefault(task.kind, task)
        with self.engine.db.connect() as conn:
            rows = conn.execute(
                select(Task.id, Task.case_id, Task.kind, Task.scope, Task.label, Task.role)
                .join(Case, Case.id == Task.case_id)
                .where(Task.status == "open", Case.workflow_id == route.id,
                       Case.workflow_version == version, Task.kind.in_(sorted(specs)))).all()
        for row in rows:
            spec = specs[row.kind]
            if (row.scope, row.label, row.role) != (spec.scope, spec.label, spec.role):
                self.fail(day, row.case_id, "a migrated case's work follows its new version",
                          f"task {row.id} ({row.kind}) has scope {row.scope}, label "
                          f"{row.label!r}; version {version} says {spec.scope}, "
                          f"{spec.label!r}")

    # --- every day --------------------------------------------------------------------------

    def day(self, day: date) -> None:
        start = datetime.combine(day, time(), tzinfo=self.tz)
        self.stale_work(day, start)
        self.owed_work(day, start)
        self.letters(day, start)
        self.letters_made_by_the_run(day)
        self.sent_batches(day, files=(day - self.season.plan.start).days % 7 == 6)
        first_event = self.last_event
        self.planned_work(day, first_event)
        self.budgets(day)
        self.attendance(day, first_event)
        self.replay(day)
        self.personal_data(first_event)
        self.reports(day)

    def stale_work(self, day: date, start: datetime) -> None:
        from casework.daily import last_complete_date

        e = self.engine
        last_run = last_complete_date(e)
        with e.db.connect() as conn:
            # Work owed to the person (the report) stays open after closing, unless nothing
            # more may be sent to them.
            closed = conn.execute(
                select(Task.id, Task.case_id, Task.kind, Case.close_reason)
                .join(Case, Case.id == Task.case_id)
                .where(Task.status == "open", Case.closed_at.is_not(None),
                       or_(Task.scope != "person",
                           Case.close_reason.in_(self.silent_reasons))).limit(1)).first()
            if closed:
                self.fail(day, closed.case_id, "no open task on a closed case",
                          f"task {closed.id} ({closed.kind}) is open; the case closed: "
                          f"{closed.close_reason}")
            created = conn.execute(
                select(Task.id, Task.case_id, Task.kind, Task.due, Case.state_entered_at)
                .join(Case, Case.id == Task.case_id)
                .where(Task.created_at >= start, Task.status == "open",
                       Task.scope == "state")).all()
            for row in created:
                entered = row.state_entered_at.astimezone(self.tz).date()
                if row.due < entered:
                    self.fail(day, row.case_id,
                              "no task due before its case entered its state",
                              f"task {row.id} ({row.kind}) is due {row.due}, the case "
                              f"entered its state on {entered}")
            twice = conn.execute(
                select(Appointment.specialist, Appointment.starts_at)
                .where(Appointment.status == PLANNED, Appointment.specialist.is_not(None))
                .group_by(Appointment.specialist, Appointment.starts_at)
                .having(func.count() > 1).limit(1)).first()
            if twice:
                self.fail(day, None, "an appointment slot is booked for a person never twice",
                          f"{twice.specialist} has two appointments at "
                          f"{twice.starts_at.astimezone(self.tz):%Y-%m-%d %H:%M}")
            if last_run is None or not self.appointment_tasks:
                return
            cutoff = datetime.combine(last_run, time(), tzinfo=self.tz)
            reminders = conn.execute(
                select(Task.id, Task.case_id, Task.kind, Case.data)
                .join(Case, Case.id == Task.case_id)
                .where(Task.status == "open", Task.kind.in_(self.appointment_tasks),
                       Task.due < last_run)).all()
        for row in reminders:
            moment = (row.data or {}).get("appointment")
            if moment and datetime.fromisoformat(moment) < cutoff:
                when = datetime.fromisoformat(moment).astimezone(self.tz)
                self.fail(day, row.case_id,
                          "no open reminder call for an appointment that has passed",
                          f"task {row.id} ({row.kind}) is open for the appointment "
                          f"of {when:%Y-%m-%d %H:%M} (daily run of {last_run} done)")

    def owed_work(self, day: date, start: datetime) -> None:
        """A person spoken to gets their report: closing a case does not stop the work owed to
        the person (tasks of scope "person") unless nothing may be sent to them any more (a
        closing reason of the route's no_letter_for: died, moved away)."""
        with self.engine.db.connect() as conn:
            closed_today = select(Event.case_id).where(Event.id > self.last_event,
                                                        Event.to_state.in_(self.finals))
            stopped = conn.execute(
                select(Task.id, Task.case_id, Task.kind, Case.close_reason)
                .join(Case, Case.id == Task.case_id)
                .where(Task.case_id.in_(closed_today), Task.scope == "person",
                       Task.status == "cancelled", Task.done_at >= start,
                       or_(Case.close_reason.is_(None),
                           Case.close_reason.not_in(self.silent_reasons)))
                .order_by(Task.id).limit(1)).first()
        if stopped:
            self.fail(day, stopped.case_id, "closing does not stop the work owed to the person",
                      f"task {stopped.id} ({stopped.kind}) was cancelled when the case closed: "
                      f"{stopped.close_reason}")

    def letters_made_by_the_run(self, day: date) -> None:
        """The daily run makes every letter queued before it (a closed case's report too):
        none is left in the queue, each is made, held with a task, or cancelled."""
        if not is_workday(day):
            return
        run = self.season.at(day, 6)  # the season's daily run starts then
        with self.engine.db.connect() as conn:
            left = conn.execute(
                select(Letter.id, Letter.case_id, Letter.template, Letter.created_at)
                .where(Letter.status == "queued", Letter.created_at < run)
                .order_by(Letter.id).limit(1)).first()
        if left:
            self.fail(day, left.case_id, "the daily run makes every letter queued before it",
                      f"letter {left.id} ({left.template}) queued "
                      f"{left.created_at.astimezone(self.tz):%Y-%m-%d %H:%M} is still in the "
                      "queue")

    def letters(self, day: date, start: datetime) -> None:
        """Every letter is dated the day it was rendered; none proposes or reminds of an
        appointment that will have passed when it can arrive."""
        e = self.engine
        workdays: int = e.settings["letters.delivery_workdays"]
        arrives = add_workdays(day, workdays)
        with e.db.connect() as conn:
            rows = conn.execute(select(Letter.id, Letter.case_id, Letter.template,
                                       Letter.file, Letter.payload, Letter.rendered_at)
                                .where(Letter.rendered_at >= start)
                                .order_by(Letter.id)).all()
            flagged = conn.execute(
                select(Letter.id, Letter.case_id, Letter.template, Letter.status,
                       Participant.flag)
                .join(Case, Case.id == Letter.case_id)
                .join(Participant, Participant.id == Case.participant_id)
                .where(Letter.rendered_at >= start,
                       Letter.status.in_(("rendered", "in_batch", "sent")),
                       Participant.flag.in_(PERSON_FLAGS)).limit(1)).first()
        if flagged:
            self.fail(day, flagged.case_id, "no letter goes to a person who died or moved away",
                      f"letter {flagged.id} ({flagged.template}) is {flagged.status}; the "
                      f"person is flagged {flagged.flag}")
        for n, row in enumerate(rows):
            rendered = row.rendered_at.astimezone(self.tz).date()
            folder = Path(row.file).parent.parent.name if row.file else ""
            if folder != rendered.isoformat():
                self.fail(day, row.case_id, "every letter is dated the day it was "
                          "rendered", f"letter {row.id} was rendered on {rendered} "
                          f"with the date of {folder}")
            if n == 0 and row.file:  # read what is printed on one of the day's letters
                self._printed_date(day, row, rendered)
            moment = (row.payload or {}).get("appointment")
            if row.template in self.appointment_letters and moment:
                when = datetime.fromisoformat(moment).astimezone(self.tz)
                if when.date() < arrives:
                    self.fail(
                              day, row.case_id, "no letter proposes or reminds of an appointment "
                              "that will have passed when it can arrive",
                              f"letter {row.id} ({row.template}) made {rendered} arrives "
                              f"{arrives} at the earliest, for the appointment of "
                              f"{when:%Y-%m-%d %H:%M}")

    def _printed_date(self, day: date, row: Any, rendered: date) -> None:
        from pypdf import PdfReader

        from casework.letters import dutch_date

        text = " ".join((page.extract_text() or "") for page in PdfReader(row.file).pages)
        self.output(text)
        if dutch_date(rendered) not in " ".join(text.split()):
            self.fail(day, row.case_id, "every letter is dated the day it was rendered",
                      f"letter {row.id} does not print {dutch_date(rendered)}")

    def sent_batches(self, day: date, files: bool) -> None:
        """A batch handed to the mail house never changes."""
        if not self.sent:
            return
        with self.engine.db.connect() as conn:
            rows = conn.execute(select(Letter.batch, Letter.id).where(
                Letter.batch.in_(list(self.sent)))).all()
        now: dict[str, list[int]] = {}
        for batch, letter in rows:
            now.setdefault(batch, []).append(letter)
        for batch, (ids, digest) in self.sent.items():
            if sorted(now.get(batch, [])) != ids:
                self.fail(day, None, "a batch handed to the mail house never changes",
                          f"batch {batch} held letters {ids[:5]}..., now "
                          f"{sorted(now.get(batch, []))[:5]}...")
            if files and _digest(self.batch_files.get(batch)) != digest:
                self.fail(day, None, "a batch handed to the mail house never changes",
                          f"the PDF of batch {batch} changed or is gone")

    def replay(self, day: date) -> None:
        """Each case's state equals the replay of its events through its route version."""
        e = self.engine
        with e.db.connect() as conn:
            touched = sorted(set(conn.execute(
                select(Event.case_id).where(Event.id > self.last_event)).scalars()))
            top = conn.execute(select(func.max(Event.id))).scalar() or 0
            for chunk in _chunks(touched, 500):
                cases = {row.id: row for row in conn.execute(
                    select(Case.id, Case.state, Case.workflow_id, Case.workflow_version,
                           Case.version, Case.closed_at).where(Case.id.in_(chunk)))}
                events: dict[int, list[Any]] = {}
                for ev in conn.execute(select(Event.case_id, Event.seq, Event.trigger,
                                              Event.from_state, Event.to_state)
                                       .where(Event.case_id.in_(chunk))
                                       .order_by(Event.case_id, Event.seq)):
                    events.setdefault(ev.case_id, []).append(ev)
                for case_id in chunk:
                    problem = _replay_problem(e, cases[case_id], events.get(case_id, []))
                    if problem:
                        self.fail(day, case_id, "each case's state equals the replay "
                                  "of its events through its route version", problem)
        self.last_event = top

    def planned_work(self, day: date, first_event: int) -> None:
        """Work is planned once and kept while its case is where it belongs: a case has at
        most one open task of a kind; a case the day touched, still in its state, has the
        state's timer open (the daily run acts on it) and its recurring work planned until
        the series has run its time."""
        from casework.calendar import shift
        from casework.durations import parse_duration

        e = self.engine
        with e.db.connect() as conn:
            touched = select(Event.case_id).where(Event.id > first_event)
            twice = conn.execute(
                select(Task.case_id, Task.kind)
                .where(Task.status == "open", Task.case_id.in_(touched))
                .group_by(Task.case_id, Task.kind).having(func.count() > 1).limit(1)).first()
            if twice:
                self.fail(day, twice.case_id, "a case has at most one open task of a kind",
                          f"{twice.kind} is open more than once")
            booked = conn.execute(
                select(Appointment.case_id, func.count())
                .where(Appointment.status == PLANNED, Appointment.case_id.in_(touched))
                .group_by(Appointment.case_id).having(func.count() > 1).limit(1)).first()
            if booked:  # each booking moves the one before, each end ends the one planned
                self.fail(day, booked[0], "a case has at most one planned appointment",
                          f"{booked[1]} appointments are planned")
            cases = conn.execute(
                select(Case.id, Case.workflow_id, Case.workflow_version, Case.state,
                       Case.state_entered_at)
                .where(Case.id.in_(touched), Case.closed_at.is_(None))).all()
            tasks: dict[int, list[Any]] = {}
            for chunk in _chunks([c.id for c in cases], 500):
                for task in conn.execute(
                        select(Task.case_id, Task.kind, Task.status, Task.due, Task.done_at,
                               Task.spec, Task.created_at, Task.id)
                        .where(Task.case_id.in_(chunk)).order_by(Task.id)):
                    tasks.setdefault(task.case_id, []).append(task)
        for case in cases:
            route = e.registry.get(case.workflow_id, case.workflow_version)
            state = route.states.get(case.state)
            if state is None:
                continue  # the replay names it
            for spec in state.tasks:
                if spec.anchor == "appointment" or not (spec.repeat or spec.by == "system"):
                    continue
                mine = [t for t in tasks.get(case.id, []) if t.kind == spec.kind
                        and t.created_at >= case.state_entered_at]
                if spec.by == "system":
                    # Open, fired, or cancelled by what stops it (a consent withdrawn).
                    if not mine:
                        self.fail(day, case.id, "entering a state plans its timer",
                                  f"the case is in {case.state} since "
                                  f"{case.state_entered_at.astimezone(self.tz):%Y-%m-%d %H:%M}"
                                  f" without its {spec.kind}")
                    continue
                if not mine or any(t.status == "open" for t in mine):
                    continue  # planned later (a stale one at once), or open
                last = mine[-1]
                done = last.done_at.astimezone(self.tz).date() if last.done_at else last.due
                following = shift(max(done, last.due),
                                  parse_duration(last.spec["repeat"]), True,
                                  (last.spec or {}).get("calendar") == "workdays")
                until = (last.spec or {}).get("until")
                if last.status == "done" and (
                        until is None or following + timedelta(days=7) < date.fromisoformat(until)):
                    ends = until or "the case leaves the state"
                    self.fail(day, case.id, "recurring work is planned until its series "
                              "has run its time", f"{spec.kind}: task {last.id} was done on "
                              f"{done}, no next one is open (the series runs until {ends})")

    def budgets(self, day: date) -> None:
        """No budget is spent beyond its amount."""
        from casework.models import Budget, Spending

        with self.engine.db.connect() as conn:
            over = conn.execute(
                select(Budget.workflow_id, Budget.year, Budget.amount_cents,
                       func.sum(Spending.amount_cents).label("spent"))
                .join(Spending, Spending.budget_id == Budget.id)
                .group_by(Budget.id, Budget.workflow_id, Budget.year, Budget.amount_cents)
                .having(func.sum(Spending.amount_cents) > Budget.amount_cents).limit(1)).first()
        if over:
            self.fail(day, None, "no budget is spent beyond its amount",
                      f"{over.workflow_id} {over.year}: {over.spent} of {over.amount_cents} "
                      "cents spent")

    def attendance(self, day: date, first_event: int) -> None:
        """A step that names a meeting (the route's meeting step) counts as attending it: the
        meeting exists and lists the case, however the step was taken."""
        from casework.models import MeetingAttendance

        with self.engine.db.connect() as conn:
            named = [(case_id, data["meeting"]) for case_id, data in conn.execute(
                select(Event.case_id, Event.data).where(Event.id > first_event))
                if isinstance(data, dict) and data.get("meeting") is not None]
            if not named:
                return
            present = {(row.case_id, row.meeting_id) for row in conn.execute(
                select(MeetingAttendance.case_id, MeetingAttendance.meeting_id).where(
                    MeetingAttendance.case_id.in_(sorted({c for c, _ in named}))))}
        for case_id, meeting in named:
            if (case_id, meeting) not in present:
                self.fail(day, case_id, "a step that names a meeting counts as attending it",
                          f"meeting {meeting} does not list the case")

    def personal_data(self, first_event: int) -> None:
        """No BSN in what the day wrote to the timeline or the processing log."""
        with self.engine.db.connect() as conn:
            for note, data in conn.execute(select(Event.note, Event.data).where(
                    Event.id > first_event)):
                self.output(f"{note or ''} {json.dumps(data or {})}")
            top = conn.execute(select(func.max(AccessLog.id))).scalar() or 0
            for row in conn.execute(select(AccessLog).where(AccessLog.id > self.last_access)):
                self.output(" ".join(str(v) for v in row._mapping.values()))
        self.last_access = top

    def reports(self, day: date) -> None:
        """Report rows add up every day; an as-of report of a past day does not change when
        later days are simulated."""
        from casework.reports import REPORTS, Scope, run_report
        from casework.reports.checks import table_problems

        report = self._outcomes(day)
        problems = table_problems(report)
        if (day - self.season.plan.start).days % AS_OF_EVERY == AS_OF_EVERY - 1:
            scope = Scope(day, self.season.plan.workflow)  # the other reports once a week
            for name in REPORTS:
                if name != "outcomes":
                    problems += table_problems(run_report(self.engine, self.season.as_actor(
                        "coordinator"), name, scope))
        if problems:
            self.fail(day, None, "report rows add up", "; ".join(problems))
        offset = (day - self.season.plan.start).days
        if offset % AS_OF_EVERY == 0:
            self.as_of[day] = report
        if offset and offset % COMPARE_EVERY == 0:
            self.as_of_reports_unchanged(day)

    def as_of_reports_unchanged(self, day: date) -> None:
        for past, before in self.as_of.items():
            if past >= day:
                continue
            again = self._outcomes(past)
            if again != before:
                changed = sorted(k for k in set(before) | set(again)
                                 if before.get(k) != again.get(k))
                self.fail(day, None, "as-of reports of a past day do not change",
                          f"outcomes as of {past} changed in {', '.join(changed)}")

    def _outcomes(self, day: date) -> dict[str, Any]:
        from casework.reports import Scope, run_report

        return run_report(self.engine, self.season.as_actor("coordinator"), "outcomes",
                          Scope(day, self.season.plan.workflow))

    # --- roles ----------------------------------------------------------------------------

    def probe_roles(self, day: date) -> None:
        """Each role may do what the role table gives it and is refused the rest: every
        permission is tried by one member of each role with a call that changes nothing."""
        from casework.permissions import PERMISSIONS, NotAllowed

        season = self.season
        with self.engine.db.connect() as conn:
            case = conn.execute(select(Case.id, Case.wijk).where(
                Case.workflow_id == season.plan.workflow).order_by(
                func.abs(Case.id - 1 - (self.probes * 7919) % max(1, season.plan.people)))
                .limit(1)).first()
        if case is None:
            return
        self.probes += 1
        others = [w for wijk, w in season.workers.items() if wijk != case.wijk]
        members = {"admin": "beheer", "back_office": "backoffice",
                   "coordinator": "coordinator", "case_worker": season.workers[case.wijk]}
        for permission, call in _probes(season.plan.workflow, case.id).items():
            for role, name in members.items():
                actor = season.as_actor(name)
                roles = actor.roles
                allowed = any(r in PERMISSIONS[permission] for r in roles)
                try:
                    call(self.engine, actor)
                    refused = None
                except NotAllowed as exc:
                    refused = str(exc)
                except CaseworkError:
                    refused = None  # past the role check: the call itself found nothing to do
                self.output(refused or "")
                if allowed and refused:
                    self.fail(day, case.id, "each role did what the role table says",
                              f"{name} ({role}) was refused {permission}: {refused}")
                if not allowed and refused is None:
                    self.fail(day, case.id, "each role was refused the rest",
                              f"{name} ({role}) was allowed {permission}")
        if others:  # a case worker of another wijk sees nothing of this case
            from casework.cases import show_case

            try:
                show_case(self.engine, season.as_actor(others[self.probes % len(others)]), case.id)
            except NotAllowed as exc:
                self.output(str(exc))
            else:
                self.fail(day, case.id, "each role was refused the rest",
                          "a case worker of another wijk could read the case")

    # --- at the end -----------------------------------------------------------------------

    def cli_outputs(self) -> None:
        """What the commands print about the season holds no BSN."""
        from click.testing import CliRunner

        from casework.cli import cli

        season = self.season
        with self.engine.db.connect() as conn:
            some = list(conn.execute(select(Case.id).order_by(Case.id).limit(3)).scalars())
        clock = season.clock.moment.astimezone(self.tz).strftime("%Y-%m-%d %H:%M")
        runs = [["--as", "coordinator", "case", "list", "--json"],
                ["--as", "coordinator", "task", "list"],
                ["--as", "coordinator", "report", "outcomes", "--workflow",
                 season.plan.workflow],
                ["--as", "backoffice", "letters", "list"],
                ["--as", "beheer", "audit", "--staff", "coordinator"]]
        for case_id in some:
            runs.append(["--as", "coordinator", "case", "show", str(case_id)])
            runs.append(["--as", "coordinator", "case", "show", str(case_id), "--json"])
        runner = CliRunner()
        for args in runs:
            result = runner.invoke(cli, ["--config", str(season.config), "--clock", clock,
                                         *args], catch_exceptions=True)
            if result.exception and not isinstance(result.exception, SystemExit):
                self.fail(season.day, None, "the commands answer",
                          f"casework {' '.join(args)} failed: {result.exception!r}")
            self.output(result.output)

    def files(self) -> None:
        """No BSN in the logs, manifests or other files the season wrote (the cohort file
        is the input, the database the store)."""
        out = self.season.out
        for path in sorted(out.rglob("*")):
            if not path.is_file() or path.suffix in (".pdf", ".png", ".db") or \
                    path.name in ("cohort.csv",) or path.name.startswith("season.db"):
                continue
            self.output(path.read_text(encoding="utf-8", errors="replace"))
        self.sent_batches(self.season.day, files=True)


def _probes(workflow: str, case_id: int) -> dict[str, Any]:
    """Per permission a call that checks the role first and then changes nothing."""
    from casework.cases import assign_case, show_case
    from casework.mailroom import list_letters
    from casework.planning import plan_wave
    from casework.privacy import purge
    from casework.route_versions import migrate_cases

    return {
        "case.read": lambda e, a: show_case(e, a, case_id),
        "case.assign": lambda e, a: assign_case(e, a, case_id, "nobody-by-this-name"),
        "cohort.plan": lambda e, a: plan_wave(e, a, workflow, "no-such-wijk", 1,
                                              date(2100, 1, 4), 1, dry_run=True),
        "letters": lambda e, a: list_letters(e, a, limit=1),
        "workflow.migrate": lambda e, a: migrate_cases(e, a, workflow, 1, 1, {}),
        "privacy": lambda e, a: purge(e, a, dry_run=True),
        "cohort.import": lambda e, a: _authorize(e, a, "cohort.import"),
    }


def _authorize(engine: Engine, actor: Actor, permission: str) -> None:
    actor.require(permission)


def _replay_problem(engine: Engine, case: Any, events: list[Any]) -> str | None:
    if not events:
        return "the case has no events"
    route = engine.registry.get(case.workflow_id, case.workflow_version)
    if [ev.seq for ev in events] != list(range(1, len(events) + 1)):
        return "its events are not numbered 1, 2, 3, ... without gaps"
    if events[-1].seq != case.version:
        return f"the case is at version {case.version} but its last event is {events[-1].seq}"
    if case.state not in route.states:
        return f"state '{case.state}' is not a state of version {route.version} of its route"
    state = None
    for ev in events:
        if ev.seq == 1:
            if ev.to_state != route.initial and ev.trigger == "open":
                return f"it was opened in '{ev.to_state}', not '{route.initial}'"
            state = ev.to_state
            continue
        if ev.from_state != state:
            return (f"event {ev.seq} ({ev.trigger}) starts from '{ev.from_state}' but the case "
                    f"was in '{state}'")
        transition = route.transition(ev.trigger, state) if ev.trigger in route.triggers \
            else None
        if transition is not None:
            if transition.dest != ev.to_state:
                return (f"event {ev.seq}: '{ev.trigger}' from '{state}' leads to "
                        f"'{transition.dest}', the event says '{ev.to_state}'")
        elif ev.trigger in route.triggers:
            return f"event {ev.seq}: '{ev.trigger}' is not allowed from '{state}'"
        state = ev.to_state
    if state != case.state:
        return f"the events end in '{state}' but the case is in '{case.state}'"
    if route.is_final(state) != (case.closed_at is not None):
        return f"state '{state}' and the closing date disagree"
    return None


def _digest(path: Path | None) -> str:
    if path is None or not path.exists():
        return ""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


__all__ = ["Checker", "SeasonBroken"]
