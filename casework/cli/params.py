"""Values on the command line. Bounded click types for numbers: ids and counts fit a database
integer (SQLite and PostgreSQL store at most 2**63 - 1), so a huge number is one clear line,
never a traceback from the driver. A refused value is never repeated in the message: a
nine-digit number typed in the wrong place may be a BSN. Dates and moments: every option
reads them with the one parser of ``casework.fields`` (ISO or Dutch, a time optional)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

import click

MAX_ID = 2**63 - 1


class Bounded(click.ParamType):
    """A whole number (ASCII digits) from low to high; the message names the range only."""

    name = "integer"

    def __init__(self, low: int, high: int, what: str) -> None:
        self.low, self.high, self.what = low, high, what

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip()
            digits = text[1:] if text[:1] in "+-" else text
            if not (digits.isascii() and digits.isdigit()) or len(digits) > 25:
                self.fail(self._message(), param, ctx)
            number = int(text)
        if not self.low <= number <= self.high:
            self.fail(self._message(), param, ctx)
        return number

    def _message(self) -> str:
        def dutch(n: int) -> str:
            return f"{n:,}".replace(",", ".")

        return f"give {self.what}: a whole number from {dutch(self.low)} to {dutch(self.high)}"


ID = Bounded(1, MAX_ID, "a number such as a case, task, letter or meeting number")
"""A case, task, letter or meeting number."""

COUNT = Bounded(0, MAX_ID, "a count")
"""A count such as --limit or --offset (0 where the help says it means 'all')."""

VERSION = Bounded(1, 2**31 - 1, "a route version")
"""A route version."""


def at_option(what: str = "When it happened") -> Any:
    """The --at DATETIME option of every command that records an event (a past moment)."""
    return click.option(
        "--at", "at_text", metavar="DATETIME",
        help=f"{what}, e.g. '2026-11-20 14:00' or '20-11-2026 14:00' (default: now); not in "
             "the future, not before the case's last event.")


def parse_at(text: str | None, tz: Any, option: str = "--at") -> datetime | None:
    """Return the moment an --at value names (the one date parser, casework.fields), in the
    configured timezone; None when not given. A bad value is a usage error (exit 2)."""
    if text is None:
        return None
    from casework.fields import DATE_RANGE, MOMENT_FORMS, parse_datetime
    from casework.text import shown

    try:
        return parse_datetime(text, tz)
    except (ValueError, OverflowError):
        raise click.BadParameter(f"{shown(text)} is not a date and time {DATE_RANGE}; use "
                                 f"{MOMENT_FORMS}", param_hint=option) from None


def one_of(value: str | None, known: Iterable[str] | Callable[[], Iterable[str]],
           option: str, what: str, extra: str = "",
           known_if: Callable[[str], bool] | None = None) -> str | None:
    """Return the value when it is one of the known values (None passes). Anything else is a
    typo, not an empty answer: stop with exit 2, naming the known values, the close matches
    first. ``extra`` names a value with a meaning of its own ("'-' for unassigned"). With
    ``known_if`` (a cheap check of one value) ``known`` may be a function: the whole list is
    then read only to answer a typo."""
    if value is None:
        return None
    if known_if is not None and known_if(value):
        return value
    values = sorted(set(known() if callable(known) else known))
    if value in values:
        return value
    from difflib import get_close_matches

    from casework.cli.common import safe
    from casework.text import shown

    folded = {v.casefold(): v for v in values}
    typed = value.strip().casefold()
    # Close: the same but for case or a few letters, or the start of a known value.
    close = [folded[v] for v in get_close_matches(typed, list(folded), n=3, cutoff=0.6)]
    close += [v for v in values if typed and v.casefold().startswith(typed) and v not in close]
    ordered = close + [v for v in values if v not in close]
    listed = ", ".join(safe(v) for v in ordered[:SHOWN_KNOWN])
    if len(ordered) > SHOWN_KNOWN:
        listed += f" (and {len(ordered) - SHOWN_KNOWN} more)"
    message = f"{shown(value)} is not a known {what}"
    message += f"; did you mean {safe(close[0])}?" if close else "."
    message += f" Known: {listed or 'none yet'}" + (f"; {extra}" if extra else "") + "."
    from casework.cli.common import fail

    fail(f"{option}: {message}", 2)


SHOWN_KNOWN = 30
"""How many known values a refusal lists."""


def parse_day(value: str | None, param: str) -> date | None:
    """Return the date an option such as --due or --from names (None when not given); a bad
    value stops the command with one line naming the option (exit 2)."""
    if value is None:
        return None
    from casework.fields import DATE_FORMS, DATE_RANGE, parse_date
    from casework.text import shown

    try:
        return parse_date(value)
    except ValueError:
        raise click.BadParameter(f"{shown(value)} is not a date {DATE_RANGE}; use "
                                 f"{DATE_FORMS}", param_hint=param) from None
