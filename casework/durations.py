"""ISO 8601 durations (P3M, P2W, P1D, PT2H) as used by timers in workflow files.

Written by hand: the standard library has no parser and the few lines below avoid a dependency.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PATTERN = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


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

    @property
    def total_months(self) -> int:
        return self.years * 12 + self.months

    @property
    def total_days(self) -> int:
        return self.weeks * 7 + self.days


def parse_duration(text: str) -> Duration:
    """Return the Duration for an ISO 8601 text such as 'P3M'; ValueError when malformed."""
    match = _PATTERN.match(text.strip().upper()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"{text!r} is not an ISO 8601 duration (examples: P1D, P2W, P3M, PT2H)"
        )
    return Duration(**{k: int(v) for k, v in match.groupdict().items() if v is not None})
