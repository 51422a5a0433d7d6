"""One date grammar: every option and file field that takes a date or a moment reads the same
forms (ISO 2099-12-07, 2099-12-07 09:00, 2099-12-07T09:00 and Dutch 07-12-2099, 7-12-2099
9:00), through the one parser in casework/fields.py. A date field takes the day of a form
with a time (a spreadsheet writes '7-12-2099 0:00'); a moment without a time is midnight.

The tests run on a copy of the cohort marked as a training database, so a --clock sets "now"
and every date lies at a fixed place in the week (Monday 7 December 2099).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import Env, tamper
from helpers import query
from sqlalchemy import insert, select

from casework.fields import parse_date, parse_datetime
from casework.models import DatabaseMark, Participant, Spending
from casework.training import TRAINING

DAY = date(2099, 12, 7)  # a Monday
FORMS = ["2099-12-07", "2099-12-07 09:00", "2099-12-07T09:00", "07-12-2099", "7-12-2099 9:00"]
TZ = ZoneInfo("Europe/Amsterdam")
LATER = ("--clock", "2099-12-08 12:00")  # the day after: DAY lies in the past
EARLIER = ("--clock", "2099-12-01 10:00")  # the week before: DAY lies ahead
NEW_BSN = "111222333"  # passes the elfproef, not in the sample cohort


def moment_of(form: str) -> datetime:
    """The moment a form names: 09:00 when it has a time, else midnight (local time)."""
    return datetime(2099, 12, 7, 9 if ":" in form else 0, tzinfo=TZ)


@pytest.fixture
def trainee(cohort: Env) -> Env:
    """The sample cohort on a database marked for training, so --clock works."""
    tamper(cohort, insert(DatabaseMark).values(name=TRAINING, value="true"))
    return cohort


def invite(env: Env, appointment: str, *extra: str) -> None:
    env.ok(*EARLIER, "case", "advance", "1", "invite", "--set", f"appointment={appointment}",
           *extra)


# --- each option or field: use the form, return what was understood ---------------------------

def task_list_due(env: Env, form: str) -> Any:
    invite(env, "2099-12-08 10:00")  # the reminder call is due the workday before: DAY
    tasks = env.json(*LATER, "task", "list", "--due", form)["tasks"]
    return [t["due"] for t in tasks] == [DAY.isoformat()]


def report_as_of(env: Env, form: str) -> Any:
    import json

    result = env.ok(*LATER, "report", "outcomes", "--as-of", form, "--format", "json")
    return json.loads(result.stdout)["as_of"] == DAY.isoformat()


def daily_date(env: Env, form: str) -> Any:
    return env.json(*LATER, "daily", "--date", form)["run_date"] == DAY.isoformat()


def letters_render_date(env: Env, form: str) -> Any:
    return env.json(*LATER, "letters", "render", "--date", form)["run_date"] == DAY.isoformat()


def cohort_plan_from(env: Env, form: str) -> Any:
    plan = env.json(*EARLIER, "cohort", "plan", "--workflow", "kansen-in-kaart", "--wijk",
                    "Beijum", "--size", "1", "--specialists", "1", "--from", form, "--dry-run")
    return datetime.fromisoformat(plan["first_appointment"]) == datetime(2099, 12, 7, 9,
                                                                         tzinfo=TZ)


def audit_since(env: Env, form: str) -> Any:
    env.ok("--clock", "2099-12-06 12:00", "case", "show", "1")
    env.ok("--clock", "2099-12-07 09:30", "case", "show", "2")
    rows = env.json(*LATER, "audit", "--staff", "anna", "--since", form)
    days = {datetime.fromisoformat(r["at"]).astimezone(TZ).date() for r in rows}
    return min(days) == DAY


def budget_spend_date(env: Env, form: str) -> Any:
    env.ok(*LATER, "budget", "set", "kansen-in-kaart", "1000", "--year", "2099")
    env.ok(*LATER, "budget", "spend", "1", "10", "--purpose", "bus", "--date", form)
    return [row[0] for row in query(env, select(Spending.spent_on))] == [DAY]


def event_add_date(env: Env, form: str) -> Any:
    return env.json(*LATER, "event", "add", "--date", form, "--place", "Forum")["date"] == \
        DAY.isoformat()


def event_list_from(env: Env, form: str) -> Any:
    for day in ("2099-12-04", "2099-12-07"):
        env.ok(*LATER, "event", "add", "--date", day, "--place", "Forum")
    return [e["date"] for e in env.json(*LATER, "event", "list", "--from", form)] == \
        [DAY.isoformat()]


def case_open_birth_date(env: Env, form: str) -> Any:
    env.ok(*LATER, "case", "open", "--workflow", "participatiecoach", "--source", "partner",
           "--bsn", NEW_BSN, "--surname", "Jansen", "--street", "Dorpsstraat",
           "--house-number", "1", "--postcode", "9700 AB", "--city", "Groningen",
           "--wijk", "Beijum", "--birth-date", form)
    return [row[0] for row in query(
        env, select(Participant.birth_date).where(Participant.bsn == NEW_BSN))] == [DAY]


def cohort_file_dates(env: Env, form: str) -> Any:
    path = env.root / "cohort.csv"
    path.write_text("bsn;surname;street;house_number;postcode;city;wijk;last_guidance;"
                    f"birth_date\n{NEW_BSN};Jansen;Dorpsstraat;1;9700 AB;Groningen;Beijum;"
                    f"{form};{form}\n", encoding="utf-8")
    summary = env.json(*LATER, "cohort", "import", str(path), "--workflow", "kansen-in-kaart")
    assert summary["imported"] == 1, summary
    engine = env.engine()
    try:
        with engine.db.connect() as conn:
            row = conn.execute(select(Participant.last_guidance, Participant.birth_date)
                               .where(Participant.bsn == NEW_BSN)).one()
    finally:
        engine.db.dispose()
    return tuple(row) == (DAY, DAY)


def case_advance_at(env: Env, form: str) -> Any:
    env.ok(*LATER, "case", "advance", "1", "invite", "--set", "appointment=2099-12-09 10:00",
           "--at", form)
    at = env.json(*LATER, "case", "show", "1")["timeline"][-1]["at"]
    return datetime.fromisoformat(at) == moment_of(form)


def clock(env: Env, form: str) -> Any:
    header = env.ok("--clock", form, "task", "list").stderr.splitlines()[0]
    return header.endswith(f"klok: {moment_of(form):%Y-%m-%d %H:%M}")


def set_datetime_field(env: Env, form: str) -> Any:
    invite(env, form)
    [appointment] = env.json(*EARLIER, "case", "show", "1")["appointments"]
    return datetime.fromisoformat(appointment["starts_at"]) == moment_of(form)


def set_date_field(env: Env, form: str) -> Any:
    engine = env.engine()
    try:
        field = engine.registry.get("kansen-in-kaart").fields["outflow_date"]
        return field.coerce(form, engine.tz) == DAY.isoformat()
    finally:
        engine.db.dispose()


def apply_file_at(env: Env, form: str) -> Any:
    path = env.root / "steps.csv"
    path.write_text(f"case;trigger;at;appointment\n1;invite;{form};2099-12-09 10:00\n",
                    encoding="utf-8")
    summary = env.json(*LATER, "case", "apply", str(path))
    assert summary["applied"] == 1, summary
    at = env.json(*LATER, "case", "show", "1")["timeline"][-1]["at"]
    return datetime.fromisoformat(at) == moment_of(form)


def last_event_at(env: Env, case_id: int = 1) -> datetime:
    return datetime.fromisoformat(
        env.json(*LATER, "case", "show", str(case_id))["timeline"][-1]["at"])


def assign_at(env: Env, form: str) -> Any:
    env.ok(*LATER, "case", "assign", "1", "bert", "--at", form)
    return last_event_at(env) == moment_of(form)


def flag_at(env: Env, form: str) -> Any:
    env.ok(*LATER, "case", "flag", "1", "moved", "--at", form)
    return last_event_at(env) == moment_of(form)


def consent_at(env: Env, form: str) -> Any:
    env.ok(*LATER, "consent", "grant", "1", "record_report", "--how", "phone", "--at", form)
    return last_event_at(env) == moment_of(form)


def task_done_at(env: Env, form: str) -> Any:
    invite(env, "2099-12-08 10:00")
    [reminder] = env.json(*LATER, "task", "list")["tasks"]
    env.ok(*LATER, "task", "done", str(reminder["id"]), "--outcome", "reached", "--at", form)
    return last_event_at(env) == moment_of(form)


def cohort_import_at(env: Env, form: str) -> Any:
    path = env.root / "cohort.csv"
    path.write_text("bsn;surname;street;house_number;postcode;city;wijk\n"
                    f"{NEW_BSN};Jansen;Dorpsstraat;1;9700 AB;Groningen;Beijum\n",
                    encoding="utf-8")
    env.ok(*LATER, "cohort", "import", str(path), "--workflow", "kansen-in-kaart",
           "--at", form)
    [case] = env.json(*LATER, "person", "find", NEW_BSN)["cases"]
    return last_event_at(env, case["id"]) == moment_of(form)


OPTIONS: dict[str, Callable[[Env, str], Any]] = {
    "task list --due": task_list_due,
    "report --as-of": report_as_of,
    "daily --date": daily_date,
    "letters render --date": letters_render_date,
    "cohort plan --from": cohort_plan_from,
    "audit --since": audit_since,
    "budget spend --date": budget_spend_date,
    "event add --date": event_add_date,
    "event list --from": event_list_from,
    "case open --birth-date": case_open_birth_date,
    "cohort file last_guidance, birth_date": cohort_file_dates,
    "case advance --at": case_advance_at,
    "--clock": clock,
    "--set a datetime field": set_datetime_field,
    "--set a date field": set_date_field,
    "apply file at": apply_file_at,
    "case assign --at": assign_at,
    "case flag --at": flag_at,
    "consent grant --at": consent_at,
    "task done --at": task_done_at,
    "cohort import --at": cohort_import_at,
}


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("option", list(OPTIONS))
def test_every_date_option_and_field_reads_every_form(trainee: Env, option: str,
                                                      form: str) -> None:
    assert OPTIONS[option](trainee, form)


# The example of the issue: Dutch dates worked for cohort plan, not for case advance --at.
def test_case_advance_at_takes_a_dutch_moment_with_a_one_digit_hour(trainee: Env) -> None:
    trainee.ok(*LATER, "case", "advance", "1", "invite", "--set",
               "appointment=09-12-2099 10:00", "--at", "07-12-2099 9:00")
    case = trainee.json(*LATER, "case", "show", "1")
    assert datetime.fromisoformat(case["timeline"][-1]["at"]) == datetime(2099, 12, 7, 9,
                                                                          tzinfo=TZ)
    assert datetime.fromisoformat(case["appointments"][0]["starts_at"]) == \
        datetime(2099, 12, 9, 10, tzinfo=TZ)


@pytest.mark.parametrize(("args", "option", "kind"), [
    (("task", "list", "--due"), "--due", "date"),
    (("report", "outcomes", "--as-of"), "--as-of", "date"),
    (("daily", "--dry-run", "--date"), "--date", "date"),
    (("letters", "render", "--date"), "--date", "date"),
    (("event", "list", "--from"), "--from", "date"),
    (("audit", "--staff", "anna", "--since"), "--since", "date"),
    (("case", "advance", "1", "invite", "--set", "appointment=2099-12-09 10:00", "--at"),
     "--at", "moment"),
])
@pytest.mark.parametrize("value", ["31-02-2099", "2099-12-07 25:00", "morgen", "20991207",
                                   "7-12-2099 9"])
def test_a_bad_date_is_one_line_naming_the_option_and_the_forms(
        trainee: Env, args: tuple[str, ...], option: str, kind: str, value: str) -> None:
    result = trainee.run(*LATER, *args, value)
    assert result.exit_code == 2
    [line] = [text for text in result.stderr.splitlines() if text.startswith("Error")]
    assert option in line
    expected = ("use '2026-12-07 09:00', '2026-12-07T09:00' or '07-12-2026 9:00'"
                if kind == "moment" else "use 2026-12-07 or 07-12-2026")
    assert line.endswith(expected)
    assert "Traceback" not in result.output


@pytest.mark.parametrize("text", ["1899-12-31", "2101-01-01", "31-12-1899 10:00"])
def test_years_outside_1900_to_2100_are_refused_by_both_parsers(text: str) -> None:
    with pytest.raises(ValueError):
        parse_date(text)
    with pytest.raises(ValueError):
        parse_datetime(text, TZ)


def test_a_moment_with_an_offset_keeps_it_and_one_without_is_local() -> None:
    assert parse_datetime("2099-12-07T08:00:00+00:00", TZ) == datetime(2099, 12, 7, 9,
                                                                       tzinfo=TZ)
    assert parse_datetime("2099-12-07T08:00Z", TZ) == datetime(2099, 12, 7, 9, tzinfo=TZ)
    assert parse_datetime("7/12/2099 9.30", TZ) == datetime(2099, 12, 7, 9, 30, tzinfo=TZ)

