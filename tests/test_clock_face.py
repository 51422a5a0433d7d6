"""One clock face: every human output shows local time (Europe/Amsterdam) without an offset,
the same moment the same way everywhere; JSON shows ISO 8601 with an offset."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from conftest import Env

AMS = ZoneInfo("Europe/Amsterdam")
WORKFLOW = "kansen-in-kaart"
WIDE = {"COLUMNS": "250"}
# Anything that is not a moment for people: an offset or Z after a time, ISO's 'T', 'UTC'.
NOT_LOCAL = re.compile(r"\d{2}:\d{2}(:\d{2}(\.\d+)?)? ?(Z\b|[+-]\d{2}:?\d{2}\b)"
                       r"|\d{4}-\d{2}-\d{2}T\d{2}|\bUTC\b")
ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}.*([+-]\d{2}:\d{2}|Z)")


def moments(data: Any) -> Iterator[datetime]:
    """Every moment (ISO 8601 with an offset) in a JSON answer."""
    if isinstance(data, dict):
        for item in data.values():
            yield from moments(item)
    elif isinstance(data, list):
        for item in data:
            yield from moments(item)
    elif isinstance(data, str) and ISO_MOMENT.fullmatch(data):
        yield datetime.fromisoformat(data)


def human(env: Env, *args: str) -> str:
    result = env.run(*args, env=WIDE)
    assert result.exit_code in (0, 1), result.output
    return result.output


def answer(env: Env, *args: str) -> Any:
    return json.loads(env.ok(*args, "--json").stdout)


def assert_local(text: str, data: Any, fmt: str = "%Y-%m-%d %H:%M") -> None:
    """Every moment the text shows is one of the JSON's moments in local time; none is UTC."""
    assert not NOT_LOCAL.search(text), NOT_LOCAL.search(text)
    known = list(moments(data))
    assert known, "the JSON holds no moment to compare with"
    local = {m.astimezone(AMS).strftime(fmt) for m in known}
    pattern = re.escape(fmt).replace("%Y", r"\d{4}")
    for code in ("%m", "%d", "%H", "%M", "%S"):
        pattern = pattern.replace(re.escape(code), r"\d{2}").replace(code, r"\d{2}")
    shown = set(re.findall(pattern, text))
    assert shown, f"no moment shown in:\n{text}"
    assert shown <= local, (shown - local, local)


def test_every_human_output_shows_local_time_without_offset(cohort: Env) -> None:
    plan = answer(cohort, "cohort", "plan", "--workflow", WORKFLOW, "--wijk", "Beijum",
                  "--from", "2099-01-05", "--specialists", "1", "--size", "2")
    case = str(plan["invitations"][0]["case_id"])
    cohort.ok("case", "advance", case, "hold_conversation", "--set",
              "classification=socially_active", "--set", "participation_potential=self",
              "--set", "consent=record_report,share:coach_meedoen")
    cohort.ok("case", "advance", case, "refer", "--set", "partner=coach_meedoen")
    cohort.ok("consent", "grant", case, "share:wij_team", "--how", "phone")
    cohort.ok("daily")

    # The case file: the appointment in its data, its row and the timeline, one clock face.
    shown = human(cohort, "case", "show", case)
    data = answer(cohort, "case", "show", case)
    assert_local(shown, data)
    [appointment] = data["appointments"]
    starts = datetime.fromisoformat(appointment["starts_at"]).astimezone(AMS)
    assert shown.count(starts.strftime("%Y-%m-%d %H:%M")) >= 2  # its row, the timeline
    # The processing log of the case, to the second.
    assert_local(human(cohort, "audit", "--case", case), answer(cohort, "audit", "--case", case),
                 "%Y-%m-%d %H:%M:%S")
    assert_local(human(cohort, "consent", "list", case), answer(cohort, "consent", "list", case))
    assert_local(human(cohort, "daily", "--status"), answer(cohort, "daily", "--status"))
    # The day a case entered its state, as a local date.
    assert_local(human(cohort, "case", "list", "--wijk", "Beijum", "--limit", "3"),
                 answer(cohort, "case", "list", "--wijk", "Beijum", "--limit", "3"),
                 "%Y-%m-%d")
    dry = ("cohort", "plan", "--workflow", WORKFLOW, "--wijk", "Selwerd", "--from",
           "2099-01-05", "--specialists", "2", "--size", "3", "--dry-run")
    assert_local(human(cohort, *dry), answer(cohort, *dry))
    # The partner's list is read by people too.
    assert_local(human(cohort, "referral", "export", "--partner", "coach_meedoen"),
                 answer(cohort, "referral", "export", "--partner", "coach_meedoen"))
    # Lists without moments of their own show none in UTC either.
    for args in (("task", "list"), ("letters", "list"), ("letters", "batch", "list"),
                 ("daily", "--dry-run"), ("case", "triggers", case)):
        text = human(cohort, *args)
        assert not NOT_LOCAL.search(text), (args, text)


def test_json_moments_carry_an_offset(cohort: Env) -> None:
    cohort.ok("case", "advance", "1", "invite", "--set", "appointment=2099-01-05 09:00")
    data = answer(cohort, "case", "show", "1")
    at = [e["at"] for e in data["timeline"]] + [a["starts_at"] for a in data["appointments"]]
    at.append(data["data"]["appointment"])
    for moment in at:
        assert datetime.fromisoformat(moment).utcoffset() is not None, moment
    # 09:00 in Amsterdam in January is 08:00 UTC: the same moment in both faces.
    assert datetime.fromisoformat(data["data"]["appointment"]).astimezone(AMS).hour == 9
    assert "appointment: 2099-01-05 09:00" in human(cohort, "case", "show", "1")
