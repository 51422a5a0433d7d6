"""The actions a case allows now, as forms built from the route's field specs.

Each form posts the values as text, as ``casework case advance --set`` does; the core
checks and converts them with the same field parser (casework.fields), so the web has no
rules of its own. The case's version travels in the form: a case someone else changed in
the meantime is a conflict, never overwritten."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict

from casework.fields import Field

# The HTML input for each field type people type into (choices and notes are built apart).
INPUT_TYPES = {"date": "date", "datetime": "datetime-local", "int": "number",
               "number": "text", "text": "text"}


@dataclass(frozen=True)
class Control:
    """One input of an action's form."""

    name: str  # the form's field name (prefixed with the trigger)
    label: str
    kind: str  # input, select, multiple, textarea
    required: bool = False
    input_type: str = "text"
    options: tuple[tuple[str, str], ...] = ()
    value: Any = ""


@dataclass(frozen=True)
class Action:
    """A trigger of the route from the case's state: its form, or why it cannot happen."""

    trigger: str
    label: str
    possible: bool
    reason: str | None
    controls: tuple[Control, ...] = ()


def actions(route: Any, triggers: dict[str, Any], form: MultiDict[str, str] | None = None,
            failed: str | None = None) -> list[Action]:
    """Return the actions from the case's state (what ``case triggers`` says): a form per
    possible one, the rule's reason for each blocked one. Triggers of other states are
    left out; ``form`` refills the one that ``failed``."""
    found = []
    for entry in triggers["triggers"]:
        transition = route.transition(entry["trigger"], triggers["state"])
        if transition is None:
            continue
        values = form if form is not None and entry["trigger"] == failed else None
        controls = tuple(control for name in transition.fields
                         for control in _controls(entry["trigger"], route.fields[name],
                                                  name in transition.needs, values))
        note = Control(f"{entry['trigger']}-note", "Toelichting voor de tijdlijn", "textarea",
                       value=values.get(f"{entry['trigger']}-note", "") if values else "")
        found.append(Action(entry["trigger"], transition.label or entry["trigger"],
                            entry["possible"], entry.get("reason_nl") or entry["reason"],
                            (*controls, note)))
    return found


def _controls(trigger: str, field: Field, required: bool,
              values: MultiDict[str, str] | None) -> list[Control]:
    name = f"{trigger}-{field.name}"
    label = field.label or field.name

    def value(key: str = name) -> str:
        return values.get(key, "") if values else ""

    if field.type == "notes":
        return [Control(f"{name}.{key}", f"{label}: {field.label_of(key)}", "textarea",
                        value=value(f"{name}.{key}")) for key in field.keys]
    if field.type in ("choice", "bool"):
        options = ((("ja", "ja"), ("nee", "nee")) if field.type == "bool"
                   else tuple((c, field.label_of(c)) for c in field.choices))
        return [Control(name, label, "select", required, options=(("", "Kies"), *options),
                        value=value())]
    if field.type == "choices":
        chosen = values.getlist(name) if values else []
        return [Control(name, label, "multiple", required,
                        options=tuple((c, field.label_of(c)) for c in field.choices),
                        value=chosen)]
    return [Control(name, label, "input", required, INPUT_TYPES.get(field.type, "text"),
                    value=value())]


def submitted(route: Any, case_state: str, trigger: str,
              form: MultiDict[str, str]) -> tuple[dict[str, Any], str | None]:
    """Return the data and note a form posted for a trigger, as text for the core's field
    parser (empty fields left out: the core says which are missing)."""
    transition = route.transition(trigger, case_state)
    data: dict[str, Any] = {}
    for name in transition.fields if transition else ():
        field = route.fields[name]
        key = f"{trigger}-{name}"
        if field.type == "notes":
            notes = {theme: form.get(f"{key}.{theme}", "").strip() for theme in field.keys}
            notes = {theme: text for theme, text in notes.items() if text}
            if notes:
                data[name] = notes
        elif field.type == "choices":
            chosen = [item for item in form.getlist(key) if item]
            if chosen:
                data[name] = chosen
        elif form.get(key, "").strip():
            data[name] = form.get(key, "").strip()
    note = form.get(f"{trigger}-note", "").strip() or None
    return data, note
