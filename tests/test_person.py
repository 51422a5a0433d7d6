"""casework person find|edit: find a person's cases by BSN, name, postcode and house number
or a letter's reference, within one's own scope, logged like a listing; correct their contact
data with an event that keeps the old values, checked like a cohort row."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import EXAMPLES, Env
from helpers import error, show, staff
from sqlalchemy import select

from casework.models import AccessLog
from casework.privacy import purge

FIND_KEYS = {"matched_by", "total", "shown", "cases"}
CASE_KEYS = {"id", "reference", "workflow", "state", "wijk", "assigned_to", "closed", "name",
             "address", "postcode", "city"}
WIDE = {"COLUMNS": "250"}


def row(case_id: int) -> dict[str, str]:
    """The sample cohort's row of a case (case n is row n)."""
    with (EXAMPLES / "cohort.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))[case_id - 1]


def find(env: Env, query: str, **kwargs: Any) -> Any:
    return env.json("person", "find", query, **kwargs)


def found(env: Env, query: str, **kwargs: Any) -> list[int]:
    return [c["id"] for c in find(env, query, **kwargs)["cases"]]


def log_rows(env: Env) -> list[tuple[str, str, list[int]]]:
    engine = env.engine()
    try:
        with engine.db.connect() as conn:
            return [tuple(r) for r in conn.execute(  # type: ignore[misc]
                select(AccessLog.actor, AccessLog.action, AccessLog.case_ids)
                .order_by(AccessLog.id)).all()]
    finally:
        engine.db.dispose()


@pytest.fixture
def kees(cohort: Env) -> Env:
    """kees: a case worker in Vinkhuizen only."""
    cohort.ok("staff", "add", "kees", "--role", "case_worker", "--wijk", "Vinkhuizen")
    return cohort


# --- find ---------------------------------------------------------------------------------

@pytest.mark.parametrize("written", ["764132520", "764 132 520", "764.132.520"])
def test_find_by_bsn(cohort: Env, written: str) -> None:
    result = find(cohort, written)
    assert set(result) == FIND_KEYS
    assert result["matched_by"] == "bsn"
    [case] = result["cases"]
    assert set(case) == CASE_KEYS
    assert (case["id"], case["reference"], case["name"]) == (1, "KIK-000001", "B. El Amrani")
    assert (case["address"], case["postcode"]) == ("Jacob van Ruysdaelstraat 234", "9713 BK")


@pytest.mark.parametrize(("query", "case_id"), [
    ("El Amrani", 1), ("el amrani", 1), ("B. El Amrani", 1), ("van den Bosch", 2),
    ("W. van den Bosch", 2), ("Bosch", 2), ("BOSCH", 2), ("den Bos", 2), ("b. el am", 1),
    ("amrani", 1), ("van", 2),
])
def test_find_by_name(cohort: Env, query: str, case_id: int) -> None:
    result = find(cohort, query)
    assert result["matched_by"] == "name"
    assert case_id in [c["id"] for c in result["cases"]]
    assert all(query.lower().split()[-1] in c["name"].lower() for c in result["cases"])


@pytest.mark.parametrize("query", ["9713 BK 234", "9713BK 234", "9713bk234", "9713 BK, 234"])
def test_find_by_postcode_and_house_number(cohort: Env, query: str) -> None:
    result = find(cohort, query)
    assert (result["matched_by"], [c["id"] for c in result["cases"]]) == ("address", [1])


@pytest.mark.parametrize("query", ["KIK-000001", "kik-1", "KIK-0001"])
def test_find_by_a_letters_reference(cohort: Env, query: str) -> None:
    result = find(cohort, query)
    assert (result["matched_by"], [c["id"] for c in result["cases"]]) == ("reference", [1])


def test_a_reference_of_another_route_finds_nothing(cohort: Env) -> None:
    assert found(cohort, "PC-000001") == []


def test_find_shows_a_table_and_never_the_bsn(cohort: Env) -> None:
    out = cohort.ok("person", "find", row(1)["bsn"], env=WIDE).stdout
    assert "KIK-000001" in out and "B. El Amrani" in out and "9713 BK" in out
    assert "1 case" in out
    assert row(1)["bsn"] not in out


def test_find_lists_only_the_cases_the_actor_may_see(kees: Env) -> None:
    # Case 2 (Bosch) lives in Vinkhuizen, case 1 (El Amrani) in the Oosterparkwijk.
    assert found(kees, "van den Bosch", user="kees") == [2]
    assert found(kees, "El Amrani", user="kees") == [52]  # a namesake in Vinkhuizen
    assert row(52)["wijk"] == "Vinkhuizen"
    assert all(row(c)["wijk"] == "Vinkhuizen" for c in found(kees, "Jansen", user="kees"))
    assert found(kees, "Jansen") != found(kees, "Jansen", user="kees")


def test_a_person_outside_ones_scope_is_answered_as_an_unknown_one(kees: Env) -> None:
    outside = kees.run("person", "find", row(1)["bsn"], user="kees")
    unknown = kees.run("person", "find", "111222333", user="kees")
    assert (outside.exit_code, outside.output) == (unknown.exit_code, unknown.output) == (
        0, "No case you may see matches.\n")
    for query in (row(1)["bsn"], "KIK-000001", "9713 BK 234"):
        result = find(kees, query, user="kees")
        assert (result["total"], result["cases"]) == (0, [])


def test_find_is_logged_like_a_listing(kees: Env) -> None:
    before = log_rows(kees)
    find(kees, "Jansen", user="kees")
    [entry] = log_rows(kees)[len(before):]
    assert entry[:2] == ("kees", "find")
    assert entry[2] == found(kees, "Jansen", user="kees")
    # Nothing shown, nothing logged (as a listing of no cases).
    count = len(log_rows(kees))
    find(kees, row(1)["bsn"], user="kees")
    assert len(log_rows(kees)) == count


def test_find_needs_a_role_that_reads_cases(cohort: Env) -> None:
    cohort.ok("staff", "add", "admin2", "--role", "admin")
    assert "may not read a case file: that needs the role case_worker or coordinator" in error(
        cohort.run("person", "find", "Jansen", user="admin2"))


@pytest.mark.parametrize(("query", "expected"), [
    ("764132521", "BSN fails the elfproef"),
    ("12345", "BSN must be 9 digits"),
    ("x", "give at least two letters of a name"),
    ("  ", "give what to look for"),
    ("Jan\x1bsen", "control character"),
])
def test_a_query_that_names_no_one_is_one_clear_line(cohort: Env, query: str,
                                                     expected: str) -> None:
    message = error(cohort.run("person", "find", query))
    assert expected in message
    assert len(message.strip().splitlines()) == 1
    assert "764132521" not in message


def test_find_limit_says_how_many_there_are(cohort: Env) -> None:
    result = find(cohort, "Jansen")
    limited = cohort.json("person", "find", "Jansen", "--limit", "1")
    assert (limited["total"], limited["shown"]) == (result["total"], 1)
    assert result["total"] > 1


def test_find_limit_counts_only_the_cases_the_actor_may_see(kees: Env) -> None:
    mine = found(kees, "Jansen", user="kees")
    limited = kees.json("person", "find", "Jansen", "--limit", "1", user="kees")
    assert (limited["total"], limited["shown"]) == (len(mine), 1)
    assert [c["id"] for c in limited["cases"]] == mine[:1]
    assert 1 < len(mine) < find(kees, "Jansen")["total"]


# --- edit ---------------------------------------------------------------------------------

def test_edit_corrects_the_phone_and_keeps_the_old_number_in_the_timeline(cohort: Env) -> None:
    result = cohort.json("person", "edit", "1", "--phone", "06-11112222", "--note",
                         "belde zelf")
    assert result == {"case": 1, "changed": {"phone": {"old": "06-36017886",
                                                       "new": "06-11112222"}}}
    case = show(cohort, 1)
    assert case["person"]["phone"] == "06-11112222"
    last = case["timeline"][-1]
    assert (last["trigger"], last["actor"], last["note"]) == ("correct_contact", "anna",
                                                              "belde zelf")
    assert last["data"] == {"phone": {"old": "06-36017886", "new": "06-11112222"}}
    out = cohort.ok("case", "show", "1", env=WIDE).stdout
    assert "phone: 06-36017886 -> 06-11112222" in out


def test_edit_corrects_email_address_postcode_and_city_together(cohort: Env) -> None:
    out = cohort.ok("person", "edit", "2", "--email", "wb@example.nl", "--address",
                    "Kerkstraat 12-A", "--postcode", "9711ab", "--city", "Haren").stdout
    assert out.startswith("Case 2: corrected e-mail, address, postcode, city;")
    person = show(cohort, 2)["person"]
    assert (person["email"], person["address"], person["postcode"], person["city"]) == (
        "wb@example.nl", "Kerkstraat 12A", "9711 AB", "Haren")
    data = show(cohort, 2)["timeline"][-1]["data"]
    assert data["street"] == {"old": "Kornoeljestraat", "new": "Kerkstraat"}
    assert data["house_number"] == {"old": 61, "new": 12}
    assert data["house_number_suffix"] == {"old": None, "new": "A"}
    assert data["postcode"] == {"old": "9746 TL", "new": "9711 AB"}


def test_an_empty_phone_or_email_removes_it(cohort: Env) -> None:
    cohort.ok("person", "edit", "3", "--phone", "", "--email", "")
    person = show(cohort, 3)["person"]
    assert (person["phone"], person["email"]) == (None, None)


def test_nothing_different_records_nothing(cohort: Env) -> None:
    before = show(cohort, 1)["timeline"]
    out = cohort.ok("person", "edit", "1", "--phone", "06-36017886").stdout
    assert "nothing changed" in out
    assert show(cohort, 1)["timeline"] == before


@pytest.mark.parametrize(("args", "expected"), [
    (("--phone", "call me"), "--phone: phone 'call me' is not a phone number"),
    (("--phone", "12345"), "--phone: phone '12345' is not a phone number"),
    (("--email", "nope"), "--email: email 'nope' is not an e-mail address"),
    (("--postcode", "0711 AB"), "--postcode: postcode '0711 AB' is not like 1234 AB"),
    (("--address", "Kerkstraat"), "--address 'Kerkstraat' is not a street and house number"),
    (("--city", " "), "--city is empty"),
    (("--city", "Gron\x00ingen"), "--city contains a control character"),
    ((), "give what to correct"),
])
def test_bad_contact_data_is_refused_like_a_cohort_row_and_nothing_changes(
        cohort: Env, args: tuple[str, ...], expected: str) -> None:
    before = show(cohort, 1)
    message = error(cohort.run("person", "edit", "1", *args))
    assert expected in message
    assert show(cohort, 1)["person"] == before["person"]
    assert show(cohort, 1)["timeline"] == before["timeline"]


def test_a_phone_that_is_a_bsn_is_never_repeated(cohort: Env) -> None:
    result = cohort.run("person", "edit", "1", "--phone", row(2)["bsn"])
    assert row(2)["bsn"] not in result.output


def test_edit_outside_ones_scope_is_refused(kees: Env) -> None:
    message = error(kees.run("person", "edit", "1", "--phone", "06-11112222", user="kees"))
    assert "may only see cases" in message
    assert show(kees, 1)["person"]["phone"] == "06-36017886"
    kees.ok("person", "edit", "2", "--phone", "06-11112222", user="kees")


def test_edit_is_in_the_processing_log(cohort: Env) -> None:
    cohort.ok("person", "edit", "1", "--phone", "06-11112222")
    assert log_rows(cohort)[-1] == ("anna", "correct contact", [1])


def test_a_purge_removes_the_old_and_new_contact_data_from_the_history(cohort: Env) -> None:
    cohort.ok("person", "edit", "5", "--phone", "06-11112222", "--note", "nieuw nummer")
    cohort.ok("case", "advance", "5", "decline")
    config = cohort.config.read_text(encoding="utf-8")
    cohort.config.write_text(config + '\n[retention.kansen-in-kaart]\ndeclined = "P1Y"\n',
                             encoding="utf-8")
    cohort.ok("audit", "seal")
    engine = cohort.engine(clock=lambda: datetime.now(UTC) + timedelta(days=400))
    try:
        assert purge(engine, staff(engine, "anna"))["people"] == 1
    finally:
        engine.db.dispose()
    corrected = next(e for e in show(cohort, 5)["timeline"]
                     if e["trigger"] == "correct_contact")
    assert (corrected["data"], corrected["note"]) == ({}, None)
    text = json.dumps(show(cohort, 5))
    assert "06-63247422" not in text and "06-11112222" not in text
    assert cohort.json("audit", "verify")["ok"]


HOSTILE = ["[/]", "\x1b[2J", "=cmd|' /C calc'!A0", "\x00", "\x85", "\u2028", "٧٦٤١٣٢٥٢٠",
           "７６４１３２５２０", "9" * 40, "x" * 5000, "\ud800", "😀", "%", "_", "%s%s%s",
           "'; DROP TABLE cases; --", "KIK-" + "9" * 40, "KIK-999999999999", "9711 AB 999999",
           "764132532"]


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_text_in_find_and_edit_is_one_line_and_changes_nothing(
        cohort: Env, payload: str) -> None:
    before = show(cohort, 1)
    for args in (("person", "find", payload), ("person", "edit", "1", "--phone", payload),
                 ("person", "edit", "1", "--address", payload),
                 ("person", "edit", "1", "--city", payload, "--note", payload)):
        result = cohort.run(*args)
        assert result.exit_code in (0, 1, 2), (args, result.output)
        assert "Traceback" not in result.output
        assert "764132532" not in result.output
        assert "\x1b" not in result.output
    after = show(cohort, 1)
    if after["timeline"] == before["timeline"]:
        assert after["person"] == before["person"]
