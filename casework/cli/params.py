"""Bounded click types for numbers on the command line: ids and counts fit a database integer
(SQLite and PostgreSQL store at most 2**63 - 1), so a huge number is one clear line, never a
traceback from the driver. A refused value is never repeated in the message: a nine-digit
number typed in the wrong place may be a BSN."""

from __future__ import annotations

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
