"""The core: ``Engine.from_config(settings)`` and ``advance``, one transaction per step.

Every caller (CLI, scheduler, tests, bulk apply) goes through ``plan_step`` so a step is checked
the same way everywhere: data fields, attempt limits, the moment it happened, and the route's
machine deciding the next state.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy import Engine as SAEngine

from casework.access import log_access, with_chain_key
from casework.calendar import shift
from casework.config import Settings
from casework.db import check_schema, is_in, make_engine, unit_of_work
from casework.direct import first
from casework.errors import (
    ConflictError,
    InvalidData,
    NotFound,
    TransitionNotAllowed,
    no_case,
)
from casework.fields import Field as FieldSpec
from casework.fields import FieldValueError
from casework.models import MEETING_KINDS, Case, Employer, Meeting
from casework.permissions import Actor, authorize_overrides, check_cases
from casework.rules import RuleContext, Rules
from casework.rules.hookspecs import Block
from casework.text import unclean
from casework.workflow import Registry, Route, TaskSpec, TransitionSpec

if TYPE_CHECKING:
    # Imported where a step is planned or written: a command that only reads (a listing, a
    # case file) does without the effects' classes and statements and the tables they name.
    from casework.effects import Effect
    from casework.steps import StepWriter


_EFFECTS: Any = None  # casework.effects, once a step is planned


def _effects() -> Any:
    """Import the step's effects on the first step planned: a command that only reads (a
    listing, a case file) does without their classes, statements and tables."""
    global _EFFECTS
    import casework.effects

    _EFFECTS = casework.effects
    return _EFFECTS


def _wall_clock() -> datetime:
    return datetime.now(UTC)

# Clocks differ a little between machines; a moment this far ahead still counts as "now".
FUTURE_TOLERANCE = timedelta(minutes=2)


@dataclass(slots=True)
class CaseSnapshot:
    """What a step needs to know of a case; kept in memory across the lines of a bulk apply."""

    id: int
    workflow_id: str
    workflow_version: int
    state: str
    data: dict[str, Any]
    version: int
    last_event_at: datetime
    wijk: str
    state_entered_at: datetime
    assigned_to: str | None = None
    participant_id: int = 0
    excluded: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> CaseSnapshot:
        """Return the snapshot of a row of CASE_COLUMNS (in that order)."""
        case = cls(*row)
        case.data = dict(case.data or {})
        return case


@dataclass(slots=True)
class Step:
    """One checked transition, ready to be written."""

    case_id: int
    trigger: str
    source: str
    dest: str
    at: datetime
    data: dict[str, Any]
    case_data: dict[str, Any]
    seq: int
    closed: bool
    close_reason: str | None
    transition: TransitionSpec
    note: str | None = None
    effects: list[Effect] = field(default_factory=list)
    actor: str = ""  # the name of who took the step
    # Letters the step cancelled that sit in a batch not yet sent: to be pulled from it.
    to_pull: list[dict[str, Any]] = field(default_factory=list)
    # rule -> what it blocked, for the blocks the actor overrode (recorded in the event)
    overridden: dict[str, str] = field(default_factory=dict)

    @property
    def fresh(self) -> bool:
        """True for the first step after a case was opened: nothing planned exists yet, so
        there is nothing to cancel, move or replace (three statements saved)."""
        return self.seq == 2

    def as_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "trigger": self.trigger,
            "from": self.source,
            "to": self.dest,
            "at": self.at.isoformat(),
            "data": self.data,
            "closed": self.closed,
            "close_reason": self.close_reason,
            "version": self.seq,
            "to_pull": self.to_pull,
            "overridden": self.overridden,
        }


CASE_COLUMNS = (
    Case.id, Case.workflow_id, Case.workflow_version, Case.state, Case.data, Case.version,
    Case.last_event_at, Case.wijk, Case.state_entered_at, Case.assigned_to,
    Case.participant_id, Case.excluded,
)
# Built once: a statement with bind parameters is compiled and cached a single time.
_LOAD_CASE = select(*CASE_COLUMNS).where(Case.id == bindparam("b_id"))



class Engine:
    """The casework core, used alike by the CLI, the scheduler and the tests."""

    def __init__(self, settings: Settings, db: SAEngine, registry: Registry | None = None,
                 clock: Callable[[], datetime] | None = None,
                 recording_clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.db = with_chain_key(db, settings)  # [audit] key_file; never logged
        self._registry = registry
        self._rules: Rules | None = None
        # "now" for what happens (steps, due dates, letters); a training database's --clock
        # replaces it after the engine is made.
        self.clock = clock or _wall_clock
        # When an event is written down (recorded_at): the real time, also under --clock and
        # --at; an engine made with one clock (tests) uses it for both.
        self.recording_clock = recording_clock or clock or _wall_clock
        self._coerced: dict[tuple[int, str], tuple[FieldSpec, Any]] = {}
        self._checked: dict[tuple[Any, ...],
                            tuple[TransitionSpec, dict[str, Any], bool]] = {}
        self._tz: tuple[Settings, ZoneInfo] | None = None

    @classmethod
    def from_config(cls, settings: Settings, check: bool = True,
                    clock: Callable[[], datetime] | None = None) -> Engine:
        """Return an engine for the configured database; check it is at the current schema."""
        db = make_engine(settings.database_url)
        if check:
            check_schema(db)
        return cls(settings, db, clock=clock)

    @property
    def tz(self) -> ZoneInfo:
        settings = self.settings  # the zone is looked up once per settings
        if self._tz is None or self._tz[0] is not settings:
            self._tz = (settings, settings.tz)
        return self._tz[1]

    @property
    def rules(self) -> Rules:
        """Return the rules (built-in and installed), those switched off in config.toml left out."""
        if self._rules is None:
            self._rules = Rules(disabled=tuple(self.settings["rules.disabled"]))
        return self._rules

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            registry = Registry.from_dir(self.settings.workflows_dir, self.rules,
                                         self.settings.templates_dir)
            from casework.route_versions import check_route_versions

            check_route_versions(self, registry)  # reads only; openers keep new versions
            self._registry = registry
        return self._registry

    def context(self, conn: Connection) -> RuleContext:
        """Return a rule context for one step (or one batch of steps) in conn's transaction."""
        return RuleContext(self, conn, {})

    def now(self) -> datetime:
        return self.clock()

    def recorded_now(self) -> datetime:
        """Return the moment to store as an event's recorded_at: when it was written down."""
        return self.recording_clock()

    def moment(self, at: datetime | None, case: CaseSnapshot | None = None,
               now: datetime | None = None) -> datetime:
        """Return when something happened: at (a past moment, given with --at or in an apply
        line) or now. InvalidData when at lies in the future, or before the case's last
        event: events of a case are recorded in the order they happened.

        With now (a batch's moment: its lines are written in one transaction), a step that
        gives no moment happens then, or at its case's last event when that is later."""
        if at is None and now is not None and case is not None:
            return now if now >= case.last_event_at else case.last_event_at
        now = self.now() if now is None else now
        moment = now if at is None else at
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.tz)
        if moment > now + FUTURE_TOLERANCE:
            raise InvalidData(
                f"the moment {moment.astimezone(self.tz):%Y-%m-%d %H:%M} lies in the future; "
                "record what happened only once it has happened",
                says=f"het moment {moment.astimezone(self.tz):%d-%m-%Y %H:%M} ligt in de "
                     "toekomst; leg vast wat gebeurd is als het gebeurd is"
            )
        if case is not None and moment < case.last_event_at:
            raise InvalidData(
                f"the moment {moment.astimezone(self.tz):%Y-%m-%d %H:%M} is before case "
                f"{case.id}'s last event "
                f"({case.last_event_at.astimezone(self.tz):%Y-%m-%d %H:%M}); "
                "record events in the order they happened"
            )
        return moment

    @cached_property
    def training(self) -> bool:
        """Whether this is a training database ('casework init --training')."""
        from casework.training import is_training

        return is_training(self.db)

    def route_of(self, case: CaseSnapshot) -> Route:
        return self.registry.get(case.workflow_id, case.workflow_version)

    # --- reading -------------------------------------------------------------------------

    def load_case_for(self, conn: Connection, case_id: int, actor: Actor,
                      capability: str) -> CaseSnapshot:
        """Load a case a person reads or changes: refused when it is not within the reach of
        the capability the call needs (``case.read`` to read, ``case.write`` to change)."""
        case = self.load_case(conn, case_id)
        check_cases(conn, actor, [case_id], capability, loaded=[case])
        return case

    def load_cases(self, conn: Connection, case_ids: list[int]) -> dict[int, CaseSnapshot]:
        """Return the cases of those ids that exist, by id (no rights checked)."""
        rows = conn.execute(select(*CASE_COLUMNS).where(is_in(conn, Case.id, case_ids))).all()
        return {row.id: CaseSnapshot.from_row(row) for row in rows}

    def load_case(self, conn: Connection, case_id: int) -> CaseSnapshot:
        row = first(conn, _LOAD_CASE, {"b_id": case_id})
        if row is None:
            raise NotFound(f"{no_case(case_id)}; find cases with 'casework case list'")
        return CaseSnapshot.from_row(row)

    # --- the step ------------------------------------------------------------------------

    def blocked_reason(self, route: Route, case: CaseSnapshot, trigger: str,
                       ctx: RuleContext | None = None) -> str | None:
        """Return why trigger cannot happen now, or None when it can (data not yet checked).

        With ctx the route's rules are asked too (without data: what they can tell before)."""
        why = self.why_blocked(route, case, trigger, ctx)
        return why[0] if why else None

    def why_blocked(self, route: Route, case: CaseSnapshot, trigger: str,
                    ctx: RuleContext | None = None) -> tuple[str, str] | None:
        """Return why trigger cannot happen now, for the command line and in Dutch for the
        web front's pages; None when it can (see ``blocked_reason``)."""
        why = self._route_blocks(route, case, trigger)
        if why or ctx is None:
            return why
        transition = route.transition(trigger, case.state)
        assert transition is not None
        blocks = self.rules.check_transition(ctx, route, case, transition, {}, None)
        return _joined(blocks) if blocks else None

    def _route_blocks(self, route: Route, case: CaseSnapshot,
                      trigger: str) -> tuple[str, str] | None:
        """Return why the route itself does not allow trigger now (in English and Dutch)."""
        def state(name: str) -> str:
            spec = route.states.get(name)
            return f"'{spec.label if spec and spec.label else name}'"

        def step(name: str) -> str:
            labels = [t.label for t in route.transitions if t.trigger == name and t.label]
            return f"'{labels[0] if labels else name}'"

        if trigger not in route.triggers:
            return (f"'{trigger}' is not a trigger of {route.id}; "
                    f"known: {', '.join(route.triggers)}",
                    f"{trigger!r} is geen stap van de route {route.label or route.id}.")
        if route.is_final(case.state):
            return (f"case {case.id} is {case.state} (final); nothing can happen any more",
                    f"De zaak staat op {state(case.state)}; daarna gebeurt er niets meer.")
        transition = route.transition(trigger, case.state)
        if transition is None:
            sources = ", ".join(route.sources_of(trigger))
            return (f"'{trigger}' is not possible from state '{case.state}' "
                    f"(only from: {sources})",
                    f"{step(trigger)} kan niet vanuit {state(case.state)}; alleen vanuit "
                    + ", ".join(state(s) for s in route.sources_of(trigger)) + ".")
        counts = case.data.get("attempts", {})
        for other in _limited(route, case.state):
            used = counts.get(other.trigger, 0)
            if used >= other.max and trigger not in other.then:
                allowed = " or ".join(other.then) or "nothing"
                remain = (" of ".join(step(t) for t in other.then) if other.then
                          else "niets meer")
                return (f"'{other.trigger}' has happened {used} times (the maximum is "
                        f"{other.max}); only {allowed} remain",
                        f"{step(other.trigger)} is al {used} keer gebeurd (ten hoogste "
                        f"{other.max}); alleen {remain} kan nog.")
        return None

    def plan_step(self, route: Route, case: CaseSnapshot, trigger: str,
                  raw: Mapping[str, Any], at: datetime | None = None,
                  note: str | None = None, ctx: RuleContext | None = None,
                  letters: bool = True) -> Step:
        """Return the checked step for trigger on case; raise a CaseworkError when it cannot.

        The route's rules check the step with its data (ctx gives them the transaction) and
        may add effects to it once it is allowed. With letters False (history being loaded)
        the step queues no letter: nobody is written to about the past."""
        fx = _EFFECTS or _effects()  # an import statement here would cost every bulk line
        if ctx is None:
            with self.db.connect() as conn:
                return self.plan_step(route, case, trigger, raw, at, note, self.context(conn),
                                      letters)
        transition = route.transition(trigger, case.state)
        # The route allows a transition that exists from an open state with no limited
        # steps beside it at once; anything else is asked in full (and said why).
        if transition is None or route.is_final(case.state) or _limited(route, case.state):
            why = self._route_blocks(route, case, trigger)
            if why:
                raise TransitionNotAllowed(why[0], says=why[1])
            assert transition is not None
        now = ctx.now  # a batch's moment (bulk apply), else None: the clock's
        moment = self.moment(at, case, now)
        data = self.check_data(route, transition, raw)
        problem = unclean(note, multiline=True) if note else None
        if problem:
            raise InvalidData(f"the note contains {problem}; remove it")
        blocks = self.rules.check_transition(ctx, route, case, transition, data, moment)
        overridden: dict[str, str] = {}
        if blocks or ctx.overrides:  # nearly always neither: nothing to work out
            overridden = {b.rule: b.code or b.reason for b in blocks
                          if b.rule in ctx.overrides and b.overridable}
            blocks = [b for b in blocks if b.rule not in overridden]
            if blocks:
                message, says = _joined(blocks)
                raise TransitionNotAllowed(message, says=says)
            unused = sorted(ctx.overrides - set(overridden))
            if unused:
                raise InvalidData(f"nothing to override: rule {unused[0]} does not block "
                                  f"'{trigger}' for case {case.id}; leave out "
                                  f"--override-{unused[0]}")
        if "appointment" in data and datetime.fromisoformat(data["appointment"]) < moment:
            raise InvalidData(
                "field 'appointment' lies before the moment the step is recorded; "
                "propose a date and time after it",
                says="De afspraak ligt voor het moment van deze stap; kies een latere datum "
                     "en tijd."
            )
        dest = transition.dest
        case_data = _merge(case.data, data)
        # How often the limited steps of the state happened: counted anew in each state.
        counted = case_data.get("attempts") if dest == case.state else None
        if transition.max is not None:
            attempts = dict(counted or {})
            attempts[trigger] = attempts.get(trigger, 0) + 1
            case_data["attempts"] = attempts
        elif counted:
            case_data["attempts"] = dict(counted)
        else:
            case_data.pop("attempts", None)
        if transition.ends_appointment or (transition.records == "appointment"
                                           and "appointment" not in data):
            case_data.pop("appointment", None)
            case_data.pop("location", None)
        closed = route.is_final(dest)
        reason = (transition.reason or data.get("reason")) if closed else None
        step = Step(
            case_id=case.id, trigger=trigger, source=case.state, dest=dest, at=moment,
            data=data, case_data=case_data, seq=case.version + 1, closed=closed,
            close_reason=reason, transition=transition, note=note or None,
            overridden=overridden,
        )
        if transition.records == "appointment":
            step.effects.append(fx.BookAppointment(data.get("appointment"), data.get("location")))
        elif transition.records == "referral":
            step.effects.append(fx.Refer(data["partner"]))
        elif transition.records == "match":
            step.effects.append(fx.RecordMatch(
                employer_id(ctx, data["employer"]), job=data.get("job"),
                hours_per_week=data.get("hours_per_week"), fte=data.get("fte")))
        # An older version of the route that names no meeting step takes the newest one's.
        if data.get("meeting") is not None and trigger == (
                route.meeting_step or self.registry.get(case.workflow_id).meeting_step):
            step.effects.append(fx.RecordAttendance(
                meeting_id(ctx, data["meeting"], moment.astimezone(self.tz).date())))
        if transition.ends_appointment:
            step.effects.append(fx.EndAppointment(transition.ends_appointment))
        self.rules.after_transition(ctx, route, case, step)
        # Nothing more may be sent to the person (they died or moved away: the step's
        # no_letter_for): no letter, and closing ends the work owed to them too.
        silent = data.get("reason") in transition.no_letter_for
        if closed:
            step.effects.append(fx.CancelLetters(keep=() if silent else route.owed_letters))
        elif transition.ends_appointment:
            # A letter in a batch not yet posted that names the appointment (an invitation, a
            # reminder) would name one that is over: it is pulled from the batch.
            step.effects.append(fx.CancelLetters(_appointment_letters(route)))
        template = transition.letter or (
            route.states[dest].letter if dest != case.state else None)
        if silent:
            template = None
        if not letters:
            template = None
        if template:
            step.effects.append(fx.QueueLetter(self.letter_row(route, case, step, template)))
        if closed:
            step.effects.append(fx.CancelTasks("person" if silent else "case"))
        elif not transition.internal:
            step.effects.append(fx.CancelTasks("state"))
            for task in route.states[dest].tasks:
                row = plan_task(task, case, step, self.tz)
                if row is not None:
                    step.effects.append(fx.PlanTask(stale_at_once(task, row, step,
                                                                  now or self.now())))
        return step

    def check_data(self, route: Route, transition: TransitionSpec,
                   raw: Mapping[str, Any]) -> dict[str, Any]:
        """Return the data converted for storage; InvalidData names what is wrong.

        Checking is a pure function of the transition and what was written: the same
        written data (many lines of a bulk apply) is checked once and handed out as a copy."""
        written = _written(raw)
        key = None if written is None else (id(transition), written)
        if key is not None:
            found = self._checked.get(key)
            if found is not None and found[0] is transition:
                if found[2]:  # texts and numbers only: a plain copy is a deep one
                    return dict(found[1])
                return {name: _copy(value) for name, value in found[1].items()}
        data = self._check_data(route, transition, raw)
        if key is not None and all(_plain(value) for value in data.values()):
            if len(self._checked) >= COERCE_CACHE:
                self._checked.clear()
            flat = {*map(type, data.values())}.isdisjoint((list, dict))
            self._checked[key] = (transition, {name: _copy(v) for name, v in data.items()},
                                  flat)
        return data

    def _check_data(self, route: Route, transition: TransitionSpec,
                    raw: Mapping[str, Any]) -> dict[str, Any]:
        allowed = transition.fields
        extra = [key for key in raw if key not in allowed]
        if extra:
            takes = ", ".join(allowed) if allowed else "no data"
            raise InvalidData(
                f"'{transition.trigger}' does not take field '{extra[0]}' (it takes: {takes})",
                says=f"'{transition.label or transition.trigger}' kent geen veld {extra[0]!r}."
            )
        missing = [name for name in transition.needs
                   if raw.get(name) in (None, "", [], {})]
        if missing:
            spec = route.fields[missing[0]]
            raise InvalidData(
                f"'{transition.trigger}' needs field '{missing[0]}' ({spec.describe()}); "
                f"give it with --set {missing[0]}=...",
                says=f"Vul '{spec.shown_label()}' in ({spec.describe_nl()})."
            )
        data: dict[str, Any] = {}
        for key, value in raw.items():
            if value in (None, ""):
                continue
            try:
                data[key] = self._coerce(route.fields[key], value)
            except FieldValueError as exc:
                raise InvalidData(str(exc), says=exc.says) from None
        return data

    def _coerce(self, spec: FieldSpec, value: Any) -> Any:
        """Return field spec's value converted for storage. Converting is a pure function of
        the field and the written value, so a value written on many lines (a bulk apply's
        appointment, classification, consent) is converted once and handed out as a copy."""
        if type(value) is not str:
            return spec.coerce(value, self.tz)
        cache = self._coerced
        key = (id(spec), value)
        found = cache.get(key)
        if found is None:
            found = spec.coerce(value, self.tz)
            if not _plain(found):
                return found
            if len(cache) >= COERCE_CACHE:
                cache.clear()
            cache[key] = (spec, found)  # the spec is kept: its id stays its own
            return _copy(found)
        return _copy(found[1])

    def step_writer(self, conn: Connection) -> StepWriter:
        """Return the writer of steps in conn's transaction, dated now."""
        from casework.steps import StepWriter

        return StepWriter(conn, self.now(), self.recorded_now())

    def letter_row(self, route: Route, case: CaseSnapshot, step: Step | None,
                   template: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Return the queued letter a step (or a finished task) asks for: what it will say is
        taken now (the appointment as proposed, the partner), the address when it is made."""
        variables = self.rules.letter_variables(route, {"id": case.id}, template, self.settings)
        payload = {**case.data, **(step.data if step else {}), **(extra or {})}
        payload.pop("attempts", None)
        return {
            "case_id": case.id, "template": template, "variant": variables.get("variant"),
            "status": "queued", "payload": payload, "partner": payload.get("partner"),
            "origin_seq": step.seq if step else case.version, "attempts": 0,
        }

    def record_event(self, conn: Connection, case: CaseSnapshot, actor: Actor, trigger: str,
                     data: dict[str, Any], note: str | None = None,
                     to_state: str | None = None, at: datetime | None = None,
                     **case_values: Any) -> datetime:
        """Append an event that is not a transition (assign, consent, flag) to the timeline,
        with an optimistic version check; case_values are set on the case too. Dated at
        (checked as a step's --at is) or now; return the moment."""
        at = max(self.now(), case.last_event_at) if at is None else self.moment(at, case)
        from casework.steps import StepWriter

        # The writer's "now" is only for effects, which an event without a step has none of.
        StepWriter(conn, at, self.recorded_now()).write_event(
            case, actor.name, trigger, data, at, note, to_state, **case_values)
        return at

    def advance(self, case_id: int, trigger: str, actor: Actor,
                data: Mapping[str, Any] | None = None, at: datetime | None = None,
                note: str | None = None, expected_version: int | None = None,
                letters: bool = True, overrides: Collection[str] = ()) -> Step:
        """Move a case along its route: check, transition, event and effects in one transaction
        (letters False: history, no letter queued).

        ``overrides`` names rules whose block the actor knowingly overrides (a coordinator:
        ``exclusion``, with a note saying why); the event and the processing log record it."""
        with unit_of_work(self) as conn:
            actor.require("case.write")
            if overrides:
                authorize_overrides(actor, overrides, note, self.rules.overridable())
            case = self.load_case_for(conn, case_id, actor, "case.write")
            step = self._advance_case(conn, case, trigger, actor, data, at, note,
                                      expected_version, letters, frozenset(overrides))
            action = "advance"
            if step.overridden:
                action += "".join(f", override {rule}" for rule in step.overridden)
            log_access(conn, actor, action, [case_id], f"project {case.workflow_id}",
                       self.now())
            return step

    def advance_in(self, conn: Connection, case_id: int, trigger: str, actor: Actor,
                   data: Mapping[str, Any] | None = None, at: datetime | None = None,
                   note: str | None = None, expected_version: int | None = None,
                   letters: bool = True,
                   overrides: frozenset[str] = frozenset()) -> Step:
        """Advance inside the caller's transaction (the daily run, task done)."""
        return self._advance_case(conn, self.load_case(conn, case_id), trigger, actor, data,
                                  at, note, expected_version, letters, overrides)

    def _advance_case(self, conn: Connection, case: CaseSnapshot, trigger: str, actor: Actor,
                      data: Mapping[str, Any] | None, at: datetime | None, note: str | None,
                      expected_version: int | None, letters: bool,
                      overrides: frozenset[str]) -> Step:
        case_id = case.id
        if expected_version is not None and case.version != expected_version:
            raise ConflictError(
                f"case {case_id} is at version {case.version}, not {expected_version}: "
                "someone else changed it; look again and retry"
            )
        ctx = self.context(conn)
        ctx.overrides = overrides
        step = self.plan_step(self.route_of(case), case, trigger, data or {}, at, note, ctx,
                              letters)
        writer = self.step_writer(conn)
        writer.add(step, actor.name, case)
        writer.flush()
        return step


def _merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    merged = dict(old)
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


COERCE_CACHE = 10_000  # written values remembered per engine, converted
_IMMUTABLE = (str, int, float, bool, type(None))


def _plain(value: Any) -> bool:
    """Whether a converted value is text, a number, or a flat list or dict of those (what
    a field converts to), so a copy of it is as good as a fresh conversion."""
    if isinstance(value, _IMMUTABLE):
        return True
    if type(value) is list:
        return all(isinstance(item, _IMMUTABLE) for item in value)
    if type(value) is dict:
        return all(isinstance(item, _IMMUTABLE) for item in value.values())
    return False


def _written(raw: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """Return what was written as a key (text, or a field's parts as text), or None."""
    if {*map(type, raw.values())} <= _TEXT:  # nearly always: every value a text
        return tuple(raw.items())
    items: list[Any] = []
    for name, value in raw.items():
        if type(value) is str:
            items.append((name, value))
        elif type(value) is dict and all(type(part) is str for part in value.values()):
            items.append((name, tuple(value.items())))
        else:
            return None
    return tuple(items)


_TEXT = {str}


def _copy(value: Any) -> Any:
    return value.copy() if type(value) in (list, dict) else value


_LIMITED: dict[tuple[int, str], tuple[Route, list[TransitionSpec]]] = {}


def _joined(blocks: list[Block]) -> tuple[str, str]:
    """Return the rules' blocks as one line for the command line and one in Dutch."""
    return ("; ".join(str(b) for b in blocks),
            " ".join(b.says or str(b) for b in blocks))


def _limited(route: Route, state: str) -> list[TransitionSpec]:
    """Return the route's transitions from state that may happen a limited number of times."""
    found = _LIMITED.get((id(route), state))
    if found is None or found[0] is not route:
        found = _LIMITED[(id(route), state)] = (route, [
            t for t in route.transitions if t.source == state and t.max is not None])
    return found[1]


def appointment_letters(route: Route) -> list[str]:
    """Return the templates of the route's letters that name an appointment: those of the
    transitions that record one, and those of work planned before one."""
    names = {t.letter for t in route.transitions if t.letter and t.records == "appointment"}
    for state in route.states.values():
        for task in state.tasks:
            if task.anchor == "appointment":
                names.update(task.letters.values())
    return sorted(names)


ROUTE_CACHE = 1000  # routes (or tasks) whose derived values are remembered
_APPOINTMENT_LETTERS: dict[int, tuple[Route, list[str]]] = {}


def _appointment_letters(route: Route) -> list[str]:
    """Return appointment_letters(route), worked out once per route (a copy)."""
    found = _APPOINTMENT_LETTERS.get(id(route))
    if found is None or found[0] is not route:
        if len(_APPOINTMENT_LETTERS) >= ROUTE_CACHE:
            _APPOINTMENT_LETTERS.clear()
        found = _APPOINTMENT_LETTERS[id(route)] = (route, appointment_letters(route))
    return list(found[1])


def employer_id(ctx: RuleContext, name: str) -> int:
    """Return the id of the employer of that name (any case); InvalidData when unknown."""
    known: dict[str, int] = ctx.scratch.setdefault("employers", {})
    key = name.strip().lower()
    if key not in known:
        found = ctx.conn.execute(select(Employer.id).where(
            func.lower(Employer.name) == key)).scalar()
        if found is None:
            raise InvalidData(f"no employer '{name.strip()}'; add it with "
                              f"'casework employer add \"{name.strip()}\" --sector ...'")
        known[key] = int(found)
    return known[key]


def meeting_id(ctx: RuleContext, number: int, day: date) -> int:
    """Return the number of a Meedoenplein that exists and was held by ``day`` (the meeting
    step's field ``meeting``); InvalidData when there is none of that number, or it is still
    to come (nobody attended it yet: casework.meetings.not_held_yet)."""
    from casework.meetings import not_held_yet

    known: dict[int, date] = ctx.scratch.setdefault("meetings", {})
    if number not in known:
        found = ctx.conn.execute(select(Meeting.kind, Meeting.day)
                                 .where(Meeting.id == number)).first()
        if found is None or found.kind != MEETING_KINDS[0]:
            what = (f"meeting {number} is not a Meedoenplein" if found
                    else f"no meeting {number}")
            raise InvalidData(f"{what}; see 'casework event list'",
                              says=f"Er is geen Meedoenplein met nummer {number}; zie de "
                                   "lijst van bijeenkomsten.")
        known[number] = found.day
    not_held_yet(number, known[number], day)
    return number


# Dates move the same way every time (weekends, the Dutch holidays): many tasks share them.
_shift = lru_cache(maxsize=4096)(shift)


_TASK_SPECS: dict[int, tuple[TaskSpec, dict[str, Any]]] = {}


def _task_spec(task: TaskSpec) -> dict[str, Any]:
    """Return task.spec(), made once per task of a route: every task row of that kind
    holds the same dict (the rows' spec is written as it is, never changed), so a chunk's
    writer also turns it into JSON once."""
    found = _TASK_SPECS.get(id(task))
    if found is None or found[0] is not task:
        if len(_TASK_SPECS) >= ROUTE_CACHE:  # routes loaded again and again (tests): no leak
            _TASK_SPECS.clear()
        found = _TASK_SPECS[id(task)] = (task, task.spec())
    return found[1]


def plan_task(task: TaskSpec, case: CaseSnapshot, step: Step,
              tz: ZoneInfo) -> dict[str, Any] | None:
    """Return the task row a state plans on entry, or None when its anchor is missing."""
    if task.anchor == "appointment":
        moment = step.case_data.get("appointment")
        if not moment:
            return None
        anchor = datetime.fromisoformat(moment).astimezone(tz).date()
        entered = step.at.astimezone(tz).date()
    else:
        anchor = entered = step.at.astimezone(tz).date()
    due = _shift(anchor, task.offset, task.forward, task.workdays)
    due = max(due, entered)  # work planned before it was asked for is due at once
    spec = _task_spec(task)
    if task.repeat_for is not None:
        spec = {**spec, "until": _shift(entered, task.repeat_for, True, False).isoformat()}
    return {
        "key": f"{case.id}:{step.seq}:{task.kind}:1", "case_id": case.id, "kind": task.kind,
        "due": due, "round": 1, "status": "open", "attempts": 0,
        "assigned_to": None if task.role else case.assigned_to, "result": None,
        "done_at": None, "performer": task.by, "scope": task.scope, "role": task.role,
        "label": task.label, "spec": spec, "origin_seq": step.seq, "last_error": None,
        "escalate_to": task.escalate, "escalated_at": None, "done_by": None,
    }


APPOINTMENT_PASSED = "appointment_passed"


def stale_at_once(task: TaskSpec, row: dict[str, Any], step: Step,
                  now: datetime) -> dict[str, Any]:
    """Return the row of work planned before an appointment, recorded as cancelled when the
    appointment has passed already (an invitation recorded afterwards): never left open."""
    if task.anchor != "appointment" or task.forward:
        return row
    moment = datetime.fromisoformat(step.case_data["appointment"])
    if moment > now:
        return row
    return {**row, "status": "cancelled", "done_at": now,
            "result": {"cancelled": APPOINTMENT_PASSED, "appointment": moment.isoformat()}}
