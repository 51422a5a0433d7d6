"""The web front (casework serve) through Flask's test client: login, lockout, idle timeout,
CSRF, scope, headers, escaping and the processing log."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import Env
from helpers import (
    PASSWORD,
    Clock,
    bsn_of,
    csrf_of,
    query,
    same_page,
    set_person,
    web_app,
    web_login,
)

# Case 1 of the sample cohort lives in Oosterparkwijk, case 2 in Vinkhuizen.
OWN, OTHER = 1, 2


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC))


@pytest.fixture
def app(cohort: Env, clock: Clock) -> Any:
    return web_app(cohort, clock, piet="Oosterparkwijk")


def logged_in(app: Any, name: str = "piet") -> Any:
    client = app.test_client()
    answer = web_login(client, name)
    assert answer.status_code == 302 and answer.headers["Location"] == "/", answer.text
    return client


def shows(log_rows: list[Any], actor: str, action: str) -> list[Any]:
    return [r for r in log_rows if r.actor == actor and r.action == action]


def access_log(env: Env) -> list[Any]:
    from sqlalchemy import select

    from casework.models import AccessLog

    return query(env, select(AccessLog.actor, AccessLog.action, AccessLog.case_ids))


def test_pages_need_a_login_and_a_login_leads_to_my_work(app: Any) -> None:
    client = app.test_client()
    for path in ("/", "/zoeken", f"/zaak/{OWN}"):
        answer = client.get(path)
        assert answer.status_code == 302 and answer.headers["Location"] == "/inloggen"
    page = client.get("/inloggen")
    assert page.status_code == 200 and '<html lang="nl">' in page.text
    assert "Na 5 mislukte pogingen op rij" in page.text
    client = logged_in(app)
    work = client.get("/")
    assert work.status_code == 200
    assert "<h1" in work.text and "Mijn werk" in work.text and "Ingelogd als piet" in work.text


def test_the_session_cookie_is_httponly_strict_and_secure_over_tls(app: Any) -> None:
    client = app.test_client()
    answer = web_login(client, "piet")
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    tls = app.test_client()
    page = tls.get("/inloggen", base_url="https://localhost")
    # Over TLS the form must come from this site (the Referer, sent to the same origin only).
    answer = tls.post("/inloggen", base_url="https://localhost",
                      headers={"Referer": "https://localhost/inloggen"},
                      data={"csrf_token": csrf_of(page.text), "name": "piet",
                            "password": PASSWORD})
    assert answer.status_code == 302
    assert "Secure" in answer.headers["Set-Cookie"]
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=")


def test_logging_out_ends_the_session(app: Any) -> None:
    client = logged_in(app)
    page = client.get("/")
    answer = client.post("/uitloggen", data={"csrf_token": csrf_of(page.text)})
    assert answer.status_code == 302 and answer.headers["Location"] == "/inloggen"
    assert client.get("/").headers["Location"] == "/inloggen"


def test_a_wrong_password_and_an_unknown_name_get_the_same_answer(app: Any) -> None:
    wrong = web_login(app.test_client(), "piet", "not the password at all")
    nobody = web_login(app.test_client(), "nobody", "not the password at all")
    assert wrong.status_code == nobody.status_code == 401
    assert "Onbekende gebruikersnaam of verkeerd wachtwoord" in wrong.text
    assert same_page(wrong.text).replace("piet", "nobody") == same_page(nobody.text)


def test_five_failures_in_a_row_lock_the_account_for_fifteen_minutes(
        app: Any, clock: Clock) -> None:
    client = app.test_client()
    for _ in range(5):
        assert web_login(client, "piet", "wrong password here").status_code == 401
    # Locked: the right password does not let piet in now, and says nothing more.
    locked = web_login(client, "piet")
    assert locked.status_code == 401 and "Onbekende gebruikersnaam" in locked.text
    clock.tick(minutes=14)
    assert web_login(client, "piet").status_code == 401
    clock.tick(minutes=2)
    assert web_login(client, "piet").status_code == 302
    # A success starts the count again: four failures do not lock.
    other = app.test_client()
    for _ in range(4):
        web_login(other, "piet", "wrong password here")
    assert web_login(other, "piet").status_code == 302


def test_a_session_ends_after_fifteen_idle_minutes(app: Any, clock: Clock) -> None:
    client = logged_in(app)
    clock.tick(minutes=14)
    assert client.get("/").status_code == 200
    clock.tick(minutes=14)  # 14 minutes after the last request: still in
    assert client.get("/").status_code == 200
    clock.tick(minutes=16)
    answer = client.get("/")
    assert answer.status_code == 302 and answer.headers["Location"] == "/inloggen"
    login = client.get("/inloggen")
    assert "15 minuten niets" in login.text
    assert client.get("/").headers["Location"] == "/inloggen"


def test_a_disabled_member_is_logged_out_at_the_next_request(app: Any, cohort: Env) -> None:
    client = logged_in(app)
    cohort.ok("staff", "disable", "piet")
    assert client.get("/").headers["Location"] == "/inloggen"


def test_a_post_without_the_csrf_token_is_refused(app: Any, cohort: Env) -> None:
    client = app.test_client()
    refused = client.post("/inloggen", data={"name": "piet", "password": PASSWORD})
    assert refused.status_code == 400 and "Formulier verlopen" in refused.text
    assert client.get("/").status_code == 302  # not logged in
    client = logged_in(app)
    search = client.post("/zoeken", data={"q": bsn_of(OWN)})
    assert search.status_code == 400
    assert client.post("/uitloggen").status_code == 400
    assert client.get("/").status_code == 200  # still logged in
    assert not shows(access_log(cohort), "piet", "find")  # nothing was looked up


def test_a_case_worker_cannot_open_a_case_outside_their_wijk_by_editing_the_url(
        app: Any) -> None:
    client = logged_in(app)
    own = client.get(f"/zaak/{OWN}")
    assert own.status_code == 200 and "El Amrani" in own.text
    other = client.get(f"/zaak/{OTHER}")
    missing = client.get("/zaak/999999")
    huge = client.get("/zaak/99999999999999999999")
    assert other.status_code == missing.status_code == huge.status_code == 404
    assert same_page(other.text) == same_page(missing.text) == same_page(huge.text)
    assert "Bosch" not in other.text


def test_search_finds_only_cases_in_scope_and_keeps_the_bsn_out_of_urls(
        app: Any, cohort: Env) -> None:
    client = logged_in(app)
    page = client.get("/zoeken")
    token = csrf_of(page.text)
    found = client.post("/zoeken", data={"csrf_token": token, "q": bsn_of(OWN)})
    assert found.status_code == 200 and f'href="/zaak/{OWN}"' in found.text
    assert bsn_of(OWN) not in found.text.replace(f'value="{bsn_of(OWN)}"', "")
    hidden = client.post("/zoeken", data={"csrf_token": token, "q": bsn_of(OTHER)})
    assert "Geen zaak gevonden die u mag zien" in hidden.text
    by_name = client.post("/zoeken", data={"csrf_token": token, "q": "Bosch"})
    assert f'href="/zaak/{OTHER}"' not in by_name.text
    bad = client.post("/zoeken", data={"csrf_token": token, "q": "123"})
    assert bad.status_code == 200 and "geen geldige zoekvraag" in bad.text
    # A GET never searches: a BSN in a URL finds nothing and is not echoed.
    get = client.get(f"/zoeken?q={bsn_of(OWN)}")
    assert "Resultaten" not in get.text and bsn_of(OWN) not in get.text


def test_the_case_page_writes_the_processing_log_entry_of_case_show(
        app: Any, cohort: Env) -> None:
    client = logged_in(app)
    before = shows(access_log(cohort), "piet", "show")
    assert client.get(f"/zaak/{OWN}").status_code == 200
    after = shows(access_log(cohort), "piet", "show")
    assert len(after) == len(before) + 1 and after[-1].case_ids == [OWN]
    cli = cohort.ok("case", "show", str(OWN), user="piet")
    assert cli.exit_code == 0
    assert len(shows(access_log(cohort), "piet", "show")) == len(after) + 1
    # A refused case leaves no entry that says it exists.
    client.get(f"/zaak/{OTHER}")
    assert not [r for r in access_log(cohort) if r.actor == "piet" and OTHER in r.case_ids]


def test_every_page_carries_the_security_headers(app: Any) -> None:
    client = logged_in(app)
    for path in ("/", "/zoeken", f"/zaak/{OWN}", "/inloggen", "/zaak/999999"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "form-action 'self';" in csp  # no single sign-on: this site only
        assert "unsafe-inline" not in csp
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Cache-Control"] == "no-store"


def test_pages_have_no_inline_script_or_style(app: Any) -> None:
    client = logged_in(app)
    for path in ("/", "/zoeken", f"/zaak/{OWN}"):
        html = client.get(path).text
        assert "<script" not in html and "<style" not in html and " style=" not in html
        assert not re.search(r"\son[a-z]+=", html)


def test_a_hostile_name_renders_as_text(app: Any, cohort: Env) -> None:
    set_person(cohort, OWN, surname='<script>alert("x")</script><img src=x onerror=alert(1)>')
    client = logged_in(app)
    html = client.get(f"/zaak/{OWN}").text
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


def test_my_work_lists_my_open_cases_with_their_state_labels(app: Any, cohort: Env) -> None:
    cohort.ok("case", "assign", str(OWN), "piet")
    client = logged_in(app)
    html = client.get("/").text
    assert f'href="/zaak/{OWN}"' in html and "El Amrani" in html
    assert "Geselecteerd" in html or "Mijn open zaken" in html


def test_the_theme_sets_the_colours_and_a_bad_theme_is_refused(cohort: Env) -> None:
    from casework.config import load_settings
    from casework.errors import ConfigError
    from casework.web import create_app

    config = cohort.config
    text = config.read_text(encoding="utf-8")
    config.write_text(text + '\n[web.theme]\ncolor-primary = "#00811f"\n', encoding="utf-8")
    app = create_app(load_settings(config), secret_key=b"k" * 64)
    css = app.test_client().get("/huisstijl.css")
    assert css.status_code == 200 and "--cw-color-primary: #00811f;" in css.text
    config.write_text(text + '\n[web.theme]\ncolor-primary = "red; } body { x"\n',
                      encoding="utf-8")
    with pytest.raises(ConfigError, match="color-primary must be a colour"):
        load_settings(config)


def test_staff_set_password_by_admins_or_for_oneself(cohort: Env) -> None:
    cohort.ok("staff", "add", "piet", "--role", "case_worker", "--wijk", "Beijum")
    cohort.ok("staff", "add", "kees", "--role", "coordinator")
    done = cohort.ok("staff", "set-password", "piet", "--password-stdin", input=PASSWORD + "\n")
    assert "Password of piet set" in done.output
    own = cohort.run("staff", "set-password", "kees", "--password-stdin", user="kees",
                     input="another long password\n")
    assert own.exit_code == 0
    other = cohort.run("staff", "set-password", "piet", "--password-stdin", user="kees",
                       input="a password for piet\n")
    assert other.exit_code == 1 and "may not manage staff" in other.output
    short = cohort.run("staff", "set-password", "piet", "--password-stdin", input="short\n")
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    assert "short" not in short.output.replace("short\n", "")
    prompted = cohort.run("staff", "set-password", "piet",
                          input="prompted password 1\nprompted password 1\n")
    assert prompted.exit_code == 0 and "prompted password" not in prompted.output
    unknown = cohort.run("staff", "set-password", "nobody", "--password-stdin",
                         input=PASSWORD + "\n")
    assert unknown.exit_code == 1 and "no staff member" in unknown.output


@pytest.mark.real_hashes
def test_passwords_are_stored_as_argon2id_hashes_with_the_production_parameters(
        cohort: Env) -> None:
    """The other tests hash with cheap parameters (tests/conftest.py quick_hashes); here the
    hasher the web front uses in production: argon2id, 64 MiB, three passes, and a login
    with it works."""
    from sqlalchemy import select

    from casework.models import Staff

    app = web_app(cohort, piet="Beijum")
    stored = query(cohort, select(Staff.password_hash).where(Staff.name == "piet"))[0][0]
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PASSWORD not in stored
    assert web_login(app.test_client(), "piet").status_code == 302


def step_form(html: str, trigger: str) -> dict[str, str]:
    """The hidden fields of a step's form on the case page (CSRF token and case version)."""
    start = html.index(f"/stap/{trigger}\"")
    part = html[start:html.index("</form>", start)]
    return {"csrf_token": csrf_of(part), "version": re.search(
        r'name="version" value="(\d+)"', part).group(1)}


def test_the_case_page_offers_the_steps_the_route_allows_and_takes_one(
        app: Any, cohort: Env) -> None:
    client = logged_in(app)
    html = client.get(f"/zaak/{OWN}").text
    assert "Wat nu kan" in html and "Uitnodigen met een voorgestelde afspraak" in html
    assert 'type="datetime-local"' in html  # the appointment field
    assert "Afspraak verzetten" not in html  # a step of another state is not offered
    fields = step_form(html, "invite")
    answer = client.post(f"/zaak/{OWN}/stap/invite",
                         data={**fields, "invite-appointment": "2100-01-04T10:00",
                               "invite-note": "per telefoon afgesproken"})
    assert answer.status_code == 303 and answer.headers["Location"] == f"/zaak/{OWN}"
    page = client.get(f"/zaak/{OWN}").text
    assert "De stand is nu: Uitgenodigd" in page and "per telefoon afgesproken" in page
    assert "Afspraak verzetten" in page
    shown = cohort.json("case", "show", str(OWN))
    assert shown["state"] == "invited" and shown["timeline"][-1]["actor"] == "piet"


def test_a_bad_value_is_refused_with_the_reason_and_the_form_kept(app: Any) -> None:
    client = logged_in(app)
    fields = step_form(client.get(f"/zaak/{OWN}").text, "invite")
    answer = client.post(f"/zaak/{OWN}/stap/invite",
                         data={**fields, "invite-appointment": "morgen",
                               "invite-note": "mijn notitie"})
    assert answer.status_code == 422
    assert "Niet vastgelegd:" in answer.text and "appointment" in answer.text
    assert "mijn notitie</textarea>" in answer.text


def test_a_stale_form_shows_the_conflict_and_the_fresh_case(app: Any, cohort: Env) -> None:
    client = logged_in(app)
    fields = step_form(client.get(f"/zaak/{OWN}").text, "invite")
    cohort.ok("case", "advance", str(OWN), "invite", "--set", "appointment=2100-01-05 10:00")
    answer = client.post(f"/zaak/{OWN}/stap/decline", data={**fields})
    assert answer.status_code == 409
    assert "Iemand anders heeft deze zaak gewijzigd" in answer.text
    assert "<strong>Uitgenodigd</strong>" in answer.text
    assert cohort.json("case", "show", str(OWN))["state"] == "invited"


def test_a_blocked_step_shows_the_rules_reason_in_dutch(app: Any, cohort: Env) -> None:
    """The page says why in Dutch, without command-line words; `case triggers --json` keeps
    its English reason and adds the Dutch one."""
    from helpers import invite

    invite(cohort, OWN)
    cohort.ok("case", "advance", str(OWN), "hold_conversation",
              "--set", "classification=work_potential",
              "--set", "participation_potential=self")
    html = logged_in(app).get(f"/zaak/{OWN}").text
    reason = html.split("Kan nu niet:", 1)[1].split("</li>", 1)[0]
    assert "deelt gegevens met een partner" in reason and "toestemming" in reason
    assert "casework" not in reason and "--" not in reason and "consent" not in reason
    refer = next(t for t in cohort.json("case", "triggers", str(OWN))["triggers"]
                 if t["trigger"] == "refer")
    assert "(rule consent)" in refer["reason"] and "toestemming" in refer["reason_nl"]


def test_a_refused_value_is_said_in_dutch_on_the_form(app: Any) -> None:
    client = logged_in(app)
    fields = step_form(client.get(f"/zaak/{OWN}").text, "invite")
    answer = client.post(f"/zaak/{OWN}/stap/invite", data={**fields,
                         "invite-appointment": "2000-01-04T10:00"})
    assert answer.status_code == 422
    problem = answer.text.split("Niet vastgelegd:", 1)[1].split("</p>", 1)[0]
    assert "moet een datum met tijd van" in problem or "afspraak ligt voor" in problem
    assert "--set" not in problem and "field" not in problem


def test_steps_on_a_case_out_of_scope_are_the_same_404(app: Any) -> None:
    client = logged_in(app)
    fields = step_form(client.get(f"/zaak/{OWN}").text, "invite")
    other = client.post(f"/zaak/{OTHER}/stap/invite", data={**fields,
                        "invite-appointment": "2100-01-04T10:00"})
    missing = client.post("/zaak/999999/stap/invite", data={**fields})
    assert other.status_code == missing.status_code == 404
    assert same_page(other.text) == same_page(missing.text)


def test_the_case_page_lists_the_letters_of_the_case(app: Any, cohort: Env) -> None:
    from helpers import invite

    invite(cohort, OWN)
    html = logged_in(app).get(f"/zaak/{OWN}").text
    letters = html.split(">Brieven</h2>", 1)[1].split("</ul>", 1)[0]
    assert "uitnodiging" in letters and "in de wachtrij" in letters
    assert [letter["template"] for letter in cohort.json("case", "show", str(OWN))["letters"]]


def test_casework_serve_hands_the_app_to_waitress(cohort: Env,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import waitress

    served: dict[str, Any] = {}

    def serve(app: Any, **kw: Any) -> None:
        # While it serves, SQLite's log is copied aside (a form never waits for that copy).
        checkpointing = any(t.name == "casework-checkpoint" for t in threading.enumerate())
        served.update(app=app, checkpointing=checkpointing, **kw)

    monkeypatch.setattr(waitress, "serve", serve)
    result = cohort.run("serve", "--port", "8123", user=None)
    assert result.exit_code == 0, result.output
    assert served["checkpointing"] is cohort.database_url.startswith("sqlite")
    assert not any(t.name == "casework-checkpoint" for t in threading.enumerate())
    assert served["host"] == "127.0.0.1" and served["port"] == 8123
    assert served["app"].name == "casework.web"
    assert "http://127.0.0.1:8123/" in result.output
    assert (cohort.config.parent / "web-secret.key").stat().st_mode & 0o077 == 0
    assert cohort.run("serve", "--port", "0", user=None).exit_code == 2


def consent(client: Any, case_id: int, token: str, scope: str, how: str, action: str) -> Any:
    """Post the case page's consent form."""
    return client.post(f"/zaak/{case_id}/toestemming", data={
        "csrf_token": token, "consent-scope": scope, "consent-how": how, "action": action})


def test_consent_is_granted_and_withdrawn_on_the_case_page(app: Any, cohort: Env) -> None:
    client = logged_in(app)
    html = client.get(f"/zaak/{OWN}").text
    assert "gegevens delen met het WIJ-team" in html
    token = csrf_of(html)
    granted = consent(client, OWN, token, "share:wij_team", "phone", "grant")
    assert granted.status_code == 303
    page = client.get(f"/zaak/{OWN}").text
    assert "Toestemming gegeven vastgelegd" in page
    assert "gegevens delen met het WIJ-team (share:wij_team): gegeven" in page
    assert cohort.json("consent", "list", str(OWN))["current"] == {"share:wij_team": True}
    consent(client, OWN, token, "share:wij_team", "letter", "withdraw")
    assert cohort.json("consent", "list", str(OWN))["current"] == {"share:wij_team": False}
    unknown = consent(client, OWN, token, "share:nobody", "phone", "grant")
    assert unknown.status_code == 422 and "Niet vastgelegd" in unknown.text
    other = consent(client, OTHER, token, "share:wij_team", "phone", "grant")
    assert other.status_code == 404
    assert cohort.json("consent", "list", str(OTHER))["current"] == {}


def task_form(html: str, task_id: int) -> dict[str, str]:
    start = html.index(f"/taak/{task_id}/klaar\"")
    part = html[start:html.index("</form>", start)]
    return {"csrf_token": csrf_of(part), "case": re.search(
        r'name="case" value="(\d+)"', part).group(1)}


def test_a_call_is_finished_on_the_case_page_and_its_result_moves_the_case(
        app: Any, cohort: Env, clock: Clock) -> None:
    from helpers import follow_up_call, invite, task_of

    invite(cohort, OWN)
    reminder = task_of(cohort, OWN, "reminder_call")
    client = logged_in(app)
    html = client.get(f"/zaak/{OWN}").text
    assert "Afronden: Herinnering bellen" in html and ">verkeerd nummer</option>" in html
    answer = client.post(f"/taak/{reminder['id']}/klaar", data={
        **task_form(html, reminder["id"]), f"task-{reminder['id']}-outcome": "reached",
        f"task-{reminder['id']}-note": "komt graag"})
    assert answer.status_code == 303 and answer.headers["Location"] == f"/zaak/{OWN}"
    done = task_of(cohort, OWN, "reminder_call", status="done")
    assert done["outcome"] == "reached" and done["note"] == "komt graag"

    call = follow_up_call(cohort, 4)  # Selwerd: not piet's
    refused = client.post(f"/taak/{call['id']}/klaar", data={
        **task_form(html, reminder["id"]), f"task-{call['id']}-outcome": "reached"})
    assert refused.status_code == 404
    cohort.ok("staff", "edit", "piet", "--wijk", "Oosterparkwijk", "--wijk", "Selwerd")
    clock.set(datetime.now(UTC))  # after the steps the CLI took
    html = client.get("/zaak/4").text
    assert ">taking_steps</option>" in html
    wrong = client.post(f"/taak/{call['id']}/klaar", data={
        **task_form(html, call["id"]), f"task-{call['id']}-outcome": "done"})
    assert wrong.status_code == 422
    assert "kent de uitkomst gedaan niet; wel: bereikt" in wrong.text
    # The step the result takes is refused by a rule: its reason in Dutch, nothing done.
    cohort.ok("consent", "withdraw", "4", "share:wij_team", "--how", "phone")
    clock.set(datetime.now(UTC))
    html = client.get("/zaak/4").text
    blocked = client.post(f"/taak/{call['id']}/klaar", data={
        **task_form(html, call["id"]), f"task-{call['id']}-outcome": "reached",
        f"task-{call['id']}-result": "to_social_team"})
    assert blocked.status_code == 422
    reason = re.findall(r"Niet vastgelegd: ([^<]*)", blocked.text)
    assert reason and "toestemming" in reason[0] and "consent" not in reason[0], reason
    assert task_of(cohort, 4, "follow_up_call")["status"] == "open"
    answer = client.post(f"/taak/{call['id']}/klaar", data={
        **task_form(html, call["id"]), f"task-{call['id']}-outcome": "reached",
        f"task-{call['id']}-result": "taking_steps"})
    assert answer.status_code == 303, re.findall(r"Niet vastgelegd: [^<]*", answer.text)
    assert cohort.json("case", "show", "4")["state"] == "closed"


def test_contact_data_is_corrected_on_the_case_page(app: Any, cohort: Env) -> None:
    client = logged_in(app)
    html = client.get(f"/zaak/{OWN}").text
    assert 'name="contact-phone" type="tel" value="06-36017886"' in html
    form = {"csrf_token": csrf_of(html), "contact-phone": "06-12345678", "contact-email": "",
            "contact-address": "Jacob van Ruysdaelstraat 234", "contact-postcode": "9713 BK",
            "contact-city": "Groningen", "contact-note": "belde zelf"}
    answer = client.post(f"/zaak/{OWN}/contact", data=form)
    assert answer.status_code == 303
    person = cohort.json("case", "show", str(OWN))
    assert person["person"]["phone"] == "06-12345678"
    event = person["timeline"][-1]
    assert event["actor"] == "piet" and event["note"] == "belde zelf"
    assert set(event["data"]) == {"phone"}
    again = client.post(f"/zaak/{OWN}/contact", data=form)
    assert again.status_code == 303
    assert "niets vastgelegd" in client.get(f"/zaak/{OWN}").text
    bad = client.post(f"/zaak/{OWN}/contact", data={**form, "contact-postcode": "postcode"})
    assert bad.status_code == 422
    assert "Niet vastgelegd: De postcode klopt niet; zoals 9711 AB." in bad.text
    assert 'value="postcode"' in bad.text  # what was typed stays in the form
    assert client.post(f"/zaak/{OTHER}/contact", data=form).status_code == 404


def test_a_coordinator_assigns_the_case_on_the_case_page(cohort: Env, clock: Clock) -> None:
    cohort.ok("staff", "add", "kees", "--role", "coordinator")
    app = web_app(cohort, clock, piet="Oosterparkwijk")
    from helpers import staff

    from casework.logins import set_password

    engine = app.extensions["casework.engine"]
    set_password(engine, staff(engine, "anna"), "kees", PASSWORD)
    coordinator = logged_in(app, "kees")
    html = coordinator.get(f"/zaak/{OTHER}").text
    assert "Toewijzen aan een medewerker" in html
    token = csrf_of(html)
    answer = coordinator.post(f"/zaak/{OTHER}/toewijzen",
                              data={"csrf_token": token, "assign-worker": "piet"})
    assert answer.status_code == 303
    assert cohort.json("case", "show", str(OTHER))["assigned_to"] == "piet"
    # Now piet sees the case (it is his), and has no assigning form.
    worker = logged_in(app, "piet")
    page = worker.get(f"/zaak/{OTHER}")
    assert page.status_code == 200 and "Toewijzen aan" not in page.text
    refused = worker.post(f"/zaak/{OTHER}/toewijzen",
                          data={"csrf_token": csrf_of(page.text), "assign-worker": "piet"})
    assert refused.status_code == 404
    nobody = coordinator.post(f"/zaak/{OTHER}/toewijzen",
                              data={"csrf_token": token, "assign-worker": "nobody"})
    assert nobody.status_code == 422 and "Niet vastgelegd" in nobody.text
