"""Route files: load and validate ``workflows/*.toml`` into Route objects.

The format (every key, its type, default and meaning) is declared in
``casework.route_format``; this module reads a file against those tables and checks what ties
the sections together (states, triggers and fields that must exist). A Route answers a step by
a look-up in its transition table; the ``transitions`` library draws it (``workflow diagram``).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from casework import route_format as fmt
from casework import tomlcache
from casework.durations import Duration
from casework.errors import NotFound, TransitionNotAllowed, WorkflowError
from casework.fields import FIELD_TYPES, NUMBER_LIMIT, Field
from casework.route_format import (
    APPOINTMENT_ENDINGS,
    EFFECTS,
    MAX_ROUNDS,
    MAX_TIMES,
    MAX_VERSION,
    ROLES,
    as_list,
    letter_problem,
    read_section,
    shown,
)

__all__ = ["APPOINTMENT_ENDINGS", "EFFECTS", "MAX_ROUNDS", "MAX_TIMES", "MAX_VERSION", "ROLES",
           "Registry", "Route", "StateSpec", "TaskSpec", "TransitionSpec", "load_route"]

TASK_OUTCOMES = ("reached", "not_reached", "wrong_number", "done")
CALL_OUTCOMES = ("reached", "not_reached", "wrong_number")
# The report roles a route gives in [reports] (route_format.REPORTS).
REPORT_ROLES = tuple(key.name for key in fmt.REPORTS)

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
    # A phone call: finished as reached, not reached or a wrong number (route key ``call``).
    call: bool = False
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
            "rounds": self.rounds, "call": self.call,
            "every": _duration_text(self.every) if self.every else None,
            "calendar": self.calendar, "expire": self.expire, "expire_data": self.expire_data,
            "escalate": self.escalate, "label": self.label,
            "outcomes": {k: {"trigger": o.trigger, "data": o.data}
                         for k, o in self.outcomes.items()},
            "letters": dict(self.letters),
            "repeat": _duration_text(self.repeat) if self.repeat else None,
            "repeat_for": _duration_text(self.repeat_for) if self.repeat_for else None,
        }


def is_call(kind: str, call: bool | None) -> bool:
    """Return whether work is a phone call: as the route says (``call = true``), else as the
    format decides for routes (and stored tasks) that predate the key."""
    return call if call is not None else fmt.default_call(kind)


def task_outcomes(kind: str, spec: Mapping[str, Any]) -> tuple[str, ...]:
    """Return the outcomes a task can be finished with, from its kind and stored spec.

    A call (``call = true``) is reached, not reached or a wrong number; other work is done,
    or reached with one of the route's results when the task has an outcomes table, or not
    reached when it is tried in rounds (or expires after the last try)."""
    if is_call(kind, spec.get("call")):
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
    # The status an earlier planned appointment gets when this step records a new one.
    old_appointment: str = "moved"
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
    # [reports]: role -> the triggers (or state, task kind) the reports count for it.
    reports: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # [workflow] wave_step, meeting_step: the steps cohort plan and event attend take.
    wave_step: str | None = None
    meeting_step: str | None = None
    # Each rule's own section ([voluntary], ...): its keys with their values or defaults.
    rule_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    _by_key: dict[tuple[str, str], TransitionSpec] = field(default_factory=dict, repr=False)
    _triggers: list[str] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._by_key = {(t.trigger, t.source): t for t in self.transitions}
        self._triggers = list(dict.fromkeys(t.trigger for t in self.transitions))

    @property
    def triggers(self) -> list[str]:
        return self._triggers

    @cached_property
    def owed_letters(self) -> tuple[str, ...]:
        """Return the letters of work owed to the person (tasks of scope "person", such as
        the conversation report): closing the case does not stop them, unless nothing may
        be sent to the person any more (the closing step's no_letter_for)."""
        return tuple(sorted({template for state in self.states.values()
                             for task in state.tasks if task.scope == "person"
                             for template in task.letters.values()}))

    def is_final(self, state: str) -> bool:
        spec = self.states.get(state)
        return bool(spec and spec.final)

    def transition(self, trigger: str, source: str) -> TransitionSpec | None:
        """Return the transition for trigger from source, or None when there is none."""
        return self._by_key.get((trigger, source))

    def sources_of(self, trigger: str) -> list[str]:
        return [t.source for t in self.transitions if t.trigger == trigger]

    def fire(self, state: str, trigger: str) -> str:
        """Return the state after trigger from state; TransitionNotAllowed when there is no
        such step (the transition table is the rule book: a look-up, no machine)."""
        transition = self._by_key.get((trigger, state))
        if transition is None:
            raise TransitionNotAllowed(f"'{trigger}' is not allowed from '{state}'")
        return transition.dest

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


# --- loading and validation ---------------------------------------------------------------


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
    if rules is not None:
        owned = rules.route_keys()
    else:
        from casework.rules import builtin_route_keys

        owned = builtin_route_keys()
    route = _load_route(path, text, owned)
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


Problem = Callable[[str], None]


def _within(problem: Problem, where: str) -> Problem:
    """Return a problem reporter that names the place (a section, a state, a task) first."""
    return lambda text: problem(f"{where}: {text}")


# Route files parsed in this process: their bytes -> the parsed document, pickled (each
# reader gets objects of its own). A process that makes many engines (the test suite, a
# scheduler) parses each version of a file once; a changed file is new bytes.
_PARSED: dict[bytes, bytes] = {}
_PARSED_MOST = 64


def _read_doc(path: Path, text: str | None) -> dict[str, Any]:
    import pickle

    where = str(path)
    try:
        data = text.encode("utf-8") if text is not None else path.read_bytes()
        parsed = _PARSED.get(data)
        if parsed is not None:
            doc: dict[str, Any] = pickle.loads(parsed)
            return doc
        doc = tomlcache.loads(data)
        if len(_PARSED) >= _PARSED_MOST:
            _PARSED.pop(next(iter(_PARSED)))
        _PARSED[data] = pickle.dumps(doc, pickle.HIGHEST_PROTOCOL)
        return doc
    except tomlcache.TOMLError as exc:
        raise WorkflowError([f"{where}: not valid TOML: {exc}"]) from None
    except UnicodeDecodeError:
        raise WorkflowError([f"{where}: is not UTF-8 text; save it as UTF-8"]) from None
    except OSError as exc:
        raise WorkflowError([f"{where}: cannot be read ({exc.strerror})"]) from None


_SECTIONS = ("workflow", "fields", "states", "transitions", "reports")


def _load_route(path: Path, text: str | None = None,
                owned: Mapping[str, tuple[fmt.Key, ...]] | None = None) -> Route:
    doc = _read_doc(path, text)
    problems: list[str] = []
    owned = owned or {}

    def problem(text: str) -> None:
        problems.append(f"{path}: {text}")

    known = (*_SECTIONS, *owned)
    for key in doc:
        if key not in known:
            problem(f"unknown section [{key}] (known: {', '.join(known)})")
    rule_options: dict[str, dict[str, Any]] = {}
    for name, keys in owned.items():
        table = doc.get(name, {})
        if not isinstance(table, dict):
            problem(f"[{name}] must be a table of the rule's keys")
            table = {}
        rule_options[name], _ = read_section(table, keys, _within(problem, f"[{name}]"))
    if not isinstance(doc.get("workflow"), dict):
        raise WorkflowError([f"{path}: missing [workflow] section with id, version, initial"])
    head, _ = read_section(doc["workflow"], fmt.WORKFLOW, _within(problem, "[workflow]"))
    fields = _read_fields(doc.get("fields", {}), problem)
    states, raw_tasks = _read_states(doc.get("states", {}), problem)
    initial = head["initial"]
    if isinstance(initial, str) and initial not in states:
        problem(f"[workflow]: initial state '{initial}' is not defined under [states]")
    transitions = _read_transitions(doc.get("transitions", []), states, fields, problem)
    by_key = {(t.trigger, t.source): t for t in transitions}
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
    for name, tasks in raw_tasks.items():
        parsed = []
        for index, task in enumerate(tasks, 1):
            texts: list[str] = []
            spec = _parse_task(task, name, by_key, fields, texts.append)
            for line in texts:
                problem(f"state '{name}': task {index}: {line}")
            if spec is not None and not texts:
                parsed.append(spec)
        if parsed:
            states[name] = replace(states[name], tasks=tuple(parsed))
    if isinstance(initial, str) and initial in states:
        reachable = _reachable(initial, transitions)
        for name in states:
            if name not in reachable:
                problem(f"state '{name}': unreachable from the initial state '{initial}'")
        for state in states.values():
            if not state.final and state.name not in triggers_by_source:
                problem(
                    f"state '{state.name}': has no way out; add a transition or mark it "
                    "final = true"
                )
    if not any(s.final for s in states.values()) and states:
        problem("no final state: mark the closing state with final = true")
    reports = _read_reports(doc.get("reports", {}), states, transitions, fields, problem)
    wave, meeting = head["wave_step"], head["meeting_step"]
    if wave is not None and wave not in triggers_by_source.get(initial, set()):
        problem(f"[workflow]: 'wave_step' names '{wave}', which is not a trigger from the "
                f"initial state '{initial}'")
    if meeting is not None and meeting not in {t.trigger for t in transitions}:
        problem(f"[workflow]: 'meeting_step' names '{meeting}', which is not a trigger of the "
                "route")
    if problems:
        raise WorkflowError(problems)
    return Route(
        id=head["id"], version=head["version"], label=head["label"] or head["id"],
        initial=initial, path=path, states=states, transitions=transitions, fields=fields,
        rules=head["rules"], contact=head["contact"], reports=reports,
        wave_step=head["wave_step"], meeting_step=head["meeting_step"],
        rule_options=rule_options,
    )


def _read_fields(raw: Any, problem: Problem) -> dict[str, Field]:
    fields: dict[str, Field] = {}
    if not isinstance(raw, dict):
        problem("[fields] must be a table of field definitions")
        return fields
    for name, spec in raw.items():
        where = _within(problem, f"field '{name}'")
        if not isinstance(spec, dict):
            where("must be a table with at least 'type'")
            continue
        values, _ = read_section(spec, fmt.FIELD, where, skip=("type",))
        ftype = values["type"]
        if ftype not in FIELD_TYPES:
            where(f"type {ftype!r} is not one of {', '.join(FIELD_TYPES)}")
            continue
        choices, keys = values["choices"], values["keys"]
        if ftype in ("choice", "choices") and not choices:
            where(f"type {ftype} needs a list 'choices'")
        if ftype == "notes" and not keys:
            where("type notes needs a list 'keys'")
        labels = values["labels"]
        if not all(isinstance(v, str) for v in labels.values()):
            where("'labels' must be a table of texts")
            labels = {}
        low, high = _field_bounds(name, ftype, spec, problem)
        fields[name] = Field(name, ftype, values["label"] or name, choices, keys,
                             values["consent"], tuple(labels.items()), low, high)
    return fields


def _read_states(raw: Any, problem: Problem) -> tuple[dict[str, StateSpec], dict[str, list[Any]]]:
    states: dict[str, StateSpec] = {}
    raw_tasks: dict[str, list[Any]] = {}
    if not isinstance(raw, dict) or not raw:
        problem("no [states.NAME] sections: a route needs states")
        return states, raw_tasks
    for name, spec in raw.items():
        where = _within(problem, f"state '{name}'")
        if not isinstance(spec, dict):
            where("must be a table")
            continue
        values, _ = read_section(spec, fmt.STATE, where)
        raw_tasks[name] = as_list(values["tasks"])
        states[name] = StateSpec(name=name, label=values["label"] or name,
                                 final=values["final"], letter=values["letter"])
    return states, raw_tasks


def _read_transitions(raw: Any, states: dict[str, StateSpec], fields: dict[str, Field],
                      problem: Problem) -> list[TransitionSpec]:
    transitions: list[TransitionSpec] = []
    if not isinstance(raw, list):
        problem("transitions must be written as [[transitions]] tables")
        return transitions
    open_states = [s.name for s in states.values() if not s.final]
    seen: dict[tuple[str, str], int] = {}
    for index, spec in enumerate(raw, 1):
        label = f"transition {index}"
        if not isinstance(spec, dict):
            problem(f"{label}: must be a table")
            continue
        trigger = spec.get("trigger")
        if not isinstance(trigger, str):
            problem(f"{label}: 'trigger' is missing")
            continue
        label = f"transition {index} ('{trigger}')"
        where = _within(problem, label)
        if not trigger.isidentifier():
            where("trigger name must be letters, digits and _ only")
        values, bad = read_section(spec, fmt.TRANSITION, where, skip=("trigger", "dest"))
        dest = values["dest"]
        dest_ok = isinstance(dest, str) and dest in states
        if not dest_ok:
            where(f"dest state {shown(dest)} is not defined under [states]")
        sources = list(values["source"])
        if "source" in spec and not sources and "source" not in bad:
            where("'source' is missing")
        if sources == ["*"]:
            sources = open_states
        needs, accepts = values["needs"], values["accepts"]
        for fname in needs + accepts:
            if fname not in fields:
                where(f"unknown data field '{fname}' (declare it under [fields])")
        records = values["records"]
        if records == "appointment" and "appointment" not in needs + accepts:
            where("records appointment but takes no 'appointment' field")
        if records == "referral" and "partner" not in needs:
            where("records referral but does not need a 'partner' field")
        if records == "match" and "employer" not in needs:
            where("records match but does not need an 'employer' field")
        if not dest_ok:
            continue
        for source in sources:
            if source not in states:
                where(f"source state {source!r} is not defined under [states]")
                continue
            if states[source].final:
                problem(f"state '{source}': is final but has an exit ('{trigger}' to '{dest}')")
            if values["internal"] and source != dest:
                where(f"'internal' steps stay in their state, but this one goes from "
                      f"'{source}' to '{dest}'")
            key = (trigger, source)
            if key in seen:
                problem(f"state '{source}': trigger '{trigger}' is defined twice "
                        f"(transitions {seen[key]} and {index})")
                continue
            seen[key] = index
            transitions.append(TransitionSpec(
                trigger=trigger, source=source, dest=dest, label=values["label"],
                needs=needs, accepts=accepts, records=records, reason=values["reason"],
                max=values["max"], then=values["then"],
                ends_appointment=values["ends_appointment"],
                old_appointment=(values["old_appointment"] if "old_appointment" in spec
                                 else fmt.default_old_appointment(trigger)),
                consent=values["consent"],
                sanction=values["sanction"], benefit=values["benefit"],
                letter=values["letter"], no_letter_for=values["no_letter_for"],
                internal=values["internal"],
            ))
    return transitions


def _read_reports(raw: Any, states: dict[str, StateSpec], transitions: list[TransitionSpec],
                  fields: dict[str, Field], problem: Problem) -> dict[str, tuple[str, ...]]:
    """Return what the reports count for each role of [reports]; names must exist."""
    where = _within(problem, "[reports]")
    if not isinstance(raw, dict):
        problem("[reports] must be a table of report role = trigger names")
        return {}
    values, _ = read_section(raw, fmt.REPORTS, where)
    triggers = {t.trigger for t in transitions}
    kinds = {task.kind for state in states.values() for task in state.tasks}
    known = {"follow_up_state": ("state", set(states)), "follow_up_task": ("task kind", kinds)}
    # Closing reasons and partners are checked against the route's reason and partner fields
    # when it has them (choices), and taken as they are otherwise.
    for role in (key.name for key in fmt.REPORTS):
        if role.endswith("_reasons") and fields.get("reason") and fields["reason"].choices:
            known[role] = ("closing reason", set(fields["reason"].choices))
    if fields.get("partner") and fields["partner"].choices:
        known["care_partners"] = ("partner", set(fields["partner"].choices))
    reports: dict[str, tuple[str, ...]] = {}
    for role, names in values.items():
        noun, names_known = known.get(role, ("trigger", triggers))
        for name in names:
            if name not in names_known:
                where(f"'{role}' names {noun} '{name}', which the route does not have")
        if names:
            reports[role] = tuple(names)
    return reports


def _parse_task(task: Any, state: str, transitions: dict[tuple[str, str], TransitionSpec],
                fields: dict[str, Field], problem: Problem) -> TaskSpec | None:
    """Return the task a state plans, or None; what is wrong goes to problem."""
    if not isinstance(task, dict):
        problem("must be a table such as { kind = \"follow_up_call\", after = \"3 maanden\" }")
        return None
    found: list[str] = []

    def report(text: str) -> None:
        found.append(text)
        problem(text)

    values, _ = read_section(task, fmt.TASK, report)
    kind, rounds = values["kind"], values["rounds"]
    offsets = [k for k in ("after", "before") if task.get(k) is not None]
    if len(offsets) != 1:
        report("give exactly one of 'after' or 'before' (a duration such as P3M or "
               "3 maanden)")
    durations = {k: values[k] for k in ("after", "before", "every", "repeat", "for")
                 if values[k] is not None}
    for key in ("every", "repeat", "for"):
        if key in durations and not durations[key].moves_a_date:
            # Work is planned on days: a period of no days would plan it again the same day.
            report(f"'{key}' must be at least one day (e.g. P2W), got {shown(task[key])}")
    counted = [k for k, d in durations.items() if d.workdays]
    calendar = values["calendar"] or ("workdays" if counted else "days")
    if counted and calendar != "workdays":
        report(f"'{counted[0]}' is counted in werkdagen but 'calendar' is \"days\"; leave "
               "'calendar' out or give \"workdays\"")
    if rounds > 1 and "every" not in task:
        report("'rounds' > 1 needs 'every' (the time between rounds, e.g. P2W)")
    if "repeat" in task and values["by"] != "staff":
        report("'repeat' is for work people do (by = \"staff\")")
    if "for" in task and "repeat" not in task:
        report("'for' needs 'repeat' (how often the work comes back, e.g. P6W)")
    if "repeat" in task and rounds > 1:
        report("give either 'rounds' (tries when not reached) or 'repeat' (recurring work), "
               "not both")
    expire, expire_data = values["expire"], values["expire_data"]
    if values["scope"] == "person":
        # The work outlives the case: on a closed case no step can follow from it.
        for key in ("expire", "outcomes", "repeat"):
            if task.get(key):
                report(f"'{key}' cannot go with scope \"person\" (the work stays after the "
                       "case closes, when no step can follow); give scope \"case\"")
    if expire is not None:
        _check_trigger_use(f"expire trigger '{expire}'", expire, expire_data, state,
                           transitions, fields, report, needs_all=True)
    elif expire_data:
        report("'expire_data' without 'expire'")
    outcomes: dict[str, Outcome] = {}
    for result, spec in values["outcomes"].items():
        if not isinstance(spec, dict) or not isinstance(spec.get("trigger"), str):
            report(f"outcome '{result}' must be a table with a 'trigger'")
            continue
        data = spec.get("data", {})
        if not isinstance(data, dict) or set(spec) - {"trigger", "data"}:
            report(f"outcome '{result}' takes only 'trigger' and a 'data' table")
            continue
        _check_trigger_use(f"outcome '{result}'", spec["trigger"], data, state, transitions,
                           fields, report)
        outcomes[result] = Outcome(spec["trigger"], dict(data))
    letters = values["letters"]
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in letters.items()):
        report("'letters' must be a table: outcome = \"template\"")
        letters = {}
    call = is_call(kind, values["call"]) if isinstance(kind, str) else False
    has = task_outcomes(kind, {"outcomes": values["outcomes"], "rounds": rounds,
                               "expire": expire, "call": call}) if kind else TASK_OUTCOMES
    for outcome, template in letters.items():
        if outcome not in TASK_OUTCOMES:
            report(f"'letters': {outcome!r} is not an outcome ({', '.join(TASK_OUTCOMES)})")
        elif outcome not in has:
            report(f"'letters': a {kind} task is never finished as {outcome!r} "
                   f"(its outcomes: {', '.join(has)})")
        why = letter_problem(template)
        if why:
            report(f"'letters': {outcome}: {why}")
    if found or len(offsets) != 1 or offsets[0] not in durations:
        return None
    return TaskSpec(
        kind=kind, label=values["label"] or kind, offset=durations[offsets[0]],
        forward=offsets[0] == "after", anchor=values["of"], calendar=calendar, rounds=rounds,
        call=call, every=durations.get("every"), by=values["by"], scope=values["scope"],
        role=values["role"], escalate=values["escalate"], expire=expire,
        expire_data=dict(expire_data), outcomes=outcomes, letters=dict(letters),
        repeat=durations.get("repeat"), repeat_for=durations.get("for"),
    )


def _check_trigger_use(what: str, trigger: str, data: dict[str, Any], state: str,
                       transitions: dict[tuple[str, str], TransitionSpec],
                       fields: dict[str, Field], problem: Problem,
                       needs_all: bool = False) -> None:
    transition = transitions.get((trigger, state))
    if transition is None:
        problem(f"{what} is not a trigger from '{state}'")
        return
    if needs_all:
        for name in transition.needs:
            if name not in data:
                problem(f"{what}: '{trigger}' needs field '{name}'; give it in "
                                "expire_data (nobody is there to fill it in)")
    for key, value in data.items():
        if key not in transition.fields:
            problem(f"{what}: '{trigger}' does not take field '{key}'")
            continue
        if key not in fields:  # already reported: the transition names an undeclared field
            continue
        try:
            fields[key].coerce(value, ZoneInfo("UTC"))
        except ValueError as exc:
            problem(f"{what}: {exc}")


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
