"""`casework cohort plan`: a wave of invitations in a wijk, with appointment slots on workdays in
the configured hours and numbers, each invitation the route's own `invite`. Real clock: dates are
computed from today."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import Result
from conftest import Env, write_config
from helpers import cohort_rows, error, staff, today

from casework.calendar import add_months, is_workday

WORKFLOW = "kansen-in-kaart"
AMS = ZoneInfo("Europe/Amsterdam")
WIDE = {"COLUMNS": "200"}
PLAN_KEYS = {
    "workflow", "wijk", "wave", "size", "dry_run", "selected", "invited", "first_appointment",
    "last_appointment", "invitations", "excluded_now", "failures",
}
INVITATION_KEYS = {"case_id", "name", "appointment", "specialist"}
DEFAULT_TIMES = [time(9, 0), time(10, 30), time(12, 0), time(13, 30)]  # 90 minutes, 4 a day


def wijk_cases(wijk: str) -> list[int]:
    """Case numbers of a wijk: the cohort is imported in file order."""
    return [n for n, row in enumerate(cohort_rows(), 1) if row["wijk"] == wijk]


def exclusion(row: dict[str, str]) -> str | None:
    """Why the exclusion rule keeps a person of the sample cohort out of every wave: in contact
    with the social team, or guided within the last 24 months (rules.exclusion defaults)."""
    if row["wij_team_contact"] == "yes":
        return "social_team_contact"
    if row["last_guidance"] and date.fromisoformat(row["last_guidance"]) > add_months(today(),
                                                                                        -24):
        return "recent_guidance"
    return None


def excluded_cases(wijk: str) -> dict[int, str]:
    """Case numbers of a wijk that no wave invites, with the reason."""
    rows = cohort_rows()
    return {n: reason for n in wijk_cases(wijk) if (reason := exclusion(rows[n - 1]))}


def waiting_cases(wijk: str) -> list[int]:
    """Case numbers of a wijk that waves invite, in order: everyone not excluded."""
    excluded = excluded_cases(wijk)
    return [n for n in wijk_cases(wijk) if n not in excluded]


def workday_from(day: date) -> date:
    while not is_workday(day):
        day += timedelta(days=1)
    return day


def next_week() -> date:
    """A workday a week or more ahead: no slot of it has passed."""
    return workday_from(today() + timedelta(days=7))


def run_plan(where: Env, wijk: str, *args: str, start: date | None = None,
             specialists: int = 1, **kwargs: Any) -> Result:
    return where.run("cohort", "plan", "--workflow", WORKFLOW, "--wijk", wijk,
                   "--from", (start or next_week()).isoformat(),
                   "--specialists", str(specialists), *args, **kwargs)


def plan(where: Env, wijk: str, *args: str, start: date | None = None, specialists: int = 1,
         **kwargs: Any) -> Any:
    import json

    result = run_plan(where, wijk, *args, "--json", start=start, specialists=specialists,
                      **kwargs)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def local(moment: str) -> datetime:
    return datetime.fromisoformat(moment).astimezone(AMS)


def states(env: Env, case_ids: list[int]) -> dict[int, str]:
    listing = env.json("case", "list", "--limit", "0")
    return {c["id"]: c["state"] for c in listing["cases"] if c["id"] in case_ids}


def reminders(env: Env) -> dict[int, str]:
    data = env.json("task", "list", "--kind", "reminder_call", "--limit", "0")
    return {t["case_id"]: t["due"] for t in data["tasks"]}


def workday_before(day: date) -> date:
    day -= timedelta(days=1)
    while not is_workday(day):
        day -= timedelta(days=1)
    return day


# --- the wave ---------------------------------------------------------------------------------


def test_plan_json_gives_the_documented_keys_and_never_exceeds_the_size(cohort: Env) -> None:
    beijum = wijk_cases("Beijum")
    waiting = waiting_cases("Beijum")
    assert len(waiting) > 10
    data = plan(cohort, "Beijum", "--size", "10")
    assert set(data) == PLAN_KEYS
    assert (data["workflow"], data["wijk"], data["wave"], data["size"]) == (
        WORKFLOW, "Beijum", 1, 10)
    assert (data["dry_run"], data["selected"], data["invited"], data["failures"]) == (
        False, 10, 10, [])
    assert data["excluded_now"] == []  # the import already marked who is excluded
    invitations = data["invitations"]
    assert len(invitations) == 10
    assert all(set(inv) == INVITATION_KEYS for inv in invitations)
    assert [inv["case_id"] for inv in invitations] == waiting[:10]
    assert data["first_appointment"] == invitations[0]["appointment"]
    assert data["last_appointment"] == invitations[-1]["appointment"]
    rows = cohort_rows()
    first = rows[waiting[0] - 1]
    assert invitations[0]["name"] == " ".join(
        p for p in (first["initials"], first["prefix"], first["surname"]) if p)
    assert sorted(states(cohort, beijum).values()) == ["invited"] * 10 + ["selected"] * (
        len(beijum) - 10)


def test_plan_invites_only_selected_cases_of_the_wijk(cohort: Env) -> None:
    beijum = wijk_cases("Beijum")
    waiting = waiting_cases("Beijum")
    excluded = excluded_cases("Beijum")
    assert excluded
    cohort.ok("case", "advance", str(waiting[0]), "decline")
    cohort.ok("case", "advance", str(waiting[1]), "invite", "--set",
              "appointment=2099-01-05 10:00")
    data = plan(cohort, "Beijum", "--size", "250")
    invited = [inv["case_id"] for inv in data["invitations"]]
    assert invited == waiting[2:]
    assert (data["selected"], data["invited"]) == (len(waiting) - 2, len(waiting) - 2)
    others = [n for n in range(1, 201) if n not in beijum]
    assert set(states(cohort, others).values()) == {"selected"}
    assert states(cohort, waiting[:2]) == {waiting[0]: "closed", waiting[1]: "invited"}
    assert states(cohort, list(excluded)) == dict.fromkeys(excluded, "selected")
    listed = cohort.json("cohort", "excluded", "--workflow", WORKFLOW, "--wijk", "Beijum")
    assert {c["case_id"]: c["reason"] for c in listed["cases"]} == excluded


def test_a_second_wave_picks_the_next_people_and_is_wave_two(cohort: Env) -> None:
    beijum = waiting_cases("Beijum")
    first = plan(cohort, "Beijum", "--size", "10")
    second = plan(cohort, "Beijum", "--size", "10")
    third = plan(cohort, "Beijum", "--size", "10")
    assert (first["wave"], second["wave"], third["wave"]) == (1, 2, 3)
    assert [inv["case_id"] for inv in first["invitations"]] == beijum[:10]
    assert [inv["case_id"] for inv in second["invitations"]] == beijum[10:20]
    assert [inv["case_id"] for inv in third["invitations"]] == beijum[20:30]
    assert third["selected"] == len(beijum) - 20 < 10
    assert cohort.json("case", "show", str(beijum[0]))["wave"] == 1
    assert cohort.json("case", "show", str(beijum[10]))["wave"] == 2


def at_once(calls: list[Callable[[Any], Any]], env: Env,
            names: list[str] | None = None) -> list[Any]:
    """Run each call in a thread of its own, started together, each with its own Engine (as
    two planners in two processes); return their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def one(n: int) -> None:
        engine = env.engine()
        try:
            barrier.wait(timeout=30)
            results[n] = calls[n](engine)
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.db.dispose()

    threads = [threading.Thread(target=one, args=(n,), name=(names or [None] * len(calls))[n])
               for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a planner did not end"
    assert not errors, errors
    return results


def test_two_planners_of_one_wijk_at_once_never_get_the_same_wave_number(
    cohort: Env, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two planners start together; the first (15 people) sends its invitations only after
    the second (5 people) has finished: what two people planning at one moment do. Both
    invite people (the first those the second did not take), each wave under its own number."""
    from casework import planning

    second_done = threading.Event()
    first_chose = threading.Event()
    apply_lines = planning.apply_lines

    def paced(*args: Any, **kwargs: Any) -> Any:
        # Both have chosen their people before either invites (on a loaded machine the
        # first once chose after the second had invited, and took 15 others).
        if threading.current_thread().name == "first":
            first_chose.set()
            assert second_done.wait(timeout=60)
        else:
            assert first_chose.wait(timeout=60)
        return apply_lines(*args, **kwargs)

    monkeypatch.setattr(planning, "apply_lines", paced)

    def planner(size: int, done: threading.Event | None = None) -> Callable[[Any], Any]:
        def plan_it(engine: Any) -> Any:
            try:
                return planning.plan_wave(engine, staff(engine, "anna"), WORKFLOW, "Beijum",
                                          size, next_week(), 2)
            finally:
                if done is not None:
                    done.set()
        return plan_it

    first, second = at_once([planner(15), planner(5, second_done)], cohort,
                            names=["first", "second"])
    assert (first["invited"], second["invited"]) == (10, 5)
    assert first["wave"] != second["wave"]
    invited = {inv["case_id"]: p["wave"] for p in (first, second) for inv in p["invitations"]}
    assert len(invited) == 15  # nobody invited twice
    for case_id, wave in invited.items():
        assert cohort.json("case", "show", str(case_id))["wave"] == wave
    # The next wave follows the highest number taken.
    assert plan(cohort, "Beijum", "--size", "1")["wave"] == 3


def test_wave_numbers_claimed_at_once_are_each_given_once(cohort: Env) -> None:
    from casework.planning import claim_wave

    def claims(engine: Any) -> list[int]:
        actor = staff(engine, "anna")
        return [claim_wave(engine, actor, WORKFLOW, "Hoogkerk")[0] for _ in range(15)]

    one, other = at_once([claims, claims], cohort)
    assert sorted(one + other) == list(range(1, 31))


def test_a_wijk_with_nobody_waiting_gives_an_empty_wave(cohort: Env) -> None:
    plan(cohort, "Hoogkerk", "--size", "250")
    data = plan(cohort, "Hoogkerk", "--size", "250")
    assert (data["selected"], data["invited"], data["invitations"]) == (0, 0, [])
    assert data["first_appointment"] is data["last_appointment"] is None
    out = run_plan(cohort, "Hoogkerk", "--size", "5", env=WIDE)
    assert out.exit_code == 0, out.output
    assert "nobody in this wijk is waiting" in out.stdout


# --- the slots --------------------------------------------------------------------------------


def test_appointments_fill_workdays_in_the_configured_hours_per_specialist(cohort: Env) -> None:
    start = next_week()
    vinkhuizen = waiting_cases("Vinkhuizen")
    data = plan(cohort, "Vinkhuizen", "--size", "250", start=start, specialists=3)
    invitations = data["invitations"]
    assert len(invitations) == len(vinkhuizen) > 24
    moments = [local(inv["appointment"]) for inv in invitations]
    assert moments == sorted(moments)
    assert moments[0] == datetime.combine(start, time(9, 0), tzinfo=AMS)
    assert {m.time() for m in moments} == set(DEFAULT_TIMES)
    assert {inv["specialist"] for inv in invitations} == {1, 2, 3}
    per_specialist_day = Counter((m.date(), inv["specialist"])
                                 for m, inv in zip(moments, invitations, strict=True))
    assert max(per_specialist_day.values()) == 4
    per_slot = Counter(m for m in moments)
    assert max(per_slot.values()) == 3  # three specialists in parallel
    for moment in set(moments):
        assert sorted(inv["specialist"] for m, inv in zip(moments, invitations, strict=True)
                      if m == moment) == list(range(1, per_slot[moment] + 1))
    days = sorted({m.date() for m in moments})
    per_day = Counter(m.date() for m in moments)
    assert [per_day[d] for d in days[:-1]] == [12] * (len(days) - 1)
    assert days[0] == start
    for earlier, later in pairwise(days):
        assert later == workday_from(earlier + timedelta(days=1))


def test_no_appointment_falls_on_a_weekend_or_a_christmas_day(cohort: Env) -> None:
    year = today().year if today() < date(today().year, 12, 22) else today().year + 1
    start = date(year, 12, 22)
    data = plan(cohort, "Vinkhuizen", "--size", "20", start=start)
    days = [local(inv["appointment"]).date() for inv in data["invitations"]]
    assert len(days) == 20
    for day in days:
        assert day.weekday() < 5
        assert (day.month, day.day) not in ((12, 25), (12, 26))
        assert day >= start
    assert min(days) < date(year, 12, 25) < date(year, 12, 26) < max(days)
    assert sorted(Counter(days).values()) == [4] * 5
    expected = [workday_from(start)]
    while len(expected) < 5:
        expected.append(workday_from(expected[-1] + timedelta(days=1)))
    assert sorted(set(days)) == expected


def test_plan_starts_on_the_next_workday_when_from_is_a_weekend(cohort: Env) -> None:
    saturday = today() + timedelta(days=7 + (5 - today().weekday()) % 7)
    assert saturday.weekday() == 5
    data = plan(cohort, "Paddepoel", "--size", "3", start=saturday)
    monday = workday_from(saturday)
    assert [local(inv["appointment"]) for inv in data["invitations"]] == [
        datetime.combine(monday, t, tzinfo=AMS) for t in DEFAULT_TIMES[:3]]


# --- dry run ----------------------------------------------------------------------------------


def test_dry_run_invites_nobody_but_shows_the_same_plan(cohort: Env) -> None:
    beijum = wijk_cases("Beijum")
    dry = plan(cohort, "Beijum", "--size", "12", "--dry-run", specialists=2)
    assert (dry["dry_run"], dry["selected"], dry["invited"]) == (True, 12, 12)
    assert set(states(cohort, beijum).values()) == {"selected"}
    assert cohort.json("task", "list", "--status", "all")["total"] == 0
    assert cohort.json("case", "show", str(beijum[0]))["appointments"] == []
    assert cohort.json("case", "show", str(beijum[0]))["wave"] is None
    # The preview named people: one listing in the processing log, with the cases it showed.
    previews = [e for e in cohort.json("audit", "--staff", "anna") if e["action"] == "plan preview"]
    assert len(previews) == 1 and previews[0]["actor"] == "anna"
    assert sorted(previews[0]["case_ids"]) == sorted(i["case_id"] for i in dry["invitations"])
    real = plan(cohort, "Beijum", "--size", "12", specialists=2)
    assert real["dry_run"] is False
    assert real["invitations"] == dry["invitations"]
    assert (real["wave"], real["first_appointment"], real["last_appointment"]) == (
        dry["wave"], dry["first_appointment"], dry["last_appointment"])


def test_dry_run_prints_the_plan_and_says_nobody_was_invited(cohort: Env) -> None:
    result = run_plan(cohort, "Beijum", "--size", "3", "--dry-run", env=WIDE)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Wave 1 in Beijum (kansen-in-kaart): would invite 3 of 3 selected (size 3)" in out
    assert "Dry run: nobody was invited." in out
    start = next_week().isoformat()
    assert f"{start} 09:00" in out and f"{start} 12:00" in out
    rows = cohort_rows()
    first = rows[waiting_cases("Beijum")[0] - 1]
    assert first["surname"] in out
    assert not [row["bsn"] for row in rows if row["bsn"] in out]


def test_plan_prints_what_it_did(cohort: Env) -> None:
    result = run_plan(cohort, "Beijum", "--size", "5", env=WIDE)
    assert result.exit_code == 0, result.output
    assert "Wave 1 in Beijum (kansen-in-kaart): invited 5 of 5 selected (size 5)" in result.stdout
    start = next_week().isoformat()
    assert f"appointments {start} 09:00 to " in result.stdout
    assert "Dry run" not in result.stdout


# --- what an invitation leaves behind ---------------------------------------------------------


def test_each_invited_case_has_an_appointment_an_invite_event_and_a_reminder(
    cohort: Env,
) -> None:
    data = plan(cohort, "Lewenborg", "--size", "10", specialists=2)
    due = reminders(cohort)
    assert sorted(due) == sorted(inv["case_id"] for inv in data["invitations"])
    for inv in data["invitations"]:
        case = cohort.json("case", "show", str(inv["case_id"]))
        assert (case["state"], case["wave"]) == ("invited", 1)
        [appointment] = case["appointments"]
        assert local(appointment["starts_at"]) == local(inv["appointment"])
        assert (appointment["status"], appointment["location"]) == ("planned", "thuis")
        last = case["timeline"][-1]
        assert (last["trigger"], last["actor"]) == ("invite", "anna")
        assert last["note"] == f"wave 1, specialist {inv['specialist']}"
        day = local(inv["appointment"]).date()
        assert due[inv["case_id"]] == max(workday_before(day), today()).isoformat()


# --- refusals ---------------------------------------------------------------------------------


def test_size_over_the_wave_size_is_refused_naming_the_setting(cohort: Env) -> None:
    message = error(run_plan(cohort, "Beijum", "--size", "251"))
    assert "planning.wave_size" in message and "250" in message
    assert set(states(cohort, wijk_cases("Beijum")).values()) == {"selected"}


def test_size_below_one_is_refused(cohort: Env) -> None:
    assert "--size" in error(run_plan(cohort, "Beijum", "--size", "0"))


def test_no_specialists_is_refused(cohort: Env) -> None:
    assert "--specialists" in error(run_plan(cohort, "Beijum", "--size", "5", specialists=0))


def test_unknown_wijk_lists_the_known_wijken(cohort: Env) -> None:
    message = error(run_plan(cohort, "Atlantis", "--size", "5"), 2)
    assert "Atlantis" in message
    for wijk in sorted({row["wijk"] for row in cohort_rows()}):
        assert wijk in message


def test_unknown_workflow_is_refused(cohort: Env) -> None:
    result = cohort.run("cohort", "plan", "--workflow", "no-such-route", "--wijk", "Beijum",
                        "--from", next_week().isoformat(), "--specialists", "1")
    assert "no-such-route" in error(result, 2)


def test_from_in_the_past_is_refused(cohort: Env) -> None:
    yesterday = today() - timedelta(days=1)
    message = error(run_plan(cohort, "Beijum", "--size", "5", start=yesterday))
    assert "--from" in message and "past" in message
    assert set(states(cohort, wijk_cases("Beijum")).values()) == {"selected"}


@pytest.mark.parametrize("text", ["next monday", "2099-02-30"])
def test_from_that_is_not_a_date_is_a_usage_error(cohort: Env, text: str) -> None:
    result = cohort.run("cohort", "plan", "--workflow", WORKFLOW, "--wijk", "Beijum",
                        "--from", text, "--specialists", "1")
    assert "not a date" in error(result, 2)


# --- the [planning] settings ------------------------------------------------------------------


def test_planning_settings_change_slot_hours_length_and_capacity(cohort: Env) -> None:
    write_config(cohort.root, cohort.database_url, extra=(
        '\n[planning]\nday_start = "08:30"\nday_end = "12:00"\nslot_minutes = 60\n'
        'per_specialist_per_day = 2\nlocation = "buurthuis"\n'))
    start = next_week()
    data = plan(cohort, "Selwerd", "--size", "8", start=start, specialists=2)
    moments = [local(inv["appointment"]) for inv in data["invitations"]]
    assert {m.time() for m in moments} == {time(8, 30), time(9, 30)}
    assert Counter(m.date() for m in moments)[start] == 4  # 2 a day for each of 2
    assert len({m.date() for m in moments}) == 2
    case = cohort.json("case", "show", str(data["invitations"][0]["case_id"]))
    assert case["appointments"][0]["location"] == "buurthuis"


def test_day_end_limits_the_slots_of_a_day(cohort: Env) -> None:
    write_config(cohort.root, cohort.database_url, extra=(
        '\n[planning]\nday_start = "09:00"\nday_end = "12:00"\nslot_minutes = 60\n'
        'per_specialist_per_day = 10\n'))
    start = next_week()
    data = plan(cohort, "Selwerd", "--size", "6", start=start)
    moments = [local(inv["appointment"]) for inv in data["invitations"]]
    assert [m.time() for m in moments] == [time(9, 0), time(10, 0), time(11, 0)] * 2
    assert moments[0].date() == start
    assert moments[3].date() == workday_from(start + timedelta(days=1))


def test_a_smaller_wave_size_lowers_the_limit(cohort: Env) -> None:
    write_config(cohort.root, cohort.database_url, extra="\n[planning]\nwave_size = 5\n")
    message = error(run_plan(cohort, "Beijum", "--size", "6"))
    assert "planning.wave_size" in message and "5" in message
    assert plan(cohort, "Beijum", "--size", "5")["invited"] == 5


def test_without_size_a_wave_is_as_large_as_the_configured_wave_size(cohort: Env) -> None:
    write_config(cohort.root, cohort.database_url, extra="\n[planning]\nwave_size = 5\n")
    data = plan(cohort, "Beijum")
    assert (data["size"], data["invited"]) == (5, 5)


def test_slots_that_do_not_fit_in_a_day_are_a_clear_error(cohort: Env) -> None:
    write_config(cohort.root, cohort.database_url, extra=(
        '\n[planning]\nday_start = "09:00"\nday_end = "10:00"\nslot_minutes = 90\n'))
    result = run_plan(cohort, "Beijum", "--size", "3")
    message = error(result)
    assert "planning." in message
    write_config(cohort.root, cohort.database_url)
    assert set(states(cohort, wijk_cases("Beijum")).values()) == {"selected"}


# --- specialists are people -------------------------------------------------------------------


def named_plan(where: Env, wijk: str, *names: str, size: int = 6) -> Any:
    import json

    args = [arg for name in names for arg in ("--specialist", name)]
    result = where.run("cohort", "plan", "--workflow", WORKFLOW, "--wijk", wijk,
                       "--from", next_week().isoformat(), "--size", str(size), *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_named_specialists_are_booked_and_never_twice(cohort: Env) -> None:
    first = named_plan(cohort, "Beijum", "bert", "carla")
    second = named_plan(cohort, "Vinkhuizen", "bert")
    booked = [(inv["specialist"], inv["appointment"])
              for inv in first["invitations"] + second["invitations"]]
    assert {who for who, _ in booked} == {"bert", "carla"}
    assert len(booked) == len(set(booked)) == 12  # bert's Vinkhuizen slots skip his Beijum ones
    case_id = second["invitations"][0]["case_id"]
    shown = cohort.json("case", "show", str(case_id))["appointments"]
    assert [a["specialist"] for a in shown] == ["bert"]
    assert "with bert" in cohort.ok("case", "show", str(case_id)).stdout


def test_a_slot_frees_up_when_its_appointment_moves(cohort: Env) -> None:
    first = named_plan(cohort, "Beijum", "bert", size=1)
    slot = first["invitations"][0]
    cohort.ok("case", "advance", str(slot["case_id"]), "decline")
    again = named_plan(cohort, "Vinkhuizen", "bert", size=1)
    assert again["invitations"][0]["appointment"] == slot["appointment"]


def test_a_specialist_must_be_staff_who_hold_conversations(cohort: Env) -> None:
    cohort.ok("staff", "add", "olga", "--role", "back_office")
    for name in ("nobody", "olga"):
        result = cohort.run("cohort", "plan", "--workflow", WORKFLOW, "--wijk", "Beijum",
                            "--from", next_week().isoformat(), "--specialist", name)
        assert result.exit_code == 2 and "--specialist" in result.output
        assert "bert" in result.output  # the known specialists are named
    both = cohort.run("cohort", "plan", "--workflow", WORKFLOW, "--wijk", "Beijum",
                      "--from", next_week().isoformat(), "--specialist", "bert",
                      "--specialists", "2")
    assert both.exit_code == 2 and "one of the two" in both.output
    assert cohort.json("case", "list", "--state", "invited")["total"] == 0


def test_upgrading_keeps_the_numbers_of_waves_planned_before(cohort: Env) -> None:
    from alembic import command

    from casework.db import _alembic_config, head_revision

    assert [plan(cohort, "Beijum", "--size", "2")["wave"] for _ in range(2)] == [1, 2]
    engine = cohort.engine()
    try:
        command.downgrade(_alembic_config(engine.db), "0018_postcode_search")
    finally:
        engine.db.dispose()
    assert f"to {head_revision()}" in cohort.ok("db", "upgrade").stdout
    assert plan(cohort, "Beijum", "--size", "2")["wave"] == 3
    assert plan(cohort, "Hoogkerk", "--size", "2")["wave"] == 1
