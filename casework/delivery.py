"""When a letter can arrive: the post takes ``letters.delivery_workdays`` workdays (weekends and
Dutch public holidays do not count) from the day a letter is made. A letter that proposes or
reminds of an appointment goes out only when it arrives before the day of that appointment.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from casework.calendar import add_workdays, next_workday
from casework.config import Settings


def arrival_day(settings: Settings, made: date) -> date:
    """Return the day a letter made on ``made`` can be on the mat."""
    return add_workdays(made, settings["letters.delivery_workdays"])


def first_appointment_day(settings: Settings, made: date) -> date:
    """Return the first day an appointment may be proposed in a letter made on ``made``."""
    return next_workday(arrival_day(settings, made) + timedelta(days=1))


def too_late(settings: Settings, made: date, appointment: datetime) -> str | None:
    """Return why a letter made on ``made`` cannot arrive before the appointment (None when it
    can): the post comes during the day, so arriving on the day itself is too late."""
    day = appointment.astimezone(settings.tz).date()
    arrives = arrival_day(settings, made)
    if arrives < day:
        return None
    from casework.display import DUTCH_DAY, moment

    workdays = settings["letters.delivery_workdays"]
    return (f"it cannot arrive before the appointment of {moment(appointment, settings.tz)}: "
            f"made {made.strftime(DUTCH_DAY)}, the post takes {workdays} workday(s) "
            "(letters.delivery_workdays)")
