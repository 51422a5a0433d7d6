"""Workflow files: load and validate ``workflows/*.toml`` into one transitions Machine per version.

The machine is a rule book, not storage: cases are wrapped for the moment of a trigger only
(``Route.fire``), and the database row stays the truth.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from casework.durations import Duration, parse_duration
from casework.errors import NotFound, WorkflowError
from casework.fields import FIELD_TYPES, NUMBER_LIMIT, Field

EFFECTS = ("appointment", "referral", "match")
_WORKFLOW_KEYS = {"id", "version", "label", "initial", "rules", "description", "contact"}
_STATE_KEYS = {"label", "final", "tasks", "letter", "description"}
_TRANSITION_KEYS = {
    "trigger", "source", "dest", "label", "needs", "accepts", "records", "reason",
    "max", "then", "description", "ends_appointment", "consent", "sanction", "benefit",
    "letter", "no_letter_for", "internal",
}
APPOINTMENT_ENDINGS = ("held", "cancelled")
_FIELD_KEYS = {"type", "label", "choices", "keys", "description", "consent", "labels", "min",
               "max"}
_TASK_KEYS = {
    "kind", "after", "before", "of", "rounds", "every", "calendar", "expire", "expire_data",
    "label", "by", "scope", "escalate", "role", "outcomes", "letters", "repeat", "for",
}
_PERFORMERS = ("staff", "system")
TASK_OUTCOMES = ("reached", "not_reached", "wrong_number", "done")
CALL_OUTCOMES = ("reached", "not_reached", "wrong_number")
_SCOPES = ("state", "case")
ROLES = ("back_office", "case_worker", "coordinator", "admin")
_ANCHORS = ("entry", "appointment")
_CALENDARS = ("days", "workdays")
# Versions are stored in 32-bit integer columns (PostgreSQL's integer).
MAX_VERSION = 2**31 - 1
# A call tried more often, or a step allowed more often, than this is a typo.
MAX_ROUNDS = 100
MAX_TIMES = 1000
# A letter template is a file NAME.typ.j2 in paths.templates: a plain name, never a path.
_LETTER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}", re.ASCII)


@dataclass(frozen=True)
class Outcome:
    """What a reached call's result does to the case: a trigger with data."""

    trigger: str
    data: dict[str, Any]


@dataclass(frozen=True)
class TaskSpec:
    """Work a state plans on entry: due an ISO 8601 duration after/before an anchor."""

    kind: str
    label: str
    offset: Duration
    forward: bool
    anchor: str
    calendar: str
    rounds: int = 1
    every: Duration | None = None
    by: str = "staff"
    scope: str = "state"
    role: str | None = None
    escalate: str | None = None
    expire: str | None = None
    expire_data: dict[str, Any] = field(default_factory=dict)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    letters: dict[str, str] = field(default_factory=dict)
    # Recurring work (a contact every 6 weeks): when one is done the next is planned, for as
    # long as the case stays (within ``repeat_for`` of the first, when given).
    repeat: Duration | None = None
    repeat_for: Duration | None = None

    @property
    def workdays(self) -> bool:
        return self.calendar == "workdays"

    def spec(self) -> dict[str, Any]:
        """Return what a stored task row needs to know of its timer later on (rounds, expiry)."""
        return {
            "rounds": self.rounds,
            "every": _duration_text(self.every) if self.every else None,
            "calendar": self.calendar, "expire": self.expire, "expire_data": self.expire_data,
            "escalate": self.escalate, "label": self.label,
            "outcomes": {k: {"trigger": o.trigger, "data": o.data}
                         for k, o in self.outcomes.items()},
            "letters": dict(self.letters),
            "repeat": _duration_text(self.repeat) if self.repeat else None,
            "repeat_for": _duration_text(self.repeat_for) if self.repeat_for else None,
        }


def task_outcomes(kind: str, spec: Mapping[str, Any]) -> tuple[str, ...]:
    """Return the outcomes a task can be finished with, from its kind and stored spec.

    A call (a kind ending in ``_call``) is reached, not reached or a wrong number; other work
    is done, or reached with one of the route's results when the task has an outcomes table,
    or not reached when it is tried in rounds (or expires after the last try)."""
    if kind.endswith("_call"):
        return CALL_OUTCOMES
    allowed = ["done"]
    if spec.get("outcomes"):
        allowed.append("reached")
    if int(spec.get("rounds") or 1) > 1 or spec.get("expire"):
        allowed.extend(("not_reached", "wrong_number"))
    return tuple(allowed)


def task_dict(task: TaskSpec) -> dict[str, Any]:
    """Return a task spec as plain data for ``workflow show --json``."""
    return {
        "kind": task.kind, ("after" if task.forward else "before"): _duration_text(task.offset),
        "of": task.anchor, "by": task.by, "scope": task.scope, "role": task.role,
        **task.spec(),
    }


def _duration_text(duration: Duration) -> str:
    parts = [(duration.years, "Y"), (duration.months, "M"), (duration.weeks, "W"),
             (duration.days, "D")]
    text = "P" + "".join(f"{n}{u}" for n, u in parts if n)
    return text if text != "P" else "P0D"


@dataclass(frozen=True)
class StateSpec:
    name: str
    label: str
    final: bool = False
    letter: str | None = None
    tasks: tuple[TaskSpec, ...] = ()


@dataclass(frozen=True)
class TransitionSpec:
    trigger: str
    source: str
    dest: str
    label: str = ""
    needs: tuple[str, ...] = ()
    accepts: tuple[str, ...] = ()
    records: str | None = None
    reason: str | None = None
    max: int | None = None
    then: tuple[str, ...] = ()
    ends_appointment: str | None = None
    consent: str | None = None
    sanction: bool = False
    benefit: bool = False
    # Records something without leaving the state: the state's planned work stays as it is.
    internal: bool = False
    letter: str | None = None
    no_letter_for: tuple[str, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        return self.needs + self.accepts


@dataclass
class Route:
    """One version of a workflow: its states, transitions, fields and machine."""

    id: str
    version: int
    label: str
    initial: str
    path: Path
    states: dict[str, StateSpec]
    transitions: list[TransitionSpec]
    fields: dict[str, Field]
    rules: tuple[str, ...] = ()
    # Who signs the route's letters and answers calls (else organisation.contact).
    contact: str | None = None
    _by_key: dict[tuple[str, str], TransitionSpec] = field(default_factory=dict, repr=False)
    _triggers: list[str] = field(default_factory=list, repr=False)
    _machine: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._by_key = {(t.trigger, t.source): t for t in self.transitions}
        self._triggers = list(dict.fromkeys(t.trigger for t in self.transitions))

    @property
    def triggers(self) -> list[str]:
        return self._triggers

    def is_final(self, state: str) -> bool:
        spec = self.states.get(state)
        return bool(spec and spec.final)

    def transition(self, trigger: str, source: str) -> TransitionSpec | None:
        """Return the transition for trigger from source, or None when there is none."""
        return self._by_key.get((trigger, source))

    def sources_of(self, trigger: str) -> list[str]:
        return [t.source for t in self.transitions if t.trigger == trigger]

    @property
    def machine(self) -> Any:
        """Return the transitions Machine for this route, built once."""
        if self._machine is None:
            from transitions import Machine

            self._machine = Machine(
                model=None,
                states=list(self.states),
                transitions=[
                    {"trigger": t.trigger, "source": t.source, "dest": t.dest}
                    for t in self.transitions
                ],
                initial=self.initial,
                auto_transitions=False,
                ignore_invalid_triggers=False,
            )
        return self._machine

    def fire(self, state: str, trigger: str) -> str:
        """Return the state after trigger from state; MachineError when not allowed."""
        wrapper = _CaseState(state)
        self.machine.events[trigger].trigger(wrapper)
        return wrapper.state

    def mermaid(self) -> str:
        """Return the route as a Mermaid state diagram (transitions' own Mermaid support)."""
        from transitions.extensions.diagrams import GraphMachine

        model = _DiagramModel()
        GraphMachine(
            model=model,
            states=list(self.states),
            transitions=[
                {"trigger": t.trigger, "source": t.source, "dest": t.dest} for t in self.transitions
            ],
            initial=self.initial,
            auto_transitions=False,
            graph_engine="mermaid",
            title=f"{self.label} ({self.id} v{self.version})",
        )
        return str(model.get_graph().draw(None))  # type: ignore[attr-defined]

    def describe(self) -> dict[str, Any]:
        """Return the route as plain data (for ``workflow show --json``)."""
        return {
            "id": self.id,
            "version": self.version,
            "label": self.label,
            "file": self.path.name,
            "initial": self.initial,
            "rules": list(self.rules),
            "states": [
                {"name": s.name, "label": s.label, "final": s.final, "letter": s.letter,
                 "tasks": [task_dict(t) for t in s.tasks]}
                for s in self.states.values()
            ],
            "transitions": [
                {"trigger": t.trigger, "source": t.source, "dest": t.dest,
                 "needs": list(t.needs), "accepts": list(t.accepts), "max": t.max,
                 "then": list(t.then)}
                for t in self.transitions
            ],
            "fields": {
                f.name: {"type": f.type, "label": f.label, "choices": list(f.choices),
                         "keys": list(f.keys)}
                for f in self.fields.values()
            },
        }


class _DiagramModel:
    """A model GraphMachine may decorate with its methods."""


class _CaseState:
    """The light model a trigger is fired on: only the state, nothing stored."""

    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


# --- loading and validation ---------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _shown(value: Any) -> str:
    """Return a value for a message: quoted, and cut short when long."""
    text = value if isinstance(value, str) else repr(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _names(value: Any) -> list[str] | None:
    """Return a name or list of names as a list; None when something else is given."""
    items = _as_list(value)
    return items if all(isinstance(item, str) for item in items) else None


def _letter_problem(name: Any) -> str | None:
    """Return what is wrong with a letter template name (None when it is a plain name)."""
    if not isinstance(name, str):
        return (f"letter {_shown(name)} must be the name of a letter template, "
                "e.g. \"uitnodiging\"")
    if not _LETTER_NAME.fullmatch(name):
        return (f"letter template name {_shown(name)} must be a plain name of letters, digits, "
                "_ and - (the file NAME.typ.j2 in paths.templates), not a path")
    return None


def letter_names(route: Route) -> dict[str, str]:
    """Return each letter template a route uses, with where it is used."""
    used: dict[str, str] = {}
    for state in route.states.values():
        if state.letter:
            used.setdefault(state.letter, f"state '{state.name}'")
        for task in state.tasks:
            for template in task.letters.values():
                used.setdefault(template, f"state '{state.name}': task {task.kind}")
    for t in route.transitions:
        if t.letter:
            used.setdefault(t.letter, f"transition '{t.trigger}' from '{t.source}'")
    return used


def check_letters(route: Route, templates_dir: Path) -> list[str]:
    """Return a problem for each letter template the route names that does not exist."""
    used = letter_names(route)
    if used and not templates_dir.is_dir():
        return [f"{route.path}: letter templates folder {templates_dir} does not exist; set "
                "paths.templates in config.toml"]
    return [
        f"{route.path}: {where}: letter template '{name}' not found in {templates_dir} "
        f"(expected {name}.typ.j2); add the template or fix the name"
        for name, where in used.items()
        if not (templates_dir / f"{name}.typ.j2").is_file()
    ]


def load_route(path: Path, rules: Any = None, text: str | None = None,
               templates_dir: Path | None = None) -> Route:
    """Return the validated route in a workflow file; WorkflowError lists every problem.

    With ``rules`` (casework.rules.Rules) unknown rule names are problems, and each rule the
    route names checks the route as well. With ``text`` the route is read from it (a copy
    kept in the database) instead of from the file. With ``templates_dir`` every letter the
    route names must have its template there."""
    route = _load_route(path, text)
    if templates_dir is not None:
        missing = check_letters(route, templates_dir)
        if missing:
            raise WorkflowError(missing)
    if rules is None:
        return route
    unknown = rules.unknown(route)
    if unknown:
        raise WorkflowError([
            f"{path}: [workflow]: unknown rule '{name}' (known: {', '.join(rules.names)}; a "
            "rule from a package must be installed)" for name in unknown
        ])
    problems = rules.check_route(route)
    if problems:
        raise WorkflowError([f"{path}: {text}" for text in problems])
    return route


def _field_bounds(name: str, ftype: str, spec: dict[str, Any],
                  problem: Callable[[str], None]) -> tuple[float | None, float | None]:
    """Return a number field's 'min' and 'max' (None when not given); report bad ones."""
    bounds: list[float | None] = []
    for key in ("min", "max"):
        value = spec.get(key)
        if value is None:
            bounds.append(None)
        elif ftype not in ("int", "number"):
            problem(f"field '{name}': '{key}' is only for int and number fields")
            bounds.append(None)
        elif (isinstance(value, bool) or not isinstance(value, int | float)
              or not math.isfinite(value) or abs(value) > NUMBER_LIMIT
              or (ftype == "int" and not float(value).is_integer())):
            kind = "a whole number" if ftype == "int" else "a number"
            problem(f"field '{name}': '{key}' must be {kind} below a million")
            bounds.append(None)
        else:
            bounds.append(value)
    low, high = bounds
    if low is not None and high is not None and low > high:
        problem(f"field '{name}': 'min' ({low}) is larger than 'max' ({high})")
        return None, None
    return low, high


def _load_route(path: Path, text: str | None = None) -> Route:
    where = str(path)
    try:
        if text is not None:
            doc = tomllib.loads(text)
        else:
            with path.open("rb") as fh:
                doc = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise WorkflowError([f"{where}: not valid TOML: {exc}"]) from None
    except UnicodeDecodeError:
        raise WorkflowError([f"{where}: is not UTF-8 text; save it as UTF-8"]) from None
    except OSError as exc:
        raise WorkflowError([f"{where}: cannot be read ({exc.strerror})"]) from None
    problems: list[str] = []

    def problem(text: str) -> None:
        problems.append(f"{where}: {text}")

    for key in doc:
        if key not in {"workflow", "fields", "states", "transitions"}:
            problem(f"unknown section [{key}] (known: workflow, fields, states, transitions)")
    head = doc.get("workflow")
    if not isinstance(head, dict):
        raise WorkflowError([f"{where}: missing [workflow] section with id, version, initial"])
    for key in head:
        if key not in _WORKFLOW_KEYS:
            problem(f"[workflow]: unknown key '{key}'")
    wid, version, initial = head.get("id"), head.get("version"), head.get("initial")
    if not isinstance(wid, str) or not wid:
        problem("[workflow]: 'id' is missing or not text")
    if (not isinstance(version, int) or isinstance(version, bool)
            or not 1 <= version <= MAX_VERSION):
        problem(f"[workflow]: 'version' must be a whole number from 1 to {MAX_VERSION} (the "
                f"route's first version is 1, the next one 2), got {_shown(version)}")
    if "contact" in head and not (isinstance(head["contact"], str) and head["contact"].strip()):
        problem("[workflow]: 'contact' must be text (who signs the letters)")
    rules = _as_list(head.get("rules"))
    if not all(isinstance(r, str) for r in rules):
        problem("[workflow]: 'rules' must be a list of rule names")

    fields: dict[str, Field] = {}
    raw_fields = doc.get("fields", {})
    if not isinstance(raw_fields, dict):
        problem("[fields] must be a table of field definitions")
        raw_fields = {}
    for name, spec in raw_fields.items():
        if not isinstance(spec, dict):
            problem(f"field '{name}': must be a table with at least 'type'")
            continue
        for key in spec:
            if key not in _FIELD_KEYS:
                problem(f"field '{name}': unknown key '{key}'")
        ftype = spec.get("type")
        if ftype not in FIELD_TYPES:
            problem(f"field '{name}': type {ftype!r} is not one of {', '.join(FIELD_TYPES)}")
            continue
        listed: dict[str, tuple[str, ...]] = {}
        for key in ("choices", "keys"):
            names = _names(spec.get(key))
            if names is None:
                problem(f"field '{name}': '{key}' must be a list of texts")
                names = []
            listed[key] = tuple(names)
        choices, keys = listed["choices"], listed["keys"]
        if not isinstance(spec.get("label", name), str):
            problem(f"field '{name}': 'label' must be text")
        if ftype in ("choice", "choices") and not choices:
            problem(f"field '{name}': type {ftype} needs a list 'choices'")
        if ftype == "notes" and not keys:
            problem(f"field '{name}': type notes needs a list 'keys'")
        consent = spec.get("consent")
        if consent is not None and not isinstance(consent, str):
            problem(f"field '{name}': 'consent' must be a consent scope such as record_report")
            consent = None
        labels = spec.get("labels", {})
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            problem(f"field '{name}': 'labels' must be a table of texts")
            labels = {}
        low, high = _field_bounds(name, ftype, spec, problem)
        fields[name] = Field(name, ftype, spec.get("label", name), choices, keys, consent,
                             tuple(labels.items()), low, high)

    states: dict[str, StateSpec] = {}
    raw_tasks: dict[str, list[Any]] = {}
    raw_states = doc.get("states", {})
    if not isinstance(raw_states, dict) or not raw_states:
        problem("no [states.NAME] sections: a route needs states")
        raw_states = {}
    for name, spec in raw_states.items():
        if not isinstance(spec, dict):
            problem(f"state '{name}': must be a table")
            continue
        for key in spec:
            if key not in _STATE_KEYS:
                problem(f"state '{name}': unknown key '{key}'")
        raw_tasks[name] = _as_list(spec.get("tasks"))
        letter = spec.get("letter")
        why = None if letter is None else _letter_problem(letter)
        if why:
            problem(f"state '{name}': {why}")
            letter = None
        states[name] = StateSpec(
            name=name,
            label=str(spec.get("label", name)),
            final=bool(spec.get("final", False)),
            letter=letter,
        )
    if isinstance(initial, str) and initial not in states:
        problem(f"[workflow]: initial state '{initial}' is not defined under [states]")
    elif not isinstance(initial, str):
        problem("[workflow]: 'initial' (the first state) is missing")

    open_states = [s for s in states.values() if not s.final]
    transitions: list[TransitionSpec] = []
    seen: dict[tuple[str, str], int] = {}
    raw_transitions = doc.get("transitions", [])
    if not isinstance(raw_transitions, list):
        problem("transitions must be written as [[transitions]] tables")
        raw_transitions = []
    for index, spec in enumerate(raw_transitions, 1):
        label = f"transition {index}"
        if not isinstance(spec, dict):
            problem(f"{label}: must be a table")
            continue
        trigger = spec.get("trigger")
        if isinstance(trigger, str):
            label = f"transition {index} ('{trigger}')"
        else:
            problem(f"{label}: 'trigger' is missing")
            continue
        if not trigger.isidentifier():
            problem(f"{label}: trigger name must be letters, digits and _ only")
        for key in spec:
            if key not in _TRANSITION_KEYS:
                problem(f"{label}: unknown key '{key}'")
        dest = spec.get("dest")
        dest_ok = isinstance(dest, str) and dest in states
        if not dest_ok:
            problem(f"{label}: dest state {_shown(dest)} is not defined under [states]")
        sources = _names(spec.get("source"))
        if sources is None:
            problem(f"{label}: 'source' must be a state name or a list of state names")
            sources = []
        elif not sources:
            problem(f"{label}: 'source' is missing")
        if sources == ["*"]:
            sources = [s.name for s in open_states]
        lists: dict[str, tuple[str, ...]] = {}
        for key, what in (("needs", "field"), ("accepts", "field"), ("then", "trigger"),
                          ("no_letter_for", "field value")):
            names = _names(spec.get(key))
            if names is None:
                problem(f"{label}: '{key}' must be a list of {what} names")
                names = []
            lists[key] = tuple(names)
        needs, accepts = lists["needs"], lists["accepts"]
        letter = spec.get("letter")
        why = None if letter is None else _letter_problem(letter)
        if why:
            problem(f"{label}: {why}")
            letter = None
        for fname in needs + accepts:
            if fname not in fields:
                problem(f"{label}: unknown data field '{fname}' (declare it under [fields])")
        records = spec.get("records")
        if records is not None and (not isinstance(records, str) or records not in EFFECTS):
            problem(f"{label}: records {records!r} is not one of {', '.join(EFFECTS)}")
        if records == "appointment" and "appointment" not in needs + accepts:
            problem(f"{label}: records appointment but takes no 'appointment' field")
        if records == "referral" and "partner" not in needs:
            problem(f"{label}: records referral but does not need a 'partner' field")
        if records == "match" and "employer" not in needs:
            problem(f"{label}: records match but does not need an 'employer' field")
        ends = spec.get("ends_appointment")
        if ends is not None and (not isinstance(ends, str) or ends not in APPOINTMENT_ENDINGS):
            problem(f"{label}: ends_appointment {ends!r} is not one of "
                    f"{', '.join(APPOINTMENT_ENDINGS)}")
        if spec.get("reason") is not None and not isinstance(spec["reason"], str):
            problem(f"{label}: 'reason' (why the case closes) must be text such as \"declined\"")
        consent_scope = spec.get("consent")
        if consent_scope is not None and not isinstance(consent_scope, str):
            problem(f"{label}: 'consent' must be a scope such as \"share:{{partner}}\"")
        for flag in ("sanction", "benefit"):
            if flag in spec and not isinstance(spec[flag], bool):
                problem(f"{label}: '{flag}' must be true or false")
        limit = spec.get("max")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)
                                  or not 1 <= limit <= MAX_TIMES):
            problem(f"{label}: 'max' (how often the step may be taken) must be a whole number "
                    f"from 1 to {MAX_TIMES}, got {_shown(limit)}")
            limit = None
        if not dest_ok:
            continue
        for source in sources:
            if source not in states:
                problem(f"{label}: source state {source!r} is not defined under [states]")
                continue
            if states[source].final:
                problem(f"state '{source}': is final but has an exit ('{trigger}' to '{dest}')")
            if spec.get("internal") and source != dest:
                problem(f"{label}: 'internal' steps stay in their state, but this one goes "
                        f"from '{source}' to '{dest}'")
            key = (trigger, source)
            if key in seen:
                problem(
                    f"state '{source}': trigger '{trigger}' is defined twice "
                    f"(transitions {seen[key]} and {index})"
                )
                continue
            seen[key] = index
            transitions.append(TransitionSpec(
                trigger=trigger, source=source, dest=dest, label=str(spec.get("label", "")),
                needs=needs, accepts=accepts, records=records,
                reason=spec["reason"] if isinstance(spec.get("reason"), str) else None,
                max=limit, then=lists["then"], ends_appointment=ends,
                consent=spec.get("consent"), sanction=bool(spec.get("sanction", False)),
                benefit=bool(spec.get("benefit", False)), letter=letter,
                no_letter_for=lists["no_letter_for"],
                internal=spec.get("internal") is True,
            ))
    triggers_by_source: dict[str, set[str]] = {}
    for t in transitions:
        triggers_by_source.setdefault(t.source, set()).add(t.trigger)
    for t in transitions:
        for other in t.then:
            if other not in triggers_by_source.get(t.source, set()):
                problem(
                    f"state '{t.source}': '{t.trigger}' names '{other}' under 'then' but "
                    f"'{other}' is not a trigger from '{t.source}'"
                )
    by_key = {(t.trigger, t.source): t for t in transitions}
    for name, tasks in raw_tasks.items():
        parsed = []
        for index, task in enumerate(tasks, 1):
            texts: list[str] = []
            spec = _parse_task(task, name, by_key, fields, texts)
            for text in texts:
                problem(f"state '{name}': task {index}: {text}")
            if spec is not None and not texts:
                parsed.append(spec)
        if parsed:
            states[name] = replace(states[name], tasks=tuple(parsed))
    if isinstance(initial, str) and initial in states:
        reachable = _reachable(initial, transitions)
        for name in states:
            if name not in reachable:
                problem(f"state '{name}': unreachable from the initial state '{initial}'")
        for state in open_states:
            if state.name not in triggers_by_source:
                problem(
                    f"state '{state.name}': has no way out; add a transition or mark it "
                    "final = true"
                )
    if not any(s.final for s in states.values()) and states:
        problem("no final state: mark the closing state with final = true")
    if problems:
        raise WorkflowError(problems)
    assert isinstance(wid, str) and isinstance(version, int) and isinstance(initial, str)
    return Route(
        id=wid, version=version, label=str(head.get("label", wid)), initial=initial, path=path,
        states=states, transitions=transitions, fields=fields, rules=tuple(rules),
        contact=str(head["contact"]) if head.get("contact") else None,
    )


def _parse_task(task: Any, state: str, transitions: dict[tuple[str, str], TransitionSpec],
                fields: dict[str, Field], problems: list[str]) -> TaskSpec | None:
    """Return the task a state plans, or None; what is wrong goes into problems."""
    if not isinstance(task, dict):
        problems.append("must be a table such as { kind = \"follow_up_call\", after = \"P3M\" }")
        return None
    for key in task:
        if key not in _TASK_KEYS:
            problems.append(f"unknown key '{key}'")
    kind = task.get("kind")
    if not isinstance(kind, str) or not kind.isidentifier():
        problems.append("'kind' (what the task is, e.g. reminder_call) is missing or not a name")
    offsets = [k for k in ("after", "before") if k in task]
    durations: dict[str, Duration] = {}
    if len(offsets) != 1:
        problems.append("give exactly one of 'after' or 'before' (an ISO 8601 duration such as "
                        "P3M)")
    for key in (*offsets, *[k for k in ("every", "repeat", "for") if k in task]):
        try:
            durations[key] = parse_duration(task[key])
        except ValueError as exc:
            problems.append(f"'{key}': {exc}")
            continue
        if key in ("every", "repeat", "for") and not durations[key].moves_a_date:
            # Work is planned on days: a period of no days would plan it again the same day.
            problems.append(f"'{key}' must be at least one day (e.g. P2W), got "
                            f"{_shown(task[key])}")
    anchor = task.get("of", "entry")
    if anchor not in _ANCHORS:
        problems.append(f"'of' must be one of {', '.join(_ANCHORS)}")
    calendar = task.get("calendar", "days")
    if calendar not in _CALENDARS:
        problems.append(f"'calendar' must be one of {', '.join(_CALENDARS)}")
    rounds = task.get("rounds", 1)
    if not isinstance(rounds, int) or isinstance(rounds, bool) or not 1 <= rounds <= MAX_ROUNDS:
        problems.append(f"'rounds' (how often the task is tried) must be a whole number from 1 "
                        f"to {MAX_ROUNDS}, got {_shown(rounds)}")
        rounds = 1
    elif rounds > 1 and "every" not in task:
        problems.append("'rounds' > 1 needs 'every' (the time between rounds, e.g. P2W)")
    if "repeat" in task and task.get("by", "staff") != "staff":
        problems.append("'repeat' is for work people do (by = \"staff\")")
    if "for" in task and "repeat" not in task:
        problems.append("'for' needs 'repeat' (how often the work comes back, e.g. P6W)")
    if "repeat" in task and rounds > 1:
        problems.append("give either 'rounds' (tries when not reached) or 'repeat' "
                        "(recurring work), not both")
    by = task.get("by", "staff")
    if by not in _PERFORMERS:
        problems.append(f"'by' must be one of {', '.join(_PERFORMERS)}")
    scope = task.get("scope", "state")
    if scope not in _SCOPES:
        problems.append(f"'scope' must be one of {', '.join(_SCOPES)} (cancel the task when the "
                        "case leaves the state, or only when it closes)")
    for key in ("escalate", "role"):
        if task.get(key) is not None and task[key] not in ROLES:
            problems.append(f"'{key}' must be a role: {', '.join(ROLES)}")
    expire = task.get("expire")
    expire_data = task.get("expire_data", {})
    if not isinstance(expire_data, dict):
        problems.append("'expire_data' must be a table of field values")
        expire_data = {}
    if expire is not None and not isinstance(expire, str):
        problems.append(f"'expire' must be a trigger name, got {_shown(expire)}")
    elif expire is not None:
        _check_trigger_use(f"expire trigger '{expire}'", expire, expire_data, state, transitions,
                           fields, problems, needs_all=True)
    elif expire_data:
        problems.append("'expire_data' without 'expire'")
    outcomes: dict[str, Outcome] = {}
    raw_outcomes = task.get("outcomes", {})
    if not isinstance(raw_outcomes, dict):
        problems.append("'outcomes' must be a table: result = { trigger = ..., data = {...} }")
        raw_outcomes = {}
    for result, spec in raw_outcomes.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("trigger"), str):
            problems.append(f"outcome '{result}' must be a table with a 'trigger'")
            continue
        data = spec.get("data", {})
        if not isinstance(data, dict) or set(spec) - {"trigger", "data"}:
            problems.append(f"outcome '{result}' takes only 'trigger' and a 'data' table")
            continue
        _check_trigger_use(f"outcome '{result}'", spec["trigger"], data, state, transitions,
                           fields, problems)
        outcomes[result] = Outcome(spec["trigger"], dict(data))
    letters = task.get("letters", {})
    if not isinstance(letters, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in letters.items()
    ):
        problems.append("'letters' must be a table: outcome = \"template\"")
        letters = {}
    has = (task_outcomes(kind, {"outcomes": raw_outcomes, "rounds": rounds, "expire": expire})
           if isinstance(kind, str) else TASK_OUTCOMES)
    for outcome, template in letters.items():
        if outcome not in TASK_OUTCOMES:
            problems.append(f"'letters': {outcome!r} is not an outcome "
                            f"({', '.join(TASK_OUTCOMES)})")
        elif outcome not in has:
            problems.append(f"'letters': a {kind} task is never finished as {outcome!r} "
                            f"(its outcomes: {', '.join(has)})")
        why = _letter_problem(template)
        if why:
            problems.append(f"'letters': {outcome}: {why}")
    if problems or not isinstance(kind, str) or len(offsets) != 1:
        return None
    return TaskSpec(
        kind=kind, label=str(task.get("label", kind)), offset=durations[offsets[0]],
        forward=offsets[0] == "after", anchor=anchor, calendar=calendar, rounds=rounds,
        every=durations.get("every"), by=by, scope=scope, role=task.get("role"),
        escalate=task.get("escalate"), expire=expire, expire_data=dict(expire_data),
        outcomes=outcomes, letters=dict(letters), repeat=durations.get("repeat"),
        repeat_for=durations.get("for"),
    )


def _check_trigger_use(what: str, trigger: str, data: dict[str, Any], state: str,
                       transitions: dict[tuple[str, str], TransitionSpec],
                       fields: dict[str, Field], problems: list[str],
                       needs_all: bool = False) -> None:
    transition = transitions.get((trigger, state))
    if transition is None:
        problems.append(f"{what} is not a trigger from '{state}'")
        return
    if needs_all:
        for name in transition.needs:
            if name not in data:
                problems.append(f"{what}: '{trigger}' needs field '{name}'; give it in "
                                "expire_data (nobody is there to fill it in)")
    for key, value in data.items():
        if key not in transition.fields:
            problems.append(f"{what}: '{trigger}' does not take field '{key}'")
            continue
        if key not in fields:  # already reported: the transition names an undeclared field
            continue
        try:
            fields[key].coerce(value, ZoneInfo("UTC"))
        except ValueError as exc:
            problems.append(f"{what}: {exc}")


def _reachable(initial: str, transitions: list[TransitionSpec]) -> set[str]:
    edges: dict[str, set[str]] = {}
    for t in transitions:
        edges.setdefault(t.source, set()).add(t.dest)
    seen = {initial}
    queue = deque([initial])
    while queue:
        for nxt in edges.get(queue.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


class Registry:
    """All routes in a folder, by (id, version)."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes: dict[tuple[str, int], Route] = {}
        for route in routes:
            self.routes[(route.id, route.version)] = route
        # Versions kept only in the database whose copy no longer loads: why, by key.
        self.broken: dict[tuple[str, int], str] = {}

    def source_of(self, key: tuple[str, int]) -> str:
        """Return the text of the file a loaded route came from."""
        return self.routes[key].path.read_text(encoding="utf-8")

    def add_stored(self, workflow_id: str, version: int, file_name: str, text: str,
                   rules: Any = None) -> None:
        """Load a version kept in the database (its file is gone), so its cases keep working;
        a copy that no longer loads is remembered with the reason, not fatal."""
        if (workflow_id, version) in self.routes:
            return
        try:
            route = load_route(Path(f"{file_name} (version {version}, kept in the database)"),
                               rules, text)
        except WorkflowError as exc:
            self.broken[(workflow_id, version)] = "; ".join(exc.problems)
            return
        self.routes[(route.id, route.version)] = route

    @classmethod
    def from_dir(cls, folder: Path, rules: Any = None,
                 templates_dir: Path | None = None) -> Registry:
        """Return the routes of every *.toml file in folder; WorkflowError lists all problems.

        With ``rules`` (casework.rules.Rules) the rule names are checked and each rule a route
        uses validates it too."""
        if not folder.is_dir():
            raise WorkflowError([
                f"workflow folder {folder} does not exist; set paths.workflows in config.toml"
            ])
        problems: list[str] = []
        routes: list[Route] = []
        files: dict[tuple[str, int], Path] = {}
        for path in sorted(folder.glob("*.toml")):
            try:
                route = load_route(path, rules, templates_dir=templates_dir)
            except WorkflowError as exc:
                problems.extend(exc.problems)
                continue
            key = (route.id, route.version)
            if key in files:
                problems.append(
                    f"{path}: workflow '{route.id}' version {route.version} is also defined in "
                    f"{files[key]}; give one of them a new version"
                )
                continue
            files[key] = path
            routes.append(route)
        if problems:
            raise WorkflowError(problems)
        return cls(routes)

    def get(self, workflow_id: str, version: int | None = None) -> Route:
        """Return the route (the newest version unless one is named)."""
        if version is not None:
            route = self.routes.get((workflow_id, version))
            if route is None:
                why = self.broken.get((workflow_id, version))
                if why:
                    raise NotFound(f"workflow '{workflow_id}' version {version} is kept in the "
                                   f"database but no longer loads: {why}")
                raise NotFound(f"workflow '{workflow_id}' version {version} is not loaded")
            return route
        versions = [r for (wid, _), r in self.routes.items() if wid == workflow_id]
        if not versions:
            known = ", ".join(sorted({wid for wid, _ in self.routes})) or "none"
            raise NotFound(f"no workflow '{workflow_id}' (known: {known})")
        return max(versions, key=lambda r: r.version)

    def __iter__(self) -> Any:
        return iter(sorted(self.routes.values(), key=lambda r: (r.id, r.version)))
