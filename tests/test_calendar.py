"""The workday calendar timers use: weekends and Dutch public holidays are no workdays, durations
move dates on the calendar (months clip to the month's end) or count workdays."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from casework.calendar import (
    add_months,
    add_workdays,
    holiday_name,
    is_workday,
    next_workday,
    previous_workday,
    shift,
)
from casework.durations import parse_duration

# Christmas (twice), New Year's Day, Easter Monday, King's Day
HOLIDAYS = [date(2026, 12, 25), date(2026, 12, 26), date(2027, 1, 1), date(2027, 3, 29),
            date(2027, 4, 27)]


def before(day: date, text: str, workdays: bool = True) -> date:
    return shift(day, parse_duration(text), forward=False, workdays=workdays)


def after(day: date, text: str, workdays: bool = True) -> date:
    return shift(day, parse_duration(text), forward=True, workdays=workdays)


# --- workdays ---------------------------------------------------------------------------------


@pytest.mark.parametrize("day", HOLIDAYS)
def test_dutch_public_holidays_are_not_workdays(day: date) -> None:
    assert not is_workday(day)
    assert holiday_name(day) is not None


@pytest.mark.parametrize("day", [date(2026, 11, 21), date(2026, 11, 22), date(2027, 2, 27)])
def test_saturdays_and_sundays_are_not_workdays(day: date) -> None:
    assert day.weekday() >= 5
    assert not is_workday(day)
    assert holiday_name(day) is None


@pytest.mark.parametrize("day", [date(2026, 11, 20), date(2026, 11, 23), date(2026, 12, 24),
                                 date(2026, 12, 28), date(2027, 3, 30), date(2027, 4, 28)])
def test_ordinary_weekdays_are_workdays(day: date) -> None:
    assert is_workday(day)
    assert holiday_name(day) is None


def test_a_fortnight_around_christmas_has_exactly_the_expected_workdays() -> None:
    days = [date(2026, 12, 19) + timedelta(days=n) for n in range(14)]
    assert [d.day for d in days if is_workday(d)] == [21, 22, 23, 24, 28, 29, 30, 31]


def test_next_and_previous_workday_step_over_weekends_and_holidays() -> None:
    assert next_workday(date(2026, 12, 25)) == date(2026, 12, 28)
    assert previous_workday(date(2026, 12, 27)) == date(2026, 12, 24)
    assert next_workday(date(2027, 3, 27)) == date(2027, 3, 30)  # Sat, Sun, Easter Monday
    assert next_workday(date(2026, 11, 20)) == previous_workday(date(2026, 11, 20))


# --- durations before an anchor (the reminder call) --------------------------------------------


def test_the_workday_before_a_monday_is_the_friday() -> None:
    assert before(date(2026, 11, 30), "P1D") == date(2026, 11, 27)


def test_the_workday_before_the_monday_after_christmas_is_christmas_eve() -> None:
    assert before(date(2026, 12, 28), "P1D") == date(2026, 12, 24)


def test_the_workday_before_the_day_after_easter_monday_skips_the_easter_weekend() -> None:
    # Easter Monday and Good Friday (a holiday in the holidays package) are both skipped
    assert before(date(2027, 3, 30), "P1D") == date(2027, 3, 25)


def test_the_workday_before_a_weekday_is_the_day_before() -> None:
    assert before(date(2026, 12, 3), "P1D") == date(2026, 12, 2)


def test_one_calendar_day_before_a_monday_is_the_sunday() -> None:
    assert before(date(2026, 11, 30), "P1D", workdays=False) == date(2026, 11, 29)


# --- durations after an anchor ----------------------------------------------------------------


def test_five_workdays_after_skips_the_weekend() -> None:
    assert after(date(2026, 11, 20), "P5D") == date(2026, 11, 27)
    assert after(date(2026, 11, 25), "P5D") == date(2026, 12, 2)


def test_five_workdays_after_skips_christmas_and_new_year() -> None:
    assert after(date(2026, 12, 21), "P5D") == date(2026, 12, 29)
    assert after(date(2026, 12, 28), "P5D") == date(2027, 1, 5)


def test_five_workdays_after_kings_day_week_skips_kings_day() -> None:
    assert after(date(2027, 4, 23), "P5D") == date(2027, 5, 3)


def test_five_calendar_days_after_may_end_on_a_weekend() -> None:
    assert after(date(2026, 11, 20), "P5D", workdays=False) == date(2026, 11, 25)
    assert after(date(2026, 12, 21), "P5D", workdays=False) == date(2026, 12, 26)


def test_two_weeks_on_workdays_are_ten_workdays() -> None:
    start = date(2026, 12, 14)
    assert after(start, "P2W") == add_workdays(start, 10) == date(2026, 12, 29)
    assert after(date(2026, 11, 2), "P2W") == date(2026, 11, 16)


def test_two_calendar_weeks_are_fourteen_days() -> None:
    assert after(date(2026, 12, 14), "P2W", workdays=False) == date(2026, 12, 28)
    assert after(date(2026, 11, 27), "P4W", workdays=False) == date(2026, 12, 25)


# --- months -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("day", "months", "expected"), [
    (date(2027, 1, 31), 1, date(2027, 2, 28)),
    (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
    (date(2026, 11, 30), 3, date(2027, 2, 28)),
    (date(2026, 8, 31), 3, date(2026, 11, 30)),
    (date(2026, 11, 15), 3, date(2027, 2, 15)),
    (date(2026, 10, 31), 14, date(2027, 12, 31)),
    (date(2027, 3, 31), -1, date(2027, 2, 28)),
    (date(2027, 1, 15), -2, date(2026, 11, 15)),
])
def test_month_arithmetic_keeps_the_day_of_month_clipped_to_the_months_end(
    day: date, months: int, expected: date,
) -> None:
    assert add_months(day, months) == expected


def test_a_month_after_the_31st_of_january_is_the_28th_of_february() -> None:
    assert after(date(2027, 1, 31), "P1M", workdays=False) == date(2027, 2, 28)


def test_three_months_on_the_calendar_may_end_on_a_sunday() -> None:
    assert after(date(2026, 11, 30), "P3M", workdays=False) == date(2027, 2, 28)


def test_three_months_on_workdays_roll_forward_to_a_workday() -> None:
    assert after(date(2026, 11, 30), "P3M") == date(2027, 3, 1)  # 28 Feb 2027 is a Sunday
    assert after(date(2026, 11, 20), "P3M") == date(2027, 2, 22)  # 20 Feb 2027 is a Saturday
    assert after(date(2026, 12, 29), "P3M") == date(2027, 3, 30)  # Easter Monday 29 Mar
    assert after(date(2027, 1, 27), "P3M") == date(2027, 4, 28)  # King's Day 27 Apr


def test_three_months_on_workdays_that_end_on_a_workday_stay_there() -> None:
    assert after(date(2026, 11, 25), "P3M") == date(2027, 2, 25)


def test_hours_do_not_move_a_date() -> None:
    assert after(date(2026, 11, 20), "PT2H", workdays=False) == date(2026, 11, 20)


@pytest.mark.parametrize("start", [date(2026, 12, 18) + timedelta(days=n) for n in range(20)])
def test_workday_results_are_always_workdays(start: date) -> None:
    for text in ("P1D", "P5D", "P2W", "P3M"):
        assert is_workday(after(start, text)), (start, text)
        assert is_workday(before(start, text)), (start, text)
        assert after(start, text) > start
        assert before(start, text) < start


# --- counting workdays ------------------------------------------------------------------------


def test_counting_workdays_backwards_mirrors_counting_forwards() -> None:
    assert add_workdays(date(2026, 12, 29), -5) == date(2026, 12, 21)
    assert add_workdays(date(2026, 12, 29), 0) == date(2026, 12, 29)
    for start in (date(2026, 12, 21), date(2027, 3, 22), date(2027, 4, 22)):
        for count in range(1, 12):
            assert add_workdays(add_workdays(start, count), -count) == start


# --- durations --------------------------------------------------------------------------------


def test_durations_keep_months_and_days_apart() -> None:
    duration = parse_duration("P1Y2M3W4DT5H")
    assert (duration.total_months, duration.total_days, duration.hours) == (14, 25, 5)
    assert parse_duration("p2w") == parse_duration("P2W")


@pytest.mark.parametrize("text", ["", "P", "3M", "P1.5D", "PT", "P1H", "soon"])
def test_malformed_durations_are_refused_with_examples(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601 duration"):
        parse_duration(text)


def test_the_holiday_table_is_what_the_holidays_package_says() -> None:
    from casework.holidays_nl import DAYS, table

    assert table() == DAYS, "run 'python -m casework.holidays_nl' and paste its rows into DAYS"
