"""Training databases: a database marked at 'casework init --training', where the clock of a
command may be set (--clock, $CASEWORK_CLOCK) to rehearse a season without faking the system
clock. Any other database refuses a set clock, so a production database is never back-dated.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine as SAEngine
from sqlalchemy import insert, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from casework.config import Settings
from casework.db import unit_of_work
from casework.errors import CaseworkError
from casework.models import DatabaseMark

TRAINING = "training"
REFUSED = ("--clock only works on a training database (casework init --training); "
           "this database is not one")


class TrainingRefused(CaseworkError):
    """--clock or $CASEWORK_CLOCK on a database that is not a training database, or
    --training on a database that exists already."""

    exit_code = 2


def is_training(db: SAEngine) -> bool:
    """Return whether the database was made with 'casework init --training' (False for a
    database not yet at the schema that knows the mark)."""
    try:
        with db.connect() as conn:
            value = conn.execute(select(DatabaseMark.value)
                                 .where(DatabaseMark.name == TRAINING)).scalar_one_or_none()
    except (OperationalError, ProgrammingError) as exc:
        if "database_marks" not in str(exc.orig):
            raise  # a locked or unreachable database is reported as such
        return False
    return value == "true"


def mark_training(db: SAEngine) -> None:
    """Mark a newly made database as a training database (once; kept for good)."""
    with unit_of_work(db) as conn:
        if conn.execute(select(DatabaseMark.value)
                        .where(DatabaseMark.name == TRAINING)).scalar_one_or_none() is None:
            conn.execute(insert(DatabaseMark).values(name=TRAINING, value="true"))


def parse_clock(text: str, settings: Settings) -> datetime:
    """Return the moment a --clock value names, in the configured timezone."""
    from casework.fields import DATE_RANGE, MOMENT_FORMS, parse_datetime

    try:
        return parse_datetime(text, settings.tz)
    except ValueError:
        raise TrainingRefused(f"--clock: not a date and time {DATE_RANGE}; use "
                              f"{MOMENT_FORMS}") from None


def training_clock(start: datetime) -> Callable[[], datetime]:
    """Return a clock that reads `start` now and runs on with the real time from here, so
    what one command records stays in order."""
    began = datetime.now(UTC)
    return lambda: start + (datetime.now(UTC) - began)


def header(settings: Settings, moment: datetime | None) -> str:
    """Return the line every command on a training database starts with (on stderr)."""
    line = "OEFENDATABASE (training)"
    if moment is not None:
        from casework.display import moment as shown_moment

        line += " — klok: " + shown_moment(moment, settings.tz)
    return line
