"""Dates for planned work: calendar durations, and workdays without weekends and Dutch holidays.

Holidays come from the ``holidays`` package (``country_holidays("NL")``, for 2000-2100 through
the table in ``casework.holidays_nl``); month arithmetic
(31 January + 1 month = 28 February) is the few lines below.
"""

from __future__ import annotations

import calendar as _calendar
from datetime import date, timedelta
from functools import lru_cache

from casework.durations import Duration


@lru_cache(maxsize=64)
def _holidays(year: int) -> frozenset[date]:
    from casework.holidays_nl import DAYS

    if year in DAYS:
        return frozenset(date(year, int(day[:2]), int(day[2:])) for day in DAYS[year].split())
    import holidays

    return frozenset(holidays.country_holidays("NL", years=year))


def is_workday(day: date) -> bool:
    """Return True for Monday to Friday that is not a Dutch public holiday."""
    return day.weekday() < 5 and day not in _holidays(day.year)


def holiday_name(day: date) -> str | None:
    """Return the name of the Dutch public holiday on day, if any."""
    import holidays

    return holidays.country_holidays("NL", years=day.year).get(day)


def next_workday(day: date) -> date:
    """Return day itself when it is a workday, else the first workday after it."""
    while not is_workday(day):
        day += timedelta(days=1)
    return day


def previous_workday(day: date) -> date:
    """Return day itself when it is a workday, else the last workday before it."""
    while not is_workday(day):
        day -= timedelta(days=1)
    return day


def add_months(day: date, months: int) -> date:
    """Return the same day-of-month months later (or earlier), clipped to the month's end."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = _calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def add_workdays(day: date, count: int) -> date:
    """Return the date count workdays after (count > 0) or before (count < 0) day."""
    step = timedelta(days=1 if count >= 0 else -1)
    remaining = abs(count)
    while remaining:
        day += step
        if is_workday(day):
            remaining -= 1
    return day


def shift(day: date, duration: Duration, forward: bool = True, workdays: bool = False) -> date:
    """Return day moved by duration; on workdays days count as workdays and the result is one.

    Months and years move on the calendar; weeks and days are counted (on workdays: a week is
    five workdays). The hours of a duration do not move a date.
    """
    sign = 1 if forward else -1
    result = add_months(day, sign * duration.total_months)
    if workdays:
        result = add_workdays(result, sign * (duration.weeks * 5 + duration.days))
        return next_workday(result) if forward else previous_workday(result)
    return result + timedelta(days=sign * duration.total_days)
