"""The coordinator's pages of the web front through Flask's test client: Werkverdeling (the
work per worker, a worker's list), assigning a wave, planning a wave (preview, confirm), for
each role, with the scope of a coordinator's projects."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import Env
from helpers import (
    Clock,
    amsterdam,
    bsn_of,
    csrf_of,
    invite,
    query,
    same_page,
    web_app,
    web_login,
    web_member,
)
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from casework.models import AccessLog, Event

ROUTE = "kansen-in-kaart"
OTHER_ROUTE = "meedoen-werkt"
PAGES = ("/werkverdeling", "/werkverdeling/medewerker/piet", "/werkverdeling/zonder-medewerker",
         "/werkverdeling/golven", "/golf-plannen")


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC))


@pytest.fixture
def app(cohort: Env, clock: Clock) -> Any:
    """piet: case worker in Oosterparkwijk; kees: coordinator of Kansen in Kaart."""
    app = web_app(cohort, clock, piet="Oosterparkwijk")
    web_member(app, cohort, "kees", "--role", "coordinator", "--project", ROUTE)
    return app


def add_other_project(app: Any, cohort: Env) -> None:
    """karin: coordinator of Meedoen Werkt!, with one case there (wim's)."""
    web_member(app, cohort, "karin", "--role", "coordinator", "--project", OTHER_ROUTE)
    cohort.ok("staff", "add", "wim", "--role", "case_worker")
    opened = cohort.json("case", "open", "--workflow", OTHER_ROUTE, "--bsn", bsn_of(5))
    cohort.ok("case", "assign", str(opened["id"]), "wim")


def logged_in(app: Any, name: str) -> Any:
    client = app.test_client()
    assert web_login(client, name).status_code == 302
    return client


def events(env: Env) -> int:
    return int(query(env, select(func.count()).select_from(Event))[0][0])


def log_rows(env: Env, actor: str) -> list[Any]:
    return [r for r in query(env, select(AccessLog.actor, AccessLog.action, AccessLog.case_ids)
                             .order_by(AccessLog.id)) if r.actor == actor]


def plan_wave(env: Env, wijk: str = "Oosterparkwijk", size: int = 4) -> dict[str, Any]:
    """A wave planned on the command line (an appointment a week or two ahead)."""
    start = (datetime.now(UTC) + timedelta(days=7)).date().isoformat()
    return env.json("cohort", "plan", "--workflow", ROUTE, "--wijk", wijk, "--size", str(size),
                    "--from", start, "--specialists", "1")  # type: ignore[no-any-return]


def plan_form(html: str | None = None, **values: Any) -> dict[str, Any]:
    """The planning form's fields: Oosterparkwijk, 3 invitations, one unnamed specialist."""
    form = {"plan-workflow": ROUTE, "plan-wijk": "Oosterparkwijk", "plan-size": "3",
            "plan-from": (datetime.now(UTC) + timedelta(days=7)).date().isoformat(),
            "plan-specialists": "1", **values}
    if html is not None:
        form["csrf_token"] = csrf_of(html)
    return form


def confirm_form(html: str) -> MultiDict[str, str]:
    """The hidden fields of the preview's confirmation form (with its digest)."""
    part = html[html.index('action="/golf-plannen/bevestigen"'):]
    part = part[:part.index("</form>")]
    return MultiDict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', part))


def test_a_coordinator_sees_the_work_per_worker_and_opens_a_workers_list(
        app: Any, cohort: Env, clock: Clock) -> None:
    invite(cohort, 1, appointment="2099-01-05 10:00")  # reminder call due 2 January 2099
    invite(cohort, 3, appointment="2099-01-12 10:00")  # due 9 January
    cohort.ok("case", "assign", "1", "piet")
    cohort.ok("case", "assign", "3", "piet")
    clock.set(amsterdam(2099, 1, 9))
    client = logged_in(app, "kees")
    home = client.get("/").text
    assert 'href="/werkverdeling"' in home and 'href="/golf-plannen"' in home
    page = client.get("/werkverdeling")
    assert page.status_code == 200 and "9 januari 2099" in page.text
    rows = {name: re.findall(r'cw-number">(?:<span[^>]*>)?(\d+)', row)
            for name, row in re.findall(r'scope="row">(?:<a[^>]*>)?([^<]+)(?:</a>)?</th>(.*?)</tr>',
                                        page.text, re.S)}
    # piet: two open cases, one call due today, one overdue; the other 198 are no one's yet.
    assert rows["piet"] == ["2", "1", "1"]
    assert rows["Nog niemand"] == ["198", "0", "0"] and rows["Totaal"] == ["200", "1", "1"]
    assert not log_rows(cohort, "kees")  # counts only: nobody's data was shown

    worker = client.get("/werkverdeling/medewerker/piet")
    assert worker.status_code == 200 and "Werk van piet" in worker.text
    assert "El Amrani" in worker.text and 'href="/zaak/3"' in worker.text
    assert "te laat" in worker.text and "Herinnering bellen" in worker.text
    # The same log entries as 'case list --assigned piet --open' and 'task list'.
    assert [(r.action, sorted(r.case_ids)) for r in log_rows(cohort, "kees")] == [
        ("task list", [1, 3]), ("list", [1, 3])]
    nobody = client.get("/werkverdeling/zonder-medewerker")
    assert nobody.status_code == 200 and 'href="/zaak/2"' in nobody.text
    assert 'href="/zaak/1"' not in nobody.text
    assert client.get("/werkverdeling/medewerker/niemand").status_code == 404


@pytest.mark.parametrize("name", ["piet", "ada"])
def test_case_workers_and_admins_get_not_found_on_the_coordinators_pages(
        app: Any, cohort: Env, name: str) -> None:
    if name == "ada":
        web_member(app, cohort, "ada", "--role", "admin")
    plan_wave(cohort)
    client = logged_in(app, name)
    home = client.get("/").text
    assert "Werkverdeling" not in home and "Golf plannen" not in home
    missing = client.get("/zaak/999999")  # the same page as a case that does not exist
    for path in PAGES:
        answer = client.get(path)
        assert answer.status_code == 404 and same_page(answer.text) == same_page(missing.text)
    token = csrf_of(home)
    assign = client.post("/werkverdeling/golven", data={
        "csrf_token": token, "wave-wave": f"{ROUTE}|Oosterparkwijk|1", "wave-worker": name})
    confirm = client.post("/golf-plannen/bevestigen", data={"csrf_token": token, **plan_form()})
    assert assign.status_code == confirm.status_code == 404
    assert cohort.json("case", "list", "--assigned", name)["total"] == 0
    assert cohort.json("case", "list", "--state", "invited")["total"] == 4


def test_back_office_plans_waves_but_does_not_divide_the_work(app: Any, cohort: Env) -> None:
    web_member(app, cohort, "bob", "--role", "back_office", "--project", ROUTE)
    client = logged_in(app, "bob")
    home = client.get("/").text
    assert 'href="/golf-plannen"' in home and "Werkverdeling" not in home
    for path in PAGES[:-1]:
        assert client.get(path).status_code == 404
    page = client.get("/golf-plannen")
    preview = client.post("/golf-plannen", data=plan_form(page.text))
    assert preview.status_code == 200 and "Golf 1 in Oosterparkwijk" in preview.text
    assert 'href="/zaak/' not in preview.text  # back office reads no case file
    done = client.post("/golf-plannen/bevestigen", data=confirm_form(preview.text))
    assert done.status_code == 303
    assert cohort.json("case", "list", "--state", "invited")["total"] == 3
    assert "Werkverdeling" not in client.get("/golf-plannen").text.split("</nav>")[1]


def test_a_coordinator_of_another_project_sees_neither_its_workers_nor_its_waves(
        app: Any, cohort: Env) -> None:
    add_other_project(app, cohort)
    plan_wave(cohort)
    cohort.ok("case", "assign", "1", "piet")
    client = logged_in(app, "karin")
    work = client.get("/werkverdeling").text
    assert ">wim</a>" in work and "piet" not in work
    assert "El Amrani" not in client.get("/werkverdeling/medewerker/piet").text
    waves = client.get("/werkverdeling/golven")
    assert waves.status_code == 200 and "Oosterparkwijk" not in waves.text
    assert "geen golven met open zaken" in waves.text
    forged = client.post("/werkverdeling/golven", data={
        "csrf_token": csrf_of(work), "wave-wave": f"{ROUTE}|Oosterparkwijk|1",
        "wave-worker": "wim"})
    assert forged.status_code == 422 and "kies een golf uit de lijst" in forged.text
    assert cohort.json("case", "list", "--assigned", "wim")["total"] == 1
    assert ">wim</a>" not in logged_in(app, "kees").get("/werkverdeling").text
    plan = client.get("/golf-plannen").text
    assert "geen route die in golven wordt gepland" in plan
    refused = client.post("/golf-plannen", data=plan_form(plan))
    assert refused.status_code == 422 and "Kies een route" in refused.text
    assert "Golf 2" not in refused.text


def test_a_coordinator_assigns_a_wave_to_a_worker(app: Any, cohort: Env) -> None:
    wave = plan_wave(cohort)
    cohort.ok("case", "assign", str(wave["invitations"][0]["case_id"]), "piet")
    client = logged_in(app, "kees")
    page = client.get("/werkverdeling/golven")
    assert page.status_code == 200
    assert "Golf 1, Oosterparkwijk (Kansen in Kaart): 4 open, 3 zonder medewerker" in page.text
    answer = client.post("/werkverdeling/golven", data={
        "csrf_token": csrf_of(page.text), "wave-wave": f"{ROUTE}|Oosterparkwijk|1",
        "wave-worker": "piet"})
    assert answer.status_code == 303
    shown = client.get("/werkverdeling/golven").text
    assert "Golf 1 in Oosterparkwijk: 3 van de 4 open zaken toegewezen aan piet" in shown
    assert "1 had piet al" in shown
    assigned = cohort.json("case", "list", "--assigned", "piet")["cases"]
    assert sorted(c["id"] for c in assigned) == sorted(i["case_id"] for i in wave["invitations"])
    assert cohort.json("case", "show", str(assigned[-1]["id"]))["timeline"][-1]["actor"] == "kees"
    unknown = client.post("/werkverdeling/golven", data={
        "csrf_token": csrf_of(page.text), "wave-wave": f"{ROUTE}|Oosterparkwijk|1",
        "wave-worker": "nobody"})
    assert unknown.status_code == 422 and "Er is geen medewerker" in unknown.text
    assert 'value="Oosterparkwijk|1" selected' not in unknown.text  # the route is kept too
    assert f'value="{ROUTE}|Oosterparkwijk|1" selected' in unknown.text
    nobody = client.post("/werkverdeling/golven", data={
        "csrf_token": csrf_of(page.text), "wave-wave": f"{ROUTE}|Oosterparkwijk|1"})
    assert nobody.status_code == 422 and "Kies een medewerker" in nobody.text
    csrf = client.post("/werkverdeling/golven", data={
        "wave-wave": f"{ROUTE}|Oosterparkwijk|1", "wave-worker": "kees"})
    assert csrf.status_code == 400
    assert cohort.json("case", "list", "--assigned", "kees")["total"] == 0


def test_the_preview_writes_only_its_log_entry_and_the_confirmation_invites_that_plan(
        app: Any, cohort: Env) -> None:
    client = logged_in(app, "kees")
    page = client.get("/golf-plannen")
    assert page.status_code == 200 and "Voorbeeld tonen" in page.text
    before = events(cohort), log_rows(cohort, "kees")
    preview = client.post("/golf-plannen", data=plan_form(page.text))
    assert preview.status_code == 200
    assert "Golf 1 in Oosterparkwijk (Kansen in Kaart): 3 van de 3" in preview.text
    assert "Afspraken per dag" in preview.text and "Bevestigen: 3 mensen uitnodigen" in preview.text
    logged = log_rows(cohort, "kees")
    assert events(cohort) == before[0] and logged[:len(before[1])] == before[1]
    # The people the preview named: one listing, as 'cohort plan --dry-run' logs it.
    assert [(r.action, len(r.case_ids)) for r in logged[len(before[1]):]] == [
        ("plan preview", 3)]
    assert cohort.json("case", "list", "--state", "invited")["total"] == 0
    previewed = sorted(int(n) for n in re.findall(r'href="/zaak/(\d+)"', preview.text))
    done = client.post("/golf-plannen/bevestigen", data=confirm_form(preview.text))
    assert done.status_code == 303 and done.headers["Location"] == "/golf-plannen"
    said = client.get("/golf-plannen").text
    assert "Golf 1 in Oosterparkwijk: 3 van de 3 geselecteerde mensen uitgenodigd" in said
    invited = cohort.json("case", "list", "--state", "invited")["cases"]
    assert sorted(c["id"] for c in invited) == previewed
    # Sent again (the back button): the plan is not the same any more, nobody more invited.
    again = client.post("/golf-plannen/bevestigen", data=confirm_form(preview.text))
    assert again.status_code == 409
    assert cohort.json("case", "list", "--state", "invited")["total"] == 3


def test_a_stale_preview_is_refused_and_the_fresh_plan_shown(app: Any, cohort: Env) -> None:
    client = logged_in(app, "kees")
    preview = client.post("/golf-plannen", data=plan_form(client.get("/golf-plannen").text))
    other = plan_wave(cohort, size=2)  # another coordinator plans the same wijk meanwhile
    stale = client.post("/golf-plannen/bevestigen", data=confirm_form(preview.text))
    assert stale.status_code == 409 and "Het plan is veranderd sinds uw voorbeeld" in stale.text
    assert "Golf 2 in Oosterparkwijk" in stale.text
    assert cohort.json("case", "list", "--state", "invited")["total"] == other["invited"] == 2
    # The fresh preview's own confirmation goes through.
    fresh = client.post("/golf-plannen/bevestigen", data=confirm_form(stale.text))
    assert fresh.status_code == 303
    assert cohort.json("case", "list", "--state", "invited")["total"] == 5
    # A digest made up by hand is no better than a stale one.
    forged = confirm_form(stale.text)
    forged["digest"] = "0" * 64
    assert client.post("/golf-plannen/bevestigen", data=forged).status_code == 409


def test_planning_without_the_csrf_token_is_refused(app: Any, cohort: Env) -> None:
    client = logged_in(app, "kees")
    preview = client.post("/golf-plannen", data=plan_form(client.get("/golf-plannen").text))
    fields = MultiDict([(k, v) for k, v in confirm_form(preview.text).items(multi=True)
                        if k != "csrf_token"])
    answer = client.post("/golf-plannen/bevestigen", data=fields)
    assert answer.status_code == 400 and "Formulier verlopen" in answer.text
    assert client.post("/golf-plannen", data=plan_form()).status_code == 400
    assert cohort.json("case", "list", "--state", "invited")["total"] == 0


@pytest.mark.parametrize(("values", "reason"), [
    ({"plan-size": "veel"}, "Het aantal uitnodigingen is een heel getal van 1 tot en met 250"),
    ({"plan-size": "0"}, "Het aantal uitnodigingen is een heel getal"),
    ({"plan-from": "gisteren"}, "De eerste dag is geen datum"),
    ({"plan-from": "2020-01-06"}, "De eerste dag ligt in het verleden"),
    ({"plan-specialist": "piet"}, "bij naam of geef hun aantal, een van de twee"),
    ({"plan-specialists": ""}, "bij naam of geef hun aantal, een van de twee"),
    ({"plan-specialists": "", "plan-specialist": "ada"}, "Kies de specialisten uit de lijst"),
    ({"plan-wijk": "<b>Nergens</b>"}, "Kies een wijk met zaken van deze route"),
])
def test_a_bad_plan_is_refused_in_one_dutch_line_with_the_form_kept(
        app: Any, cohort: Env, values: dict[str, str], reason: str) -> None:
    client = logged_in(app, "kees")
    answer = client.post("/golf-plannen", data=plan_form(client.get("/golf-plannen").text,
                                                         **values))
    assert answer.status_code == 422 and reason in answer.text
    assert "Traceback" not in answer.text and "<b>Nergens" not in answer.text
    if "plan-size" in values:
        assert f'value="{values["plan-size"]}"' in answer.text
    assert cohort.json("case", "list", "--state", "invited")["total"] == 0


def test_named_specialists_are_booked_in_the_plan(app: Any, cohort: Env) -> None:
    cohort.ok("staff", "add", "ada", "--role", "admin")  # holds no conversations
    client = logged_in(app, "kees")
    page = client.get("/golf-plannen").text
    assert 'name="plan-specialist" value="piet"' in page and 'value="ada"' not in page
    preview = client.post("/golf-plannen", data=plan_form(
        page, **{"plan-specialists": "", "plan-specialist": "piet"}))
    assert preview.status_code == 200
    assert preview.text.count("<td class=\"ams-table__cell\">piet</td>") == 3
    assert client.post("/golf-plannen/bevestigen",
                       data=confirm_form(preview.text)).status_code == 303
    assert {a["specialist"] for c in cohort.json("case", "list", "--state", "invited")["cases"]
            for a in cohort.json("case", "show", str(c["id"]))["appointments"]} == {"piet"}


def test_a_coordinator_assigns_the_cases_ticked_on_a_list_all_or_none(
        app: Any, cohort: Env) -> None:
    add_other_project(app, cohort)
    wim_case = cohort.json("case", "list", "--assigned", "wim")["cases"][0]["id"]
    cohort.ok("case", "assign", "3", "kees")
    client = logged_in(app, "kees")
    page = client.get("/werkverdeling/zonder-medewerker")
    assert page.status_code == 200
    assert 'name="case" value="1"' in page.text and 'aria-label="Zaak 1 kiezen"' in page.text
    before = events(cohort)
    answer = client.post("/werkverdeling/toewijzen", data=MultiDict([
        ("csrf_token", csrf_of(page.text)), ("from", "-"), ("case", "1"), ("case", "2"),
        ("assign-worker", "piet")]))
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith("/werkverdeling/zonder-medewerker")
    shown = client.get("/werkverdeling/zonder-medewerker").text
    assert "2 van de 2 gekozen zaken toegewezen aan piet" in shown
    assert sorted(c["id"] for c in cohort.json("case", "list", "--assigned", "piet")["cases"]) \
        == [1, 2]
    assert events(cohort) == before + 2
    assert [r.case_ids for r in log_rows(cohort, "kees") if r.action == "assign"][-1] == [1, 2]

    # From kees's own list: his case 3 and case 1 (piet's now) to piet; 1 stays as it was.
    mine = client.get("/werkverdeling/medewerker/kees").text
    moved = client.post("/werkverdeling/toewijzen", data=MultiDict([
        ("csrf_token", csrf_of(mine)), ("from", "kees"), ("case", "3"), ("case", "1"),
        ("assign-worker", "piet")]))
    assert moved.status_code == 303
    assert "1 van de 2 gekozen zaken toegewezen aan piet; 1 had piet al" in \
        client.get("/werkverdeling/medewerker/kees").text

    # A case of another project in the selection: nothing is assigned, and the refusal
    # reads as for a case that does not exist.
    before = events(cohort)
    mixed = client.post("/werkverdeling/toewijzen", data=MultiDict([
        ("csrf_token", csrf_of(mine)), ("from", "-"), ("case", "4"),
        ("case", str(wim_case)), ("assign-worker", "piet")]))
    missing = client.post("/werkverdeling/toewijzen", data=MultiDict([
        ("csrf_token", csrf_of(mine)), ("from", "-"), ("case", "4"),
        ("case", "99999"), ("assign-worker", "piet")]))
    assert mixed.status_code == missing.status_code == 422
    said = [re.search(r"Niet toegewezen: ([^<]*)<", page.text).group(1)  # type: ignore[union-attr]
            for page in (mixed, missing)]
    assert said[0].replace(str(wim_case), "N") == said[1].replace("99999", "N"), said
    assert 'value="4" aria-label="Zaak 4 kiezen" checked' in mixed.text  # the ticks are kept
    assert events(cohort) == before
    none = client.post("/werkverdeling/toewijzen", data={
        "csrf_token": csrf_of(mine), "from": "-", "assign-worker": "piet"})
    assert none.status_code == 422 and "Kies de zaken die u wilt toewijzen" in none.text
    forged = client.post("/werkverdeling/toewijzen", data={"from": "-", "case": "4",
                                                            "assign-worker": "piet"})
    assert forged.status_code == 400
    worker = logged_in(app, "piet")  # a case worker divides no work
    refused = worker.post("/werkverdeling/toewijzen", data={
        "csrf_token": csrf_of(worker.get("/").text), "from": "-", "case": "4",
        "assign-worker": "piet"})
    assert refused.status_code == 404


def test_the_preview_says_in_dutch_who_is_kept_out_now(app: Any, cohort: Env) -> None:
    from helpers import set_person

    set_person(cohort, 1, flag="moved")  # known since the import: kept out at planning
    client = logged_in(app, "kees")
    preview = client.post("/golf-plannen", data=plan_form(client.get("/golf-plannen").text))
    assert preview.status_code == 200
    assert "Nu buiten de golf gehouden" in preview.text
    assert "Zaak 1: de persoon is verhuisd" in preview.text
