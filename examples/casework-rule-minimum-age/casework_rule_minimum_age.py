"""minimum_age: people younger than a minimum age are not approached.

A casework rule from a package of its own, found through the entry-point group
``casework.rules``. A route uses it by naming it: ``rules = [..., "minimum_age"]``.

- at import and when a wave is planned, a person whose birth date lies less than the
  minimum age before today is excluded (reason ``under_18``, or ``under_<age>`` for another
  age);
- ``invite`` is blocked for such a person (``casework case triggers`` shows why).

The age is 18 unless config.toml says otherwise::

    [rules.minimum_age]
    age = 16

People without a known birth date are left alone: the rule only acts on what it knows.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import pluggy
from sqlalchemy import select

from casework.models import Participant
from casework.rules import Block

NAME = "minimum_age"
DEFAULT_AGE = 18
SETTING = "rules.minimum_age.age"
BLOCKED_TRIGGERS = ("invite",)

hookimpl = pluggy.HookimplMarker("casework")


def minimum_age(settings: Any) -> int:
    """Return the configured minimum age (``rules.minimum_age.age``, default 18)."""
    values = getattr(settings, "values", None) or {}
    age = values.get(SETTING, DEFAULT_AGE)
    if not isinstance(age, int) or isinstance(age, bool) or age < 0:
        raise ValueError(f"setting '{SETTING}' must be a whole number >= 0, got {age!r}")
    return age


def birthday(birth_date: date, years_later: int) -> date:
    """Return the day someone born on birth_date turns years_later (29 Feb: 1 March)."""
    year = birth_date.year + years_later
    try:
        return birth_date.replace(year=year)
    except ValueError:  # born on 29 February, no such day that year
        return date(year, 3, 1)


def is_under_age(birth_date: date | None, today: date, age: int) -> bool:
    """Return whether someone born on birth_date is younger than age on today."""
    return birth_date is not None and today < birthday(birth_date, age)


def reason(age: int) -> str:
    return f"under_{age}"


@hookimpl
def exclude_participant(participant: Mapping[str, Any], today: date,
                        settings: Any) -> str | None:
    age = minimum_age(settings)
    if is_under_age(participant.get("birth_date"), today, age):
        return reason(age)
    return None


@hookimpl
def check_transition(ctx: Any, case: Any, transition: Any,
                     at: datetime | None) -> list[Block]:
    if transition.trigger not in BLOCKED_TRIGGERS:
        return []
    born = ctx.conn.execute(
        select(Participant.birth_date).where(Participant.id == case.participant_id)
    ).scalar_one_or_none()
    engine = ctx.engine
    age = minimum_age(engine.settings)
    moment = at or engine.now()
    today = moment.astimezone(engine.tz).date()
    if not is_under_age(born, today, age):
        return []
    return [Block(NAME, f"the person is younger than {age} and may not be approached; "
                        f"they can be invited from {birthday(born, age):%Y-%m-%d}")]
