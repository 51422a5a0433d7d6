"""The admin's staff pages and every member's Mijn account page (casework serve), through
Flask's test client: who reaches them, what each form does, and the checks of the CLI."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import Env
from helpers import PASSWORD, Clock, csrf_of, same_page, staff, web_app, web_login

NEW_PASSWORD = "a brand new long password"


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC))


@pytest.fixture
def app(cohort: Env, clock: Clock) -> Any:
    """piet is a case worker in Oosterparkwijk; kees a coordinator, bo back office; anna
    the only admin. Everyone's password is PASSWORD."""
    from casework.logins import set_password

    cohort.ok("staff", "add", "kees", "--role", "coordinator")
    cohort.ok("staff", "add", "bo", "--role", "back_office")
    app = web_app(cohort, clock, piet="Oosterparkwijk")
    engine = app.extensions["casework.engine"]
    for name in ("kees", "bo"):
        set_password(engine, staff(engine, "anna"), name, PASSWORD)
    return app


def logged_in(app: Any, name: str = "anna", password: str = PASSWORD) -> Any:
    client = app.test_client()
    answer = web_login(client, name, password)
    assert answer.status_code == 302, answer.text
    return client


def token(client: Any, path: str = "/mijn-account") -> str:
    return csrf_of(client.get(path).text)


def members(env: Env, user: str = "anna") -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in env.json("staff", "list", user=user)}


def problem(html: str) -> str:
    found = re.search(r"Niet (?:vastgelegd|gewijzigd): ([^<]*)", html)
    assert found, html[:3000]
    return found.group(1)


STAFF_PAGES = [("get", "/medewerkers"), ("get", "/medewerkers/nieuw"),
               ("get", "/medewerkers/piet"), ("post", "/medewerkers/nieuw"),
               ("post", "/medewerkers/piet"), ("post", "/medewerkers/piet/wachtwoord"),
               ("post", "/medewerkers/piet/uitschakelen")]


@pytest.mark.parametrize("name", ["piet", "kees", "bo"])
def test_only_admins_reach_the_staff_pages(app: Any, cohort: Env, name: str) -> None:
    client = logged_in(app, name)
    home = client.get("/").text
    assert 'href="/mijn-account"' in home and 'href="/medewerkers"' not in home
    csrf = token(client)
    nowhere = same_page(client.get("/zaak/999999").text)
    for method, path in STAFF_PAGES:
        answer = getattr(client, method)(path, data={
            "csrf_token": csrf, "name": "eva", "roles": "admin", "password": NEW_PASSWORD,
            "repeat": NEW_PASSWORD})
        assert answer.status_code == 404, (method, path)
        assert same_page(answer.text) == nowhere
    listed = members(cohort)
    assert "eva" not in listed and listed["piet"]["active"]
    assert listed["piet"]["roles"] == ["case_worker"]
    assert web_login(app.test_client(), "piet").status_code == 302  # password unchanged


def test_an_admin_sees_the_staff_list_and_an_unknown_member_is_not_found(app: Any) -> None:
    client = logged_in(app)
    assert 'href="/medewerkers"' in client.get("/").text
    page = client.get("/medewerkers")
    assert page.status_code == 200 and "<h1" in page.text
    for name in ("anna", "piet", "kees", "bo"):
        assert f'href="/medewerkers/{name}"' in page.text
    row = page.text.split('href="/medewerkers/kees"', 1)[1].split("</tr>", 1)[0]
    assert "Coördinator" in row and "alle routes" in row and ">ja<" in row
    assert client.get("/medewerkers/nobody").status_code == 404


def test_an_admin_adds_a_case_worker_who_then_logs_in(app: Any, cohort: Env) -> None:
    client = logged_in(app)
    form = client.get("/medewerkers/nieuw").text
    assert 'value="Oosterparkwijk"' in form and 'value="kansen-in-kaart"' in form
    assert ">Kansen in Kaart</label>" in form  # the route's own label
    answer = client.post("/medewerkers/nieuw", data={
        "csrf_token": csrf_of(form), "name": "eva", "full_name": "Eva de Vries",
        "roles": "case_worker", "wijken": ["Oosterparkwijk", "Vinkhuizen"]})
    assert answer.status_code == 303 and answer.headers["Location"] == "/medewerkers/eva"
    assert members(cohort)["eva"] == {
        "name": "eva", "full_name": "Eva de Vries", "role": "case_worker",
        "roles": ["case_worker"], "wijken": ["Oosterparkwijk", "Vinkhuizen"],
        "projects": [], "active": True}
    page = client.get("/medewerkers/eva").text
    assert "Medewerker eva toegevoegd" in page
    done = client.post("/medewerkers/eva/wachtwoord", data={
        "csrf_token": csrf_of(page), "password": NEW_PASSWORD, "repeat": NEW_PASSWORD})
    assert done.status_code == 303
    eva = logged_in(app, "eva", NEW_PASSWORD)
    assert "Ingelogd als eva" in eva.get("/").text
    assert eva.get("/zaak/2").status_code == 200  # Vinkhuizen is hers now


def test_an_admin_changes_roles_wijken_projects_and_the_full_name(
        app: Any, cohort: Env) -> None:
    client = logged_in(app)
    page = client.get("/medewerkers/piet").text
    assert re.search(r'value="Oosterparkwijk" checked', page)
    answer = client.post("/medewerkers/piet", data={
        "csrf_token": csrf_of(page), "full_name": "Piet Bakker",
        "roles": ["case_worker", "coordinator"], "wijken": "Vinkhuizen",
        "projects": "participatiecoach"})
    assert answer.status_code == 303
    piet = members(cohort)["piet"]
    assert piet["roles"] == ["case_worker", "coordinator"]
    assert piet["wijken"] == ["Vinkhuizen"] and piet["projects"] == ["participatiecoach"]
    assert piet["full_name"] == "Piet Bakker"
    assert "Gegevens van piet opgeslagen" in client.get("/medewerkers/piet").text
    # No wijk and no project ticked: none stored (every route, as '--project -').
    client.post("/medewerkers/piet", data={"csrf_token": csrf_of(page),
                                           "roles": "case_worker"})
    piet = members(cohort)["piet"]
    assert piet["wijken"] == [] and piet["projects"] == [] and piet["full_name"] is None


def test_bad_staff_forms_say_why_in_one_line_and_keep_what_was_typed(
        app: Any, cohort: Env) -> None:
    client = logged_in(app)
    csrf = token(client, "/medewerkers/nieuw")
    base = {"csrf_token": csrf, "name": "eva", "full_name": "Eva <de> Vries",
            "roles": "case_worker", "wijken": "Oosterparkwijk"}
    cases = [({"roles": ""}, "Kies minstens één rol."),
             ({"name": ""}, "Vul een gebruikersnaam in."),
             ({"wijken": "Atlantis"}, "Onbekende wijk: 'Atlantis'."),
             ({"roles": "superuser"}, "Onbekende rol: 'superuser'."),
             ({"projects": "nergens"}, "Onbekend project"),
             ({"name": "piet"}, "Er is al een medewerker met de gebruikersnaam piet."),
             ({"name": "e va;"}, "is een korte inlognaam"),
             ({"name": "daily-run"}, "kies een andere naam")]
    for change, reason in cases:
        answer = client.post("/medewerkers/nieuw", data={**base, **change})
        assert answer.status_code == 422, change
        assert reason.replace("'", "&#39;") in problem(answer.text) or reason in problem(
            answer.text), (change, problem(answer.text))
        assert 'value="Eva &lt;de&gt; Vries"' in answer.text  # kept, as text
    assert "eva" not in members(cohort)
    edit = client.post("/medewerkers/piet", data={"csrf_token": csrf, "roles": ""})
    assert edit.status_code == 422 and "Kies minstens één rol" in edit.text
    assert members(cohort)["piet"]["roles"] == ["case_worker"]


def test_the_last_active_admin_keeps_the_role_and_stays_enabled(
        app: Any, cohort: Env) -> None:
    client = logged_in(app)
    page = client.get("/medewerkers/anna").text
    assert "Mijn account" in page and 'action="/medewerkers/anna/wachtwoord"' not in page
    csrf = csrf_of(page)
    demoted = client.post("/medewerkers/anna", data={"csrf_token": csrf,
                                                     "roles": "case_worker"})
    assert demoted.status_code == 422
    assert "anna is de enige actieve beheerder" in problem(demoted.text)
    disabled = client.post("/medewerkers/anna/uitschakelen", data={"csrf_token": csrf})
    assert disabled.status_code == 422
    assert "anna is de enige actieve beheerder" in problem(disabled.text)
    assert members(cohort)["anna"]["active"]
    # The CLI refuses it too; with a second admin it may be done.
    refused = cohort.run("staff", "disable", "anna")
    assert refused.exit_code == 1 and "only active admin" in refused.output
    cohort.ok("staff", "edit", "kees", "--role", "coordinator", "--role", "admin")
    assert client.post("/medewerkers/anna/uitschakelen",
                       data={"csrf_token": csrf}).status_code == 303
    assert not members(cohort, user="kees")["anna"]["active"]
    assert client.get("/").headers["Location"] == "/inloggen"  # anna is out


def test_disabling_a_member_ends_their_session_and_their_logins(app: Any, cohort: Env) -> None:
    piet = logged_in(app, "piet")
    admin = logged_in(app)
    answer = admin.post("/medewerkers/piet/uitschakelen",
                        data={"csrf_token": token(admin, "/medewerkers/piet")})
    assert answer.status_code == 303
    page = admin.get("/medewerkers/piet").text
    assert "piet is uitgeschakeld" in page and "uitschakelen</button>" not in page
    assert not members(cohort)["piet"]["active"]
    assert piet.get("/").headers["Location"] == "/inloggen"
    assert web_login(app.test_client(), "piet").status_code == 401


def test_an_admin_sets_a_password_which_ends_the_members_sessions(app: Any) -> None:
    piet = logged_in(app, "piet")
    admin = logged_in(app)
    csrf = token(admin, "/medewerkers/piet")
    short = admin.post("/medewerkers/piet/wachtwoord", data={
        "csrf_token": csrf, "password": "short", "repeat": "short"})
    assert short.status_code == 422 and "minstens 12" in short.text
    differ = admin.post("/medewerkers/piet/wachtwoord", data={
        "csrf_token": csrf, "password": NEW_PASSWORD, "repeat": NEW_PASSWORD + "!"})
    assert differ.status_code == 422 and "niet gelijk" in differ.text
    assert piet.get("/").status_code == 200  # nothing changed yet
    done = admin.post("/medewerkers/piet/wachtwoord", data={
        "csrf_token": csrf, "password": NEW_PASSWORD, "repeat": NEW_PASSWORD})
    assert done.status_code == 303
    assert NEW_PASSWORD not in admin.get("/medewerkers/piet").text
    assert piet.get("/").headers["Location"] == "/inloggen"
    assert web_login(app.test_client(), "piet").status_code == 401
    logged_in(app, "piet", NEW_PASSWORD)


@pytest.mark.parametrize("name", ["piet", "kees", "bo", "anna"])
def test_every_member_changes_their_own_password_and_stays_logged_in(
        app: Any, name: str) -> None:
    elsewhere = logged_in(app, name)
    client = logged_in(app, name)
    page = client.get("/mijn-account")
    assert page.status_code == 200 and "<h1" in page.text
    assert 'autocomplete="current-password"' in page.text
    csrf = csrf_of(page.text)
    wrong = client.post("/mijn-account", data={
        "csrf_token": csrf, "current": "not my password", "password": NEW_PASSWORD,
        "repeat": NEW_PASSWORD})
    assert wrong.status_code == 422 and "huidige wachtwoord klopt niet" in wrong.text
    differ = client.post("/mijn-account", data={
        "csrf_token": csrf, "current": PASSWORD, "password": NEW_PASSWORD,
        "repeat": "something else entirely"})
    assert differ.status_code == 422 and "niet gelijk" in differ.text
    done = client.post("/mijn-account", data={
        "csrf_token": csrf, "current": PASSWORD, "password": NEW_PASSWORD,
        "repeat": NEW_PASSWORD})
    assert done.status_code == 303
    assert "Uw wachtwoord is gewijzigd" in client.get("/mijn-account").text
    assert elsewhere.get("/").headers["Location"] == "/inloggen"
    assert web_login(app.test_client(), name).status_code == 401
    logged_in(app, name, NEW_PASSWORD)


def test_a_member_changes_nobody_elses_password(app: Any) -> None:
    piet = logged_in(app, "piet")
    csrf = token(piet)
    # Mijn account only ever changes the password of whoever is logged in.
    piet.post("/mijn-account", data={"csrf_token": csrf, "current": PASSWORD,
                                      "name": "kees", "password": NEW_PASSWORD,
                                      "repeat": NEW_PASSWORD})
    logged_in(app, "kees")
    assert piet.post("/medewerkers/kees/wachtwoord", data={
        "csrf_token": csrf, "password": NEW_PASSWORD, "repeat": NEW_PASSWORD}
    ).status_code == 404
    logged_in(app, "kees")


def test_staff_forms_need_the_csrf_token(app: Any, cohort: Env) -> None:
    client = logged_in(app)
    posts = {"/medewerkers/nieuw": {"name": "eva", "roles": "case_worker"},
             "/medewerkers/piet": {"roles": "admin"},
             "/medewerkers/piet/wachtwoord": {"password": NEW_PASSWORD,
                                              "repeat": NEW_PASSWORD},
             "/medewerkers/piet/uitschakelen": {},
             "/mijn-account": {"current": PASSWORD, "password": NEW_PASSWORD,
                               "repeat": NEW_PASSWORD}}
    for path, data in posts.items():
        answer = client.post(path, data=data)
        assert answer.status_code == 400 and "Formulier verlopen" in answer.text, path
    listed = members(cohort)
    assert "eva" not in listed and listed["piet"] == {**listed["piet"], "active": True,
                                                      "roles": ["case_worker"]}
    logged_in(app, "piet")
    logged_in(app)


def test_staff_pages_escape_names_and_carry_no_inline_script_or_style(
        app: Any, cohort: Env) -> None:
    cohort.ok("staff", "edit", "piet", "--full-name", '<script>alert("x")</script>')
    client = logged_in(app)
    for path in ("/medewerkers", "/medewerkers/piet", "/medewerkers/nieuw", "/mijn-account"):
        html = client.get(path).text
        assert "<script" not in html and "<style" not in html and " style=" not in html
        assert not re.search(r"\son[a-z]+=", html)
    assert "&lt;script&gt;" in client.get("/medewerkers").text


# --- the processing log ---------------------------------------------------------------------


def log_search(client: Any, **fields: str) -> Any:
    page = client.get("/verwerkingslog")
    data = {"log-case": "", "log-staff": "", "log-since": "", "log-bsn": "", **fields}
    return client.post("/verwerkingslog", data={"csrf_token": csrf_of(page.text), **data})


def test_an_admin_reads_the_processing_log_by_case_staff_and_bsn(app: Any,
                                                                  cohort: Env) -> None:
    from helpers import bsn_of

    worker = logged_in(app, "piet")
    assert worker.get("/zaak/1").status_code == 200
    admin = logged_in(app)
    assert ">Verwerkingslog</a>" in admin.get("/").text
    by_case = log_search(admin, **{"log-case": "1"})
    assert by_case.status_code == 200
    assert "Over zaak 1:" in by_case.text and "<td class=\"ams-table__cell\">piet</td>" in \
        by_case.text and "zaak bekeken" in by_case.text
    by_staff = log_search(admin, **{"log-staff": "piet", "log-since": "01-01-2026"})
    assert "Over medewerker piet vanaf 1 januari 2026" in by_staff.text
    by_bsn = log_search(admin, **{"log-bsn": bsn_of(1)})
    assert by_bsn.status_code == 200 and "Over de persoon met het opgegeven BSN" in by_bsn.text
    assert "zaak bekeken" in by_bsn.text and bsn_of(1) not in by_bsn.text
    # Reading the log about a case is logged too, as 'casework audit' logs it.
    mine = cohort.json("audit", "--staff", "anna")
    assert [e["case_ids"] for e in mine if e["action"] == "audit"][:1] == [[1]]
    wrong = log_search(admin, **{"log-bsn": "123456789"})
    assert wrong.status_code == 422 and "Dat is geen geldig BSN" in wrong.text
    assert "123456789" not in wrong.text
    both = log_search(admin, **{"log-case": "1", "log-staff": "piet"})
    assert both.status_code == 422 and "Vul één van zaaknummer, medewerker of BSN in" in both.text
    since = log_search(admin, **{"log-case": "1", "log-since": "2026-01-01"})
    assert since.status_code == 422 and "hoort bij een medewerker" in since.text
    unknown = log_search(admin, **{"log-staff": "nobody"})
    assert unknown.status_code == 422 and "Kies een medewerker uit de lijst" in unknown.text


@pytest.mark.parametrize("name", ["piet", "kees", "bo"])
def test_only_admins_reach_the_processing_log(app: Any, name: str) -> None:
    client = logged_in(app, name)
    assert "Verwerkingslog" not in client.get("/").text
    csrf = csrf_of(client.get("/").text)
    assert client.get("/verwerkingslog").status_code == 404
    for path in ("/verwerkingslog", "/verwerkingslog/controle"):
        assert client.post(path, data={"csrf_token": csrf, "log-case": "1"}).status_code == 404


def test_the_check_says_whether_the_log_is_intact(app: Any, cohort: Env) -> None:
    from sqlalchemy import update

    from casework.models import AccessLog

    admin = logged_in(app)
    assert admin.get("/zaak/1").status_code == 200
    page = admin.get("/verwerkingslog")
    intact = admin.post("/verwerkingslog/controle", data={"csrf_token": csrf_of(page.text)})
    assert intact.status_code == 200 and "De log is intact" in intact.text
    from conftest import tamper

    tamper(cohort, update(AccessLog).where(AccessLog.id == 1).values(actor="mallory"))
    broken = admin.post("/verwerkingslog/controle", data={"csrf_token": csrf_of(page.text)})
    assert "De log is niet intact" in broken.text and "Verwerkingslog, regel 1" in broken.text


# --- privacy ----------------------------------------------------------------------------------


def test_an_admin_downloads_a_persons_data_and_sees_what_a_purge_would_do(
        app: Any, cohort: Env) -> None:
    import json

    from helpers import bsn_of

    admin = logged_in(app)
    page = admin.get("/privacy")
    assert page.status_code == 200 and ">Privacy</a>" in page.text
    assert "Nu: 0 mensen (0 zaken)." in page.text and "Opschonen</button>" not in page.text
    answer = admin.post("/privacy/inzage", data={"csrf_token": csrf_of(page.text),
                                                 "bsn": bsn_of(1)})
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"] == 'attachment; filename="inzage.json"'
    assert answer.headers["Cache-Control"] == "no-store"
    data = json.loads(answer.data)
    assert data["person"]["bsn"] == bsn_of(1) and [c["id"] for c in data["cases"]] == [1]
    assert [e["case_ids"] for e in cohort.json("audit", "--case", "1")
            if e["action"] == "export"] == [[1]]
    for bsn, said in (("123456789", "Dat is geen geldig BSN"),
                      ("", "Vul het BSN van de persoon in"),
                      ("999999990", "Over iemand met dat BSN is niets opgeslagen")):
        refused = admin.post("/privacy/inzage", data={"csrf_token": csrf_of(page.text),
                                                      "bsn": bsn})
        assert refused.status_code == 422 and said in refused.text, bsn
        assert not bsn or bsn not in refused.text
    unticked = admin.post("/privacy/opschonen", data={"csrf_token": csrf_of(page.text)})
    assert unticked.status_code == 422 and "Vink aan" in unticked.text
    done = admin.post("/privacy/opschonen", data={"csrf_token": csrf_of(page.text),
                                                  "sure": "ja"})
    assert done.status_code == 303
    assert "0 mensen (0 zaken) geanonimiseerd" in admin.get("/privacy").text


@pytest.mark.parametrize("name", ["piet", "kees", "bo"])
def test_only_admins_reach_the_privacy_page(app: Any, name: str) -> None:
    from helpers import bsn_of

    client = logged_in(app, name)
    assert ">Privacy</a>" not in client.get("/").text
    csrf = csrf_of(client.get("/").text)
    assert client.get("/privacy").status_code == 404
    for path in ("/privacy/inzage", "/privacy/opschonen"):
        assert client.post(path, data={"csrf_token": csrf, "bsn": bsn_of(1),
                                       "sure": "ja"}).status_code == 404
