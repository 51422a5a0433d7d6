"""The one step writer: checked steps in, case updates, events and effect rows out.

``Engine.advance``, bulk apply, finished tasks and the daily run all write their steps through
a ``StepWriter`` (and ``Engine.record_event`` its events that are not transitions, with
``write_event``): ``add`` each step with the case as it was before it, then ``flush`` writes
them with one ``executemany`` per table: the case updates first (with the version check, so
a concurrent change shows as a ConflictError before anything else is written), then the
events, then the effects' rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from casework.bulkwrite import write_many
from casework.effects import EffectRows
from casework.errors import ConflictError
from casework.models import Case, Event

if TYPE_CHECKING:
    from casework.engine import CaseSnapshot, Step

_CASES = Case.__table__
_EVENTS = Event.__table__
# Built once: statements with bind parameters are compiled and cached a single time.
UPDATE_CASE = (
    update(_CASES)
    .where(_CASES.c.id == bindparam("b_id"), _CASES.c.version == bindparam("b_version"))
    .values(state=bindparam("b_state"), data=bindparam("b_data"),
            version=bindparam("b_new_version"), last_event_at=bindparam("b_last"),
            state_entered_at=bindparam("b_entered"), closed_at=bindparam("b_closed_at"),
            close_reason=bindparam("b_reason"))
)
_INSERT_EVENTS = insert(_EVENTS)
CHUNK_CONFLICT = "a case in this chunk was changed by another process"


@dataclass(slots=True)
class _CaseWrite:
    """What the case update of the last step of a case needs."""

    expected_version: int
    entered: datetime
    last: Step


class StepWriter:
    """Collect steps (in the order they happened) and write them together."""

    def __init__(self, conn: Connection, now: datetime, recorded_at: datetime,
                 chunk: bool = False) -> None:
        self.conn = conn
        self.now = now
        self.recorded_at = recorded_at
        # The steps of a bulk apply's chunk: a conflict names the chunk, and so does an event
        # the database refuses (another process wrote that step first); the chunk is then
        # redone line by line. One advance names its case, and shows the database's error.
        self.chunk = chunk
        self.steps: list[Step] = []
        self._cases: dict[int, _CaseWrite] = {}

    def add(self, step: Step, actor: str, case: CaseSnapshot) -> None:
        """Add a step done by actor (a name); case is the case as it was when the step was
        planned (its version the one the update expects, for the first step of the case)."""
        step.actor = actor
        pending = self._cases.get(step.case_id)
        if pending is None:
            pending = self._cases[step.case_id] = _CaseWrite(case.version,
                                                             case.state_entered_at, step)
        pending.last = step
        if step.dest != step.source:
            pending.entered = step.at
        self.steps.append(step)

    def flush(self) -> None:
        """Write the steps added since the last flush; ConflictError when a case was changed
        by someone else meanwhile."""
        if not self.steps:
            return
        steps, cases = self.steps, self._cases
        self.steps, self._cases = [], {}
        self._update_cases(cases)
        try:
            write_many(self.conn, _INSERT_EVENTS,
                       [event_row(step, step.actor, self.recorded_at) for step in steps])
        except IntegrityError:
            if not self.chunk:
                raise
            raise ConflictError(CHUNK_CONFLICT) from None
        rows = EffectRows(self.now)
        for step in steps:
            rows.add(step)
        rows.write(self.conn)

    def write_event(self, case: CaseSnapshot, actor: str, trigger: str, data: dict[str, Any],
                    at: datetime, note: str | None = None, to_state: str | None = None,
                    **case_values: Any) -> None:
        """Write at once an event that is not a transition (assign, consent, flag, a task
        done) with its case update, version-checked (ConflictError when someone else changed
        the case); case_values are set on the case too. The snapshot moves on with it."""
        result = self.conn.execute(
            update(_CASES).where(_CASES.c.id == case.id, _CASES.c.version == case.version)
            .values(version=case.version + 1, last_event_at=at, **case_values))
        if result.rowcount != 1:
            raise ConflictError(f"case {case.id} was changed by someone else; look again and "
                                "retry")
        self.conn.execute(_INSERT_EVENTS, {
            "case_id": case.id, "seq": case.version + 1, "at": at,
            "recorded_at": self.recorded_at, "actor": actor, "trigger": trigger,
            "from_state": case.state, "to_state": to_state or case.state, "data": data,
            "note": note, "reason": None})
        case.version += 1
        case.last_event_at = at

    def _update_cases(self, cases: dict[int, _CaseWrite]) -> None:
        params = [update_params(w.last, w.expected_version, w.entered) for w in cases.values()]
        result = write_many(self.conn, UPDATE_CASE, params)
        if len(params) == 1 and not self.chunk:
            if result.rowcount == 1:
                return
            [case_id] = cases
            state = self.conn.execute(select(Case.state).where(Case.id == case_id)).scalar()
            raise ConflictError(
                f"case {case_id} was changed by someone else while you worked on it "
                f"(now in state '{state or '?'}'); look at it again "
                f"with 'casework case show {case_id}' and retry"
            )
        if self.conn.dialect.supports_sane_multi_rowcount:
            stale = result.rowcount != len(params)
        else:
            versions = dict(self.conn.execute(
                select(Case.id, Case.version).where(Case.id.in_(list(cases)))).all())
            stale = any(versions[cid] != w.last.seq for cid, w in cases.items())
        if stale:
            raise ConflictError(CHUNK_CONFLICT)


def update_params(step: Step, expected_version: int, entered: datetime) -> dict[str, Any]:
    """Return the parameters of the case update for the last step of a case."""
    return {
        "b_id": step.case_id, "b_version": expected_version, "b_state": step.dest,
        "b_data": step.case_data, "b_new_version": step.seq, "b_last": step.at,
        "b_entered": entered, "b_closed_at": step.at if step.closed else None,
        "b_reason": step.close_reason if step.closed else None,
    }


def event_row(step: Step, actor: str, recorded_at: datetime) -> dict[str, Any]:
    data = step.data
    if step.overridden:  # e.g. override_exclusion=social_team_contact, beside the note
        data = {**data, **{f"override_{rule}": what for rule, what in step.overridden.items()}}
    return {
        "case_id": step.case_id, "seq": step.seq, "at": step.at, "recorded_at": recorded_at,
        "actor": actor, "trigger": step.trigger, "from_state": step.source,
        "to_state": step.dest, "data": data, "note": step.note,
        "reason": step.close_reason,
    }
