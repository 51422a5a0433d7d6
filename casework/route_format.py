"""The route file format, declared once: every key of every section with its type, default,
meaning and an example, and one checker that reads a section against its keys.

``casework.workflow`` loads routes with these tables; ``docs/route-format.md`` is written from
them (``python -m casework.route_format``), and a test compares the two so they cannot drift.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from casework.durations import EXAMPLES as DURATION_EXAMPLES
from casework.durations import parse_duration
from casework.fields import FIELD_TYPES

# Versions are stored in 32-bit integer columns (PostgreSQL's integer).
MAX_VERSION = 2**31 - 1
# A call tried more often, or a step allowed more often, than this is a typo.
MAX_ROUNDS = 100
MAX_TIMES = 1000
# A letter template is a file NAME.typ.j2 in paths.templates: a plain name, never a path.
_LETTER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}", re.ASCII)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,79}", re.ASCII)

EFFECTS = ("appointment", "referral", "match")
APPOINTMENT_ENDINGS = ("held", "cancelled")
ROLES = ("back_office", "case_worker", "coordinator", "admin")
# "any": checked where the key is used (a field's type, min and max; a state's tasks).
TYPES = ("text", "name", "names", "bool", "int", "choice", "duration", "letter", "table", "any")


@dataclass(frozen=True)
class Key:
    """One key of a route file section: what it holds and how it is checked."""

    name: str
    type: str  # one of TYPES
    default: Any
    description: str
    example: str = ""
    required: bool = False
    choices: tuple[str, ...] = ()
    low: int | None = None
    high: int | None = None
    # For messages: what the value is, e.g. "how often the task is tried" or "field".
    hint: str = ""
    # names: the kind of name listed (field, trigger, state) for messages.
    noun: str = ""
    # text: whether "" (or only spaces) is a value; a name people read must not be blank.
    blank_ok: bool = True
    # How the type reads in docs/route-format.md, when the checker's name says too little.
    shown_type: str = ""


def shown(value: Any) -> str:
    """Return a value for a message: quoted, and cut short when long."""
    text = value if isinstance(value, str) else repr(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def letter_problem(name: Any) -> str | None:
    """Return what is wrong with a letter template name (None when it is a plain name)."""
    if not isinstance(name, str):
        return (f"letter {shown(name)} must be the name of a letter template, "
                "e.g. \"uitnodiging\"")
    if not _LETTER_NAME.fullmatch(name):
        return (f"letter template name {shown(name)} must be a plain name of letters, digits, "
                "_ and - (the file NAME.typ.j2 in paths.templates), not a path")
    return None


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _names(value: Any) -> list[str] | None:
    items = as_list(value)
    return items if all(isinstance(item, str) for item in items) else None


def _check(key: Key, value: Any) -> tuple[Any, str | None]:
    """Return the value as the route uses it, and what is wrong with it (None when fine)."""
    hint = f" ({key.hint})" if key.hint else ""
    if key.type == "bool":
        if isinstance(value, bool):
            return value, None
        return key.default, f"'{key.name}' must be true or false"
    if key.type == "int":
        low, high = key.low or 0, key.high if key.high is not None else MAX_VERSION
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value, None
        return key.default, (f"'{key.name}'{hint} must be a whole number from {low} to "
                             f"{high}, got {shown(value)}")
    if key.type == "choice":
        if isinstance(value, str) and value in key.choices:
            return value, None
        return key.default, f"'{key.name}' must be one of {', '.join(key.choices)}{hint}"
    if key.type == "text":
        if isinstance(value, str) and (key.blank_ok or value.strip()):
            return value, None
        example = f", e.g. {key.example}" if key.example else ""
        return key.default, f"'{key.name}'{hint} must be text{example}"
    if key.type == "name":
        if isinstance(value, str) and _NAME.fullmatch(value):
            return value, None
        return key.default, (f"'{key.name}'{hint} must be a name of letters, digits and _, "
                             f"got {shown(value)}")
    if key.type == "names":
        names = _names(value)
        if names is not None:
            return tuple(names), None
        return (), f"'{key.name}' must be a {key.noun} name or a list of {key.noun} names"
    if key.type == "duration":
        try:
            duration = parse_duration(value)
        except ValueError as exc:
            return None, f"'{key.name}': {exc}"
        return duration, None
    if key.type == "letter":
        return (None, letter_problem(value)) if letter_problem(value) else (value, None)
    if key.type == "table":
        if isinstance(value, dict):
            return value, None
        return {}, f"'{key.name}' must be a table{hint}"
    return value, None  # any: checked where it is used


def default_old_appointment(trigger: str) -> str:
    """Return the status a step without ``old_appointment`` gives the appointment it
    replaces: before the key, the core marked the one a ``not_home`` step replaced as
    not_home and any other as moved, and cases on route versions of that time (stored in the
    database) keep counting their appointments that way."""
    return "not_home" if trigger == "not_home" else "moved"


def default_call(kind: str) -> bool:
    """Return whether a task without ``call`` is a call: routes written before the key named
    their calls ..._call, and their stored tasks keep working that way."""
    return kind.endswith("_call")


def read_section(table: Mapping[str, Any], keys: tuple[Key, ...],
                 problem: Callable[[str], None],
                 skip: tuple[str, ...] = ()) -> tuple[dict[str, Any], set[str]]:
    """Return the section's values (defaults for keys not given or not valid) and the names
    of keys missing or given with a wrong value; every unknown key, missing required key and
    wrong value goes to problem. Keys in ``skip`` are read raw: the caller checks them."""
    by_name = {key.name: key for key in keys}
    for name in table:
        if name not in by_name:
            problem(f"unknown key '{name}'")
    values: dict[str, Any] = {}
    bad: set[str] = set()
    for key in keys:
        if key.name in skip:
            values[key.name] = table.get(key.name, key.default)
            continue
        if key.name not in table or table[key.name] is None:
            values[key.name] = key.default
            if key.required:
                problem(f"'{key.name}'{f' ({key.hint})' if key.hint else ''} is missing")
                bad.add(key.name)
            continue
        value, why = _check(key, table[key.name])
        values[key.name] = value
        if why:
            problem(why)
            bad.add(key.name)
    return values, bad


# --- the sections --------------------------------------------------------------------------

WORKFLOW = (
    Key("id", "text", None, "The route's name in commands (`--workflow ID`) and case "
        "references.", '"kansen-in-kaart"', required=True,
        blank_ok=False),
    Key("version", "int", None, "Whole number; a changed route gets the next version, cases "
        "stay on the version they started on.", "1", required=True, low=1, high=MAX_VERSION,
        hint="the route's first version is 1, the next one 2"),
    Key("label", "text", None, "Name shown to people (default: the id).",
        '"Kansen in Kaart"'),
    Key("initial", "text", None, "The state a new case starts in.", '"selected"',
        required=True, hint="the first state"),
    Key("rules", "names", (), "The rules the route follows (voluntary, consent, exclusion, "
        "capacity, or one from an installed package).", '["voluntary", "consent"]',
        noun="rule"),
    Key("description", "text", None, "What the route is for (free text).",
        '"Gesprekken met mensen in de bijstand"'),
    Key("contact", "text", None, "Who signs the route's letters and answers calls (default: "
        "organisation.contact in config.toml).", '"Team Kansen in Kaart"',
        hint="who signs the letters", blank_ok=False),
    Key("wave_step", "name", None, "The step `cohort plan` takes for each person of a wave: "
        "a trigger from the initial state that accepts an appointment.", '"invite"',
        hint="a trigger name"),
    Key("meeting_step", "name", None, "The step a case takes when it attends a meeting "
        "(`event attend`); it may accept the field meeting, which must then name a "
        "Meedoenplein that exists, and taken by hand it records the attendance too.",
        '"attend_meedoenplein"',
        hint="a trigger name"),
)

FIELD = (
    Key("type", "any", None, "What the field holds.", '"choice"', required=True,
        shown_type=f"one of {', '.join(FIELD_TYPES)}"),
    Key("label", "text", None, "Name shown to people (default: the field's name).",
        '"Partner"'),
    Key("choices", "names", (), "The values a choice or choices field takes.",
        '["wij_team", "coach_meedoen"]', noun="choice"),
    Key("keys", "names", (), "The parts of a notes field (one text per key).",
        '["daily_activities", "health"]', noun="key"),
    Key("labels", "table", {}, "Dutch words for the choices or keys, shown in letters and "
        "reports.", '{ wij_team = "WIJ-team" }', hint="of texts"),
    Key("consent", "text", None, "A consent scope the person must have given before the "
        "field is filled (rule consent).", '"record_report"',
        hint="a consent scope such as record_report"),
    Key("min", "any", None, "Smallest value of an int or number field.", "0",
        shown_type="number"),
    Key("max", "any", None, "Largest value of an int or number field.", "40",
        shown_type="number"),
    Key("description", "text", None, "What the field means (free text).", '"Uren per week"'),
)

STATE = (
    Key("label", "text", None, "Name shown to people (default: the state's name).",
        '"Uitgenodigd"'),
    Key("final", "bool", False, "A closing state: the case is closed on entering it and has "
        "no way out.", "true"),
    Key("letter", "letter", None, "Letter template sent on entering the state "
        "(NAME.typ.j2 in paths.templates).", '"uitnodiging"'),
    Key("tasks", "any", [], "Work planned on entering the state (see Tasks).",
        '[{ kind = "reminder_call", before = "1 dag", of = "appointment" }]',
        shown_type="list of tables"),
    Key("description", "text", None, "What the state means (free text).",
        '"Uitnodiging verstuurd"'),
)

TRANSITION = (
    Key("trigger", "name", None, "The step's name, as staff give it (`case advance ID "
        "TRIGGER`).", '"hold_conversation"', required=True),
    Key("source", "names", (), "The state (or list of states) the step starts from; \"*\" "
        "is every open state.", '["invited", "spoken"]', required=True, noun="state"),
    Key("dest", "text", None, "The state the step goes to.", '"spoken"', required=True),
    Key("label", "text", "", "Name shown to people.", '"Gesprek gevoerd"'),
    Key("needs", "names", (), "Fields the step must be given (declared under [fields]).",
        '["classification"]', noun="field"),
    Key("accepts", "names", (), "Fields the step may be given.", '["appointment"]',
        noun="field"),
    Key("records", "choice", None, "What the step records besides the event: an appointment, "
        "a referral (needs `partner`) or a match (needs `employer`).", '"referral"',
        choices=EFFECTS),
    Key("old_appointment", "name", "moved", "The status an earlier planned appointment gets "
        "when this step records a new one (without the key, a step named `not_home` gives "
        "`not_home`, as routes written before the key had it).", '"not_home"',
        hint="the status of the appointment it replaces"),
    Key("ends_appointment", "choice", None, "The planned appointment ends with this status.",
        '"held"', choices=APPOINTMENT_ENDINGS),
    Key("reason", "text", None, "Why the case closes when the step goes to a final state.",
        '"declined"', hint="why the case closes"),
    Key("max", "int", None, "How often the step may be taken in a row from its state.", "3",
        low=1, high=MAX_TIMES, hint="how often the step may be taken"),
    Key("then", "names", (), "The only steps left once `max` is reached.",
        '["close", "decline"]', noun="trigger"),
    Key("consent", "text", None, "Consent scope the step needs (rule consent); {field} is "
        "filled in from the step's data.", '"share:{partner}"',
        hint="a scope such as \"share:{partner}\""),
    Key("sanction", "bool", False, "The step is a sanction (refused by rule voluntary).",
        "false"),
    Key("benefit", "bool", False, "The step touches benefit data (refused by rule "
        "voluntary).", "false"),
    Key("letter", "letter", None, "Letter template sent when the step is taken.",
        '"afmelding"'),
    Key("no_letter_for", "names", (), "Values of the step's data for which no letter is "
        "sent.", '["moved", "deceased"]', noun="field value"),
    Key("internal", "bool", False, "The step records something without leaving the state; "
        "the state's planned work stays.", "true"),
    Key("description", "text", None, "What the step means (free text).",
        '"Het gesprek heeft plaatsgevonden"'),
)

TASK = (
    Key("kind", "name", None, "What the work is; staff filter on it (`task list --kind`).",
        '"follow_up_call"', required=True,
        hint="what the task is, e.g. reminder_call"),
    Key("label", "text", None, "Name shown to people (default: the kind).", '"Nabellen"'),
    Key("call", "bool", None, "The work is a phone call: finished as reached, not_reached or "
        "wrong_number (default: true for a kind ending in _call).", "true"),
    Key("after", "duration", None, "Due this long after the anchor (`of`). Give `after` or "
        "`before`.", '"3 maanden"'),
    Key("before", "duration", None, "Due this long before the anchor (`of`).", '"1 werkdag"'),
    Key("of", "choice", "entry", "The anchor: entering the state, or the planned "
        "appointment.", '"appointment"', choices=("entry", "appointment")),
    Key("calendar", "choice", None, "Count in days or in workdays (no weekends or Dutch "
        "public holidays; a week is five workdays). Default: workdays when a duration is "
        "given in werkdagen, else days.", '"workdays"', choices=("days", "workdays")),
    Key("rounds", "int", 1, "How often the work is tried when not reached.", "2", low=1,
        high=MAX_ROUNDS, hint="how often the task is tried"),
    Key("every", "duration", None, "Time between rounds (at least a day).", '"2 weken"'),
    Key("repeat", "duration", None, "Recurring work: when done, the next is planned this "
        "long after (at least a day).", '"6 weken"'),
    Key("for", "duration", None, "With `repeat`: how long the series lasts from the first.",
        '"1 jaar"'),
    Key("by", "choice", "staff", "Who does the work: staff, or the daily run (system).",
        '"system"', choices=("staff", "system")),
    Key("scope", "choice", "state", "Cancel the work when the case leaves the state (state), "
        "only when it closes (case), or not even then (person: work owed to the person, "
        "such as the conversation report, and the letters it sends; cancelled only by a "
        "closing step whose `no_letter_for` holds, e.g. they died or moved away).",
        '"case"', choices=("state", "case", "person"),
        hint="cancel the task when the case leaves the state, only when it closes, or not "
             "then either (work owed to the person)"),
    Key("role", "choice", None, "The role that does the work.", '"case_worker"',
        choices=ROLES),
    Key("escalate", "choice", None, "The role told when the work is overdue.",
        '"coordinator"', choices=ROLES),
    Key("expire", "text", None, "Trigger taken by the daily run when the last round is not "
        "reached or the work is due and undone (system work).", '"close"',
        hint="a trigger name"),
    Key("expire_data", "table", {}, "The data of the `expire` step (every field it needs).",
        '{ reason = "unreachable" }', hint="of field values"),
    Key("outcomes", "table", {}, "Results of a reached task, each a step with data: "
        "`result = { trigger = \"...\", data = { ... } }`.",
        '{ active = { trigger = "start_activity" } }',
        hint="result = { trigger = ..., data = {...} }"),
    Key("letters", "table", {}, "Letter template sent per outcome of the task.",
        '{ not_reached = "niet_bereikt" }', hint="outcome = \"template\""),
)

REPORTS = (
    Key("approached", "names", (), "Steps that approach a person (counted as benaderd).",
        '"invite"', noun="trigger"),
    Key("spoken", "names", (), "Steps that record the conversation held (gesproken; their "
        "classification and participation_potential are counted).", '"hold_conversation"',
        noun="trigger"),
    Key("declined", "names", (), "Steps by which a person declines.", '"decline"',
        noun="trigger"),
    Key("closed", "names", (), "Steps that close the case with a reason (unreachable, "
        "no_interest, ...).", '"close"', noun="trigger"),
    Key("referred", "names", (), "Steps that refer to a partner (with field partner).",
        '"refer"', noun="trigger"),
    Key("started", "names", (), "Steps by which a person starts an activity (with field "
        "activity).", '"start_activity"', noun="trigger"),
    Key("outflow", "names", (), "Steps that record outflow from benefit (fields "
        "outflow_date and fte); they also count as starting.", '"record_outflow"',
        noun="trigger"),
    Key("sustainability", "names", (), "Steps that check, later, whether the person is still "
        "off benefit (field still_off_benefit).", '"check_sustainability"', noun="trigger"),
    Key("follow_up_state", "names", (), "State of the people called after acting "
        "themselves (follow-up report).", '"follow_up"', noun="state"),
    Key("follow_up_task", "names", (), "Task kind of those calls.", '"follow_up_call"',
        noun="task kind"),
    Key("unreachable_reasons", "names", (), "Closing reasons counted as unreachable (response, "
        "referrals; no contact in the follow-up report).", '["unreachable", "not_at_home"]',
        noun="closing reason"),
    Key("no_interest_reasons", "names", (), "Closing reasons counted as no interest "
        "(referrals).", '"no_interest"', noun="closing reason"),
    Key("care_reasons", "names", (), "Closing reasons counted as referred on to care "
        "(referrals).", '"referred_elsewhere"', noun="closing reason"),
    Key("taking_steps_reasons", "names", (), "Closing reasons counted as taking steps "
        "(follow-up).", '"taking_steps"', noun="closing reason"),
    Key("not_active_reasons", "names", (), "Closing reasons counted as not active "
        "(follow-up).", '"not_active"', noun="closing reason"),
    Key("care_partners", "names", (), "Partners that count as care: referred on to care, "
        "went to the social team (with the setting reports.care_partners).", '"wij_team"',
        noun="partner"),
)

OUTCOME = (
    Key("trigger", "text", None, "The step taken for this result.", '"start_activity"',
        required=True),
    Key("data", "table", {}, "The step's data.", '{ activity = "volunteering" }'),
)

SECTIONS: tuple[tuple[str, str, tuple[Key, ...]], ...] = (
    ("[workflow]", "The route itself. Required: id, version, initial.", WORKFLOW),
    ("[fields.NAME]", "Data a step takes (`case advance ID TRIGGER --set NAME=VALUE`).", FIELD),
    ("[states.NAME]", "One section per state. At least one state is final.", STATE),
    ("[[transitions]]", "One table per step from a state to a state.", TRANSITION),
    ("tasks = [{ ... }]", "Work a state plans on entering it (a list under the state).", TASK),
    ("outcomes = { RESULT = { ... } }", "A task's results when reached.", OUTCOME),
    ("[reports]", "Which of the route's steps, states and tasks the reports count "
     "(`casework report ...`). A route without them is not counted in those figures.",
     REPORTS),
)


def route_format_doc() -> str:
    """Return docs/route-format.md: every section and key of a route file, from the tables."""
    lines = [
        "# The route file format",
        "",
        "<!-- Written by `python -m casework.route_format` from casework/route_format.py; "
        "do not edit by hand. -->",
        "",
        "A route is one TOML file in `paths.workflows` (`workflows/` by default). "
        "`casework workflow validate FILE` checks a file and names the file, the section and "
        "the key of every problem, one line each. A changed route gets a new `version`.",
        "",
        f"Durations (task timers) are ISO 8601 or Dutch: {DURATION_EXAMPLES}. A duration in "
        "werkdagen counts workdays (no weekends or Dutch public holidays); the task's "
        "calendar is then workdays.",
        "",
    ]
    from casework.rules import builtin_route_keys

    owned = tuple((f"[{name}]", f"Keys of rule {name}, read when the route names it under "
                   "[workflow] rules; every key has a default.", keys)
                  for name, keys in builtin_route_keys().items())
    for title, about, keys in SECTIONS + owned:
        lines += [f"## {title}", "", about, "",
                  "| key | type | default | meaning | example |", "|---|---|---|---|---|"]
        for key in keys:
            kind = key.shown_type or _DOC_TYPES.get(key.type, key.type)
            if key.choices:
                kind = f"one of {', '.join(key.choices)}"
            if key.type == "int":
                kind = f"whole number {key.low} to {key.high}"
            default = "required" if key.required else (
                "" if key.default in (None, (), [], {}, "") else f"`{_toml(key.default)}`")
            example = key.example.replace("|", "\\|")
            lines.append(f"| `{key.name}` | {kind} | {default} | {key.description} | "
                         f"`{example}` |")
        lines.append("")
    return "\n".join(lines)


_DOC_TYPES = {"names": "name or list of names", "bool": "true or false",
              "letter": "letter template name", "table": "table"}


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return str(value)


DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "route-format.md"


if __name__ == "__main__":  # pragma: no cover - writes the checked-in file
    DOC_PATH.write_text(route_format_doc(), encoding="utf-8")
