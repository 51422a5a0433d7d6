"""Durations as routes give them: ISO 8601 (P3M, P2W, P1D, PT2H) or Dutch words (3 maanden,
2 weken, 5 werkdagen, 1 dag).

Written by hand: the standard library has no parser and the few lines below avoid a dependency.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PATTERN = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$",
    re.ASCII,  # only 0-9: other scripts' digits are not a period anyone typed on purpose
)
# One number and one Dutch unit, as a functional administrator writes it: "3 maanden".
_WORDS = re.compile(r"^(?P<n>\d+)\s*(?P<unit>[a-z]+)$", re.ASCII)
_UNITS = {
    "dag": "days", "dagen": "days", "werkdag": "days", "werkdagen": "days",
    "week": "weeks", "weken": "weeks", "maand": "months", "maanden": "months",
    "jaar": "years", "jaren": "years",
}
EXAMPLES = "P1D, P2W, P3M, PT2H, 1 dag, 2 weken, 5 werkdagen, 3 maanden, 1 jaar"


# Nothing a route or a retention period plans lies further ahead than this; a longer period is a
# typo (P200Y, P99999D) and would push dates beyond what the calendar and the database hold.
MAX_YEARS = 100
_MAX_DAYS = MAX_YEARS * 365.25
_DAYS_PER = {"years": 365.25, "months": 30.4375, "weeks": 7, "days": 1, "hours": 1 / 24,
             "minutes": 1 / 1440, "seconds": 1 / 86400}


@dataclass(frozen=True)
class Duration:
    """A calendar duration: months and days are kept apart because months vary in length."""

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: int = 0
    # Given in werkdagen: counted on workdays (weekends and Dutch public holidays skipped).
    workdays: bool = False

    @property
    def total_months(self) -> int:
        return self.years * 12 + self.months

    @property
    def total_days(self) -> int:
        return self.weeks * 7 + self.days

    @property
    def moves_a_date(self) -> bool:
        """Return whether shifting a date by this duration changes it (hours do not)."""
        return bool(self.total_months or self.total_days)


def parse_duration(text: str) -> Duration:
    """Return the Duration for a text such as 'P3M' or '3 maanden'; ValueError when malformed
    or longer than MAX_YEARS (the message says what to write instead)."""
    if not isinstance(text, str):
        raise ValueError(f"the value is not a duration (examples: {EXAMPLES})")
    workdays = False
    words = _WORDS.match(text.strip().lower())
    if words is not None and words["unit"] in _UNITS:
        parts = {_UNITS[words["unit"]]: words["n"]}
        workdays = words["unit"].startswith("werkdag")
    else:
        match = _PATTERN.match(text.strip().upper())
        if match is None:
            shown = repr(text) if len(text) <= 40 else "the value"
            raise ValueError(f"{shown} is not an ISO 8601 duration or a number of dagen, "
                             f"werkdagen, weken, maanden or jaren (examples: {EXAMPLES})")
        parts = {k: v for k, v in match.groupdict().items() if v is not None}
    # Count the digits before converting: a number of thousands of digits is refused by int()
    # with a message about Python, not about the route.
    days = sum(_DAYS_PER[k] * (int(v) if len(v) <= 12 else 10**12) for k, v in parts.items())
    if days > _MAX_DAYS:
        shown = repr(text.strip()) if len(text.strip()) <= 40 else "the period"
        raise ValueError(f"{shown} is longer than {MAX_YEARS} years; give a shorter period "
                         "(examples: P6W, P3M, P2Y)")
    return Duration(**{k: int(v) for k, v in parts.items()}, workdays=workdays)
