"""How values are shown to people: moments in local time without an offset, Dutch numbers,
amounts and month names.

Every human output (the terminal, the council page, charts, files people read) formats a
moment, number or amount through these functions, so one case never shows UTC in one place
and local time in another. JSON keeps ISO 8601 with an offset and plain numbers.
"""

from __future__ import annotations

import re
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any

MOMENT = "%Y-%m-%d %H:%M"
"""A moment for people: local time, no offset, no seconds (2026-11-30 14:05)."""
DAY = "%Y-%m-%d"
DUTCH_DAY = "%d-%m-%Y"
"""A day as Dutch people write it (30-11-2026), where a list shows days only."""

LOCALE = "nl_NL"
MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
          "september", "oktober", "november", "december")
MONTH_ABBREVIATIONS = ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt",
                       "nov", "dec")

# An ISO 8601 moment with an offset, as stored data and JSON hold them.
_ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?"
                         r"(Z|[+-]\d{2}:?\d{2})")


def moment(value: datetime | str | None, tz: tzinfo, fmt: str = MOMENT) -> str:
    """Return a moment (aware datetime or ISO text) as local time for people, '' for none.
    A moment without an offset is taken to be local already."""
    if value is None or value == "":
        return ""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is not None:
        when = when.astimezone(tz)
    return when.strftime(fmt)


def is_moment(text: str) -> bool:
    """Return True when the text is an ISO 8601 moment with an offset (stored data)."""
    return bool(_ISO_MOMENT.fullmatch(text.strip()))


def number(value: float | int | Decimal | None, decimals: int | None = None,
           grouping: bool = True) -> str:
    """Return a number the Dutch way: 1.427, 20,0 (``decimals`` fixed), 2,5 (up to two
    decimals when not given); '' for none."""
    if value is None:
        return ""
    from babel.numbers import format_decimal

    group = "#,##0" if grouping else "0"
    if decimals is not None:
        pattern = group + ("." + "0" * decimals if decimals else "")
    elif isinstance(value, int):
        pattern = group
    else:
        pattern = group + ".0#"
    return str(format_decimal(value, format=pattern, locale=LOCALE))


def percent(value: float | None) -> str:
    """Return a percentage with one decimal, the Dutch way: 66,7 ('–' for none)."""
    return "\u2013" if value is None else number(value, 1)


def euro(amount: float | int | Decimal, cents: bool = True) -> str:
    """Return an amount in euro: '€ 12.810,96' (or '€ 12.811' without ``cents``)."""
    from babel.numbers import format_currency

    text = format_currency(amount, "EUR", locale=LOCALE,
                           format=None if cents else "\u00a4\u00a0#,##0",
                           currency_digits=cents)
    return str(text).replace("\xa0", " ")


def dutch_date(day: date | str) -> str:
    """Return a date as '24 november 2026'."""
    value = date.fromisoformat(day[:10]) if isinstance(day, str) else day
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def month_label(month: str) -> str:
    """Return '2030-06' as 'juni 2030'."""
    year, number_text = month.split("-")
    return f"{MONTHS[int(number_text) - 1]} {year}"


def month_abbreviation(month: str | int) -> str:
    """Return a month ('2030-03' or 3) as the Dutch abbreviation: 'mrt'."""
    index = int(month[5:7]) if isinstance(month, str) else month
    return MONTH_ABBREVIATIONS[index - 1]


def value(item: Any, tz: tzinfo) -> str:
    """Return a stored value for people: a moment in local time, numbers the Dutch way,
    yes/no, a list as 'a, b', a mapping as 'key value, ...' (never a Python repr)."""
    if item is None:
        return ""
    if isinstance(item, bool):
        return "yes" if item else "no"
    if isinstance(item, datetime):
        return moment(item, tz)
    if isinstance(item, date):
        return item.isoformat()
    if isinstance(item, int):
        return str(item)
    if isinstance(item, float | Decimal):
        return number(item, grouping=False)
    if isinstance(item, str):
        return moment(item, tz) if is_moment(item) else item
    if isinstance(item, dict):
        return ", ".join(f"{key} {value(sub, tz)}" for key, sub in item.items())
    if isinstance(item, list | tuple | set | frozenset):
        return ", ".join(value(sub, tz) for sub in item)
    return str(item)
