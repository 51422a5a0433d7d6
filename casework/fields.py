"""Data fields a trigger can carry: declared per workflow, checked and converted on every advance.

Values arrive as text (CLI ``--set``, CSV columns) or as JSON values (JSON lines); both are
checked the same way and stored as JSON (datetimes as ISO 8601 in UTC).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from casework.text import shown, unclean

FIELD_TYPES = (
    "text", "datetime", "date", "choice", "choices", "notes", "int", "number", "bool",
)
_TRUE = {"yes", "ja", "true", "1", "y", "j"}
_FALSE = {"no", "nee", "false", "0", "n", ""}
# The one grammar of dates and moments, for options and file fields alike: a date as ISO
# (2026-12-07) or Dutch (07-12-2026, 7-12-2026, also with / or .), then optionally a time
# (9:00, 09:00, 09:00:30, 9.00) after a space or a 'T', then optionally an offset (Z, +01:00).
_MOMENT = re.compile(
    r"^\s*(?:(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"
    r"|(?P<nl_day>\d{1,2})(?P<sep>[-/.])(?P<nl_month>\d{1,2})(?P=sep)(?P<nl_year>\d{4}))"
    r"(?:(?:\s+|[Tt])(?P<hour>\d{1,2})[:.](?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?"
    r"\s*(?P<offset>[Zz]|[+-]\d{2}(?::?\d{2})?)?)?\s*$",
    re.ASCII,
)
DATE_FORMS = "2026-12-07 or 07-12-2026"
MOMENT_FORMS = "'2026-12-07 09:00', '2026-12-07T09:00' or '07-12-2026 9:00'"
# Dates people give (appointments, --as-of, --date, birth dates) lie in these years; outside
# them a date is a typing error, and years near 1 or 9999 overflow date arithmetic.
FIRST_YEAR, LAST_YEAR = 1900, 2100
DATE_RANGE = f"from {FIRST_YEAR} to {LAST_YEAR}"
# Numbers without their own min/max in the route: a whole number fits a database integer; a
# number (hours, fte, euro) stays below a million, so no overflow or Infinity reaches JSON.
INT_LIMIT = 2**63 - 1
NUMBER_LIMIT = 999_999.99


class FieldValueError(ValueError):
    """A value that does not fit its field; the message says what is allowed (``says``: the
    same in Dutch, for the web front's forms)."""

    def __init__(self, message: str, says: str | None = None) -> None:
        super().__init__(message)
        self.says = says


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    label: str = ""
    choices: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    consent: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    def bounds(self) -> tuple[float, float]:
        """Return the smallest and largest value an int or number field takes."""
        if self.type == "int":
            low = -INT_LIMIT if self.minimum is None else self.minimum
            return low, INT_LIMIT if self.maximum is None else self.maximum
        low = 0.0 if self.minimum is None else self.minimum
        return low, NUMBER_LIMIT if self.maximum is None else self.maximum

    def label_of(self, value: str) -> str:
        """Return the text people read for a choice or theme key (the key itself if none)."""
        return dict(self.labels).get(value, value)

    def describe(self) -> str:
        """Return a short text of what the field takes, for help and messages."""
        if self.type == "choice":
            return "one of " + ", ".join(self.choices)
        if self.type == "choices":
            return "a comma-separated list of " + ", ".join(self.choices)
        if self.type == "notes":
            return f"notes per theme ({', '.join(self.keys)}), e.g. {self.name}.{self.keys[0]}=..."
        if self.type == "number" and (self.minimum is not None or self.maximum is not None):
            low, high = self.bounds()
            return f"a number from {_num(low)} to {_num(high)} (a decimal point or comma)"
        if self.type == "int" and (self.minimum is not None or self.maximum is not None):
            low, high = self.bounds()
            return f"a whole number from {_num(low)} to {_num(high)}"
        return {
            "datetime": f"a date and time {DATE_RANGE}, e.g. {MOMENT_FORMS}",
            "date": f"a date {DATE_RANGE}, e.g. {DATE_FORMS}",
            "int": "a whole number",
            "number": "a number of at least 0 and below a million, e.g. 0.5 (a decimal point "
                      "or comma)",
            "bool": "yes or no",
            "text": "text",
        }[self.type]

    def describe_nl(self) -> str:
        """Return in Dutch what the field takes, for the web front's messages."""
        if self.type in ("choice", "choices"):
            words = ", ".join(f"'{self.label_of(c)}'" for c in self.choices)
            return ("één van " if self.type == "choice" else "een of meer van ") + words
        if self.type in ("int", "number") and (self.minimum is not None
                                                 or self.maximum is not None):
            low, high = self.bounds()
            whole = "een heel getal" if self.type == "int" else "een getal"
            return f"{whole} van {_num_nl(low)} tot en met {_num_nl(high)}"
        return {
            "datetime": f"een datum met tijd van {FIRST_YEAR} tot en met {LAST_YEAR}",
            "date": f"een datum van {FIRST_YEAR} tot en met {LAST_YEAR}",
            "int": "een heel getal",
            "number": "een getal van 0 tot een miljoen, zoals 0,5",
            "bool": "ja of nee",
            "notes": "tekst per thema",
            "text": "tekst",
        }[self.type]

    def shown_label(self) -> str:
        """Return the field's name as people read it (its label, else its name)."""
        return self.label or self.name

    def coerce(self, value: Any, tz: ZoneInfo) -> Any:
        """Return the value converted for storage; FieldValueError when it does not fit."""
        try:
            return _COERCE[self.type](self, value, tz)
        except FieldValueError:
            raise
        except (ValueError, TypeError, OverflowError):
            raise FieldValueError(
                f"field '{self.name}' must be {self.describe()}, got {shown(value)}",
                f"'{self.shown_label()}' moet {self.describe_nl()} zijn; {shown(value)} "
                "past daar niet in."
            ) from None


def _num_nl(value: float) -> str:
    from casework.display import number

    return number(value)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def parse_datetime(value: str, tz: ZoneInfo) -> datetime:
    """Return the aware moment a date and time as people write it names: '2026-12-07 09:00',
    '2026-12-07T09:00', '07-12-2026 9:00' (or a date alone: its midnight). Without an offset
    the time is in ``tz``. ValueError when it is none of these or lies outside the years
    FIRST_YEAR to LAST_YEAR. The one parser for every option and file field with a moment."""
    day, clock, offset = _parse(value)
    moment = datetime.combine(day, clock or time(0))
    return moment.replace(tzinfo=offset or tz)


def parse_date(value: str) -> date:
    """Return the date for '2026-12-07' or the Dutch '07-12-2026' (a time after it, as a
    spreadsheet may write '7-12-2026 0:00', is allowed and left out). ValueError when it is
    not a date or lies outside the years FIRST_YEAR to LAST_YEAR. The one parser for every
    option and file field with a date."""
    return _parse(value)[0]


def _parse(value: str) -> tuple[date, time | None, tzinfo | None]:
    """Return the date, time (if written) and offset (if written) of a date or moment in the
    one grammar: a date (ISO or Dutch), then optionally a time after a space or 'T'."""
    if not isinstance(value, str):
        raise ValueError("not text")
    match = _MOMENT.match(value)
    if match is None:
        raise ValueError(f"not a date or moment: use {DATE_FORMS}")
    parts = match.groupdict()
    if parts["year"] is not None:
        year, month, day = parts["year"], parts["month"], parts["day"]
    else:
        year, month, day = parts["nl_year"], parts["nl_month"], parts["nl_day"]
    _check_year(int(year))
    day_value = date(int(year), int(month), int(day))
    if parts["hour"] is None:
        return day_value, None, None
    fraction = (parts["fraction"] or "")[:6].ljust(6, "0")
    clock = time(int(parts["hour"]), int(parts["minute"]), int(parts["second"] or 0),
                 int(fraction))
    return day_value, clock, _offset(parts["offset"])


def _offset(text: str | None) -> tzinfo | None:
    if not text:
        return None
    if text in ("Z", "z"):
        return UTC
    digits = text[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:] or 0)
    if minutes >= 24 * 60:
        raise ValueError("offset out of range")
    return timezone(timedelta(minutes=-minutes if text[0] == "-" else minutes))


def _check_year(year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"year {year} is not {DATE_RANGE}")


def _text(field: Field, value: Any, tz: ZoneInfo, multiline: bool = False) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError
    text = str(value).strip()
    if not text:
        raise FieldValueError(f"field '{field.name}' is empty",
                              f"'{field.shown_label()}' is leeg.")
    problem = unclean(text, multiline)
    if problem:
        raise FieldValueError(f"field '{field.name}' contains {problem}; remove it",
                              f"'{field.shown_label()}' bevat een teken dat niet in tekst "
                              "hoort (een stuurteken); haal het weg.")
    return text


def _datetime(field: Field, value: Any, tz: ZoneInfo) -> str:
    if not isinstance(value, str):
        raise ValueError
    return parse_datetime(value, tz).astimezone(UTC).isoformat()


def _date(field: Field, value: Any, tz: ZoneInfo) -> str:
    if not isinstance(value, str):
        raise ValueError
    return parse_date(value).isoformat()


def _choice(field: Field, value: Any, tz: ZoneInfo) -> str:
    if not isinstance(value, str) or value.strip() not in field.choices:
        raise ValueError
    return value.strip()


def _choices(field: Field, value: Any, tz: ZoneInfo) -> list[str]:
    if isinstance(value, str):
        items = [item.strip() for item in re.split(r"[,|]", value) if item.strip()]
    elif isinstance(value, list):
        items = value
    else:
        raise ValueError
    bad = [item for item in items if not isinstance(item, str) or item not in field.choices]
    if bad:
        raise FieldValueError(
            f"field '{field.name}': {shown(bad[0])} is not allowed; use {field.describe()}",
            f"'{field.shown_label()}' moet {field.describe_nl()} zijn; {shown(bad[0])} past "
            "daar niet in."
        )
    return list(dict.fromkeys(items))


def _notes(field: Field, value: Any, tz: ZoneInfo) -> dict[str, str]:
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, dict):
        raise ValueError
    unknown = [key for key in value if key not in field.keys]
    if unknown:
        raise FieldValueError(
            f"field '{field.name}' has no theme {shown(unknown[0])}; themes: "
            f"{', '.join(field.keys)}",
            f"'{field.shown_label()}' heeft geen thema {shown(unknown[0])}."
        )
    return {key: _text(field, text, tz, multiline=True) for key, text in value.items()}


def _int(field: Field, value: Any, tz: ZoneInfo) -> int:
    if isinstance(value, bool | float):
        raise ValueError
    if isinstance(value, str):
        value = value.strip()
        if not value.isascii() or len(value) > 20:  # no '٣', no 10**4000 to convert
            raise ValueError
    number = int(value)
    low, high = field.bounds()
    if not low <= number <= high:
        raise ValueError
    return number


def _number(field: Field, value: Any, tz: ZoneInfo) -> float:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, str):
        value = value.strip().replace(",", ".")
        if not value.isascii():
            raise ValueError
    number = float(value)
    low, high = field.bounds()
    if not math.isfinite(number) or not low <= number <= high:
        raise ValueError
    return number


def _bool(field: Field, value: Any, tz: ZoneInfo) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError


_COERCE = {
    "text": _text,
    "datetime": _datetime,
    "date": _date,
    "choice": _choice,
    "choices": _choices,
    "notes": _notes,
    "int": _int,
    "number": _number,
    "bool": _bool,
}
