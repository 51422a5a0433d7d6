"""Single sign-on with OpenID Connect ([web.oidc]) against the fake identity provider of
tests/identity_provider.py (discovery, keys, the token endpoint, ID tokens signed with a key
made in the test). Every HTTP request the web front makes goes to it through a requests
adapter: no network. The same provider in a real browser: tests/test_web_browser.py."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import Env
from helpers import Clock, csrf_of, staff, web_app, web_login
from identity_provider import CLIENT_ID, ISSUER, FakeProvider, configure


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC))


@pytest.fixture
def app(cohort: Env, clock: Clock, provider: FakeProvider) -> Any:
    """piet (case worker, Oosterparkwijk) and anna, with single sign-on configured."""
    configure(cohort)
    return web_app(cohort, clock, piet="Oosterparkwijk")


def start(client: Any) -> Any:
    """Press "Inloggen via ..." on the login page; return the answer (a redirect)."""
    page = client.get("/inloggen")
    return client.post("/inloggen/sso", data={"csrf_token": csrf_of(page.text)})


def sso(client: Any, provider: FakeProvider, user: str = "piet") -> Any:
    """Log in through the provider as ``user``; return the callback's answer."""
    answer = start(client)
    assert answer.status_code == 302, answer.text
    back = provider.authorize(answer.headers["Location"], user)
    return client.get("/inloggen/sso/terug", query_string=back)


def refused(answer: Any) -> bool:
    return answer.status_code == 401 and "Inloggen via Gemeente Groningen is niet gelukt" \
        in answer.text


def test_the_login_page_offers_single_sign_on_and_it_logs_a_member_in(
        app: Any, provider: FakeProvider) -> None:
    client = app.test_client()
    page = client.get("/inloggen").text
    assert "Inloggen via Gemeente Groningen" in page and 'id="password"' in page
    answer = start(client)
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(ISSUER + "/auth?")
    cookie = next(c for c in answer.headers.getlist("Set-Cookie")
                  if c.startswith("casework_sso="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Path=/inloggen/sso;" in cookie
    back = provider.authorize(answer.headers["Location"], "piet")
    done = client.get("/inloggen/sso/terug", query_string=back)
    assert done.status_code == 200 and "U bent ingelogd" in done.text
    # The page moves on from this site, so the Strict session cookie goes along.
    assert '<meta http-equiv="refresh" content="0; url=/">' in done.text
    session_cookie = next(c for c in done.headers.getlist("Set-Cookie")
                          if c.startswith("casework="))
    assert "SameSite=Strict" in session_cookie and "HttpOnly" in session_cookie
    work = client.get("/")
    assert work.status_code == 200 and "Ingelogd als piet" in work.text
    assert client.get("/zaak/1").status_code == 200 and client.get("/zaak/2").status_code == 404
    # Password login stays available.
    assert web_login(app.test_client(), "piet").status_code == 302


def test_the_same_answer_cannot_be_used_twice_or_by_another_browser(
        app: Any, provider: FakeProvider) -> None:
    client = app.test_client()
    answer = start(client)
    back = provider.authorize(answer.headers["Location"], "piet")
    stranger = app.test_client()  # never started a login: no state cookie
    assert refused(stranger.get("/inloggen/sso/terug", query_string=back))
    assert stranger.get("/").headers["Location"] == "/inloggen"
    forged = client.get("/inloggen/sso/terug", query_string={**back, "state": "forged"})
    assert refused(forged)
    assert client.get("/").headers["Location"] == "/inloggen"
    # The failed callback removed the state: the real answer no longer fits either.
    assert refused(client.get("/inloggen/sso/terug", query_string=back))
    # Two logins started (two tabs): the first one finished still works, once.
    first_tab = provider.authorize(start(client).headers["Location"], "piet")
    provider.authorize(start(client).headers["Location"], "piet")
    assert client.get("/inloggen/sso/terug", query_string=first_tab).status_code == 200
    assert client.get("/").status_code == 200
    assert refused(app.test_client().get("/inloggen/sso/terug", query_string=first_tab))


@pytest.mark.parametrize("claims", [
    {"nonce": "not the nonce that was sent"},
    {"iss": "https://evil.test/realms/staff"},
    {"aud": "another-app", "azp": CLIENT_ID},
    {"aud": "another-app"},
    {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
    {"preferred_username": None},
    {"preferred_username": ["piet"]},
], ids=["nonce", "issuer", "audience-with-azp", "audience", "expired", "no-claim",
        "claim-not-text"])
def test_an_id_token_that_does_not_check_out_is_refused(
        app: Any, provider: FakeProvider, claims: dict[str, Any]) -> None:
    provider.claims = claims
    client = app.test_client()
    assert refused(sso(client, provider))
    assert client.get("/").headers["Location"] == "/inloggen"


def test_an_id_token_signed_with_another_key_is_refused(
        app: Any, provider: FakeProvider) -> None:
    from joserfc.jwk import ECKey

    provider.sign_with = ECKey.generate_key("P-256", parameters={"kid": "k1"})
    client = app.test_client()
    assert refused(sso(client, provider))
    assert client.get("/").headers["Location"] == "/inloggen"


def test_unknown_and_disabled_members_get_the_same_refusal(
        app: Any, cohort: Env, provider: FakeProvider) -> None:
    unknown = sso(app.test_client(), provider, user="nobody")
    cohort.ok("staff", "add", "eva", "--role", "case_worker")
    cohort.ok("staff", "disable", "eva")
    disabled = sso(app.test_client(), provider, user="eva")
    assert refused(unknown) and refused(disabled)
    pattern = r'name="csrf_token" value="[^"]+"'
    assert re.sub(pattern, "", unknown.text) == re.sub(pattern, "", disabled.text)
    assert "eva" in {m["name"] for m in cohort.json("staff", "list")}
    assert "nobody" not in {m["name"] for m in cohort.json("staff", "list")}  # none made


def test_a_single_sign_on_session_ends_when_the_member_is_disabled_or_given_a_password(
        app: Any, cohort: Env, provider: FakeProvider) -> None:
    from casework.logins import set_password

    engine = app.extensions["casework.engine"]
    client = app.test_client()
    sso(client, provider)
    assert client.get("/").status_code == 200
    set_password(engine, staff(engine, "anna"), "piet", "another long password")
    assert client.get("/").headers["Location"] == "/inloggen"
    sso(client, provider)
    assert client.get("/").status_code == 200
    cohort.ok("staff", "disable", "piet")
    assert client.get("/").headers["Location"] == "/inloggen"


def test_a_member_of_single_sign_on_sets_a_password_and_stays_logged_in(
        cohort: Env, clock: Clock, provider: FakeProvider) -> None:
    configure(cohort)
    app = web_app(cohort, clock)
    cohort.ok("staff", "add", "eva", "--role", "case_worker")  # no password at all
    client = app.test_client()
    assert sso(client, provider, user="eva").status_code == 200
    page = client.get("/mijn-account").text
    assert 'id="current"' not in page  # she has no password to give
    answer = client.post("/mijn-account", data={
        "csrf_token": csrf_of(page), "password": "eva her own password",
        "repeat": "eva her own password"})
    assert answer.status_code == 303
    assert client.get("/").status_code == 200
    assert web_login(app.test_client(), "eva", "eva her own password").status_code == 302


def test_only_single_sign_on_refuses_passwords(
        cohort: Env, clock: Clock, provider: FakeProvider) -> None:
    before = web_app(cohort, clock, piet="Oosterparkwijk")
    by_password = before.test_client()
    assert web_login(by_password, "piet").status_code == 302
    configure(cohort, "only = true\n")
    app = web_app(cohort, clock)
    page = app.test_client().get("/inloggen").text
    assert "Inloggen via Gemeente Groningen" in page and 'id="password"' not in page
    answer = web_login(app.test_client(), "piet")
    assert answer.status_code == 401 and "Inloggen met een wachtwoord staat uit" in answer.text
    # A session opened with a password before the change ends.
    session_cookie = by_password.get_cookie("casework")
    carried = app.test_client()
    carried.set_cookie("casework", session_cookie.value)
    assert carried.get("/").headers["Location"] == "/inloggen"
    client = app.test_client()
    assert sso(client, provider).status_code == 200
    account = client.get("/mijn-account").text
    assert "een wachtwoord voor Casework is niet nodig" in account and 'id="repeat"' not in account


def test_a_provider_that_cannot_be_reached_or_names_another_issuer(
        app: Any, provider: FakeProvider) -> None:
    provider.up = False
    down = start(app.test_client())
    assert down.status_code == 503 and "niet bereikbaar" in down.text
    assert 'id="password"' in down.text  # the password still works
    provider.up = True
    provider.discovery = {"issuer": "https://evil.test/realms/staff"}
    other = start(app.test_client())
    assert other.status_code == 503 and "niet bereikbaar" in other.text
    # A login page on another site: the pages' CSP would keep the browser from going there.
    provider.discovery = {"authorization_endpoint": "https://elsewhere.test/realms/staff/auth"}
    elsewhere = start(app.test_client())
    assert elsewhere.status_code == 503 and "niet bereikbaar" in elsewhere.text
    provider.discovery = {}
    assert start(app.test_client()).status_code == 302


def test_forms_may_go_to_the_providers_site(app: Any) -> None:
    """A browser applies the CSP's form-action to the redirect answering a form: "Inloggen
    via ..." and Uitloggen send it to the provider (tests/test_web_browser.py shows it)."""
    csp = app.test_client().get("/inloggen").headers["Content-Security-Policy"]
    assert "form-action 'self' https://login.groningen.test;" in csp


@pytest.mark.parametrize("setting, message", [
    ('issuer = "http://login.groningen.test"\nclient_id = "c"\nclient_secret_file = "s"\n',
     "https://"),
    (f'issuer = "{ISSUER}"\nclient_secret_file = "s"\n', "web.oidc.client_id"),
    (f'issuer = "{ISSUER}"\nclient_id = "c"\n', "web.oidc.client_secret_file"),
    ("only = true\n", "web.oidc.only"),
    (f'issuer = "{ISSUER}"\nclient_id = "c"\nclient_secret_file = "s"\nscopes = ["a b"]\n',
     "web.oidc.scopes"),
])
def test_bad_oidc_settings_are_refused_naming_the_setting(
        cohort: Env, setting: str, message: str) -> None:
    from casework.config import load_settings
    from casework.errors import ConfigError

    with cohort.config.open("a", encoding="utf-8") as fh:
        fh.write("\n[web.oidc]\n" + setting)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(cohort.config)


def test_a_missing_client_secret_file_stops_the_web_front(cohort: Env) -> None:
    from casework.config import load_settings
    from casework.errors import ConfigError
    from casework.web import create_app

    with cohort.config.open("a", encoding="utf-8") as fh:
        fh.write(f'\n[web.oidc]\nissuer = "{ISSUER}"\nclient_id = "c"\n'
                 'client_secret_file = "missing-secret"\n')
    with pytest.raises(ConfigError, match="missing-secret: the single sign-on client secret"):
        create_app(load_settings(cohort.config), secret_key=b"k" * 64)


@pytest.mark.parametrize("endpoint", [
    ISSUER + "/logout?ui=nl", "https://login.groningen.test:443/realms/staff/logout?ui=nl"],
    ids=["issuer", "issuer-site-with-its-port"])
def test_logging_out_ends_the_providers_session_too(
        app: Any, provider: FakeProvider, endpoint: str) -> None:
    provider.discovery["end_session_endpoint"] = endpoint
    client = app.test_client()
    assert sso(client, provider).status_code == 200
    page = client.get("/")
    out = client.post("/uitloggen", data={"csrf_token": csrf_of(page.text)})
    assert out.status_code == 302
    assert out.headers["Location"] == (
        endpoint + "&client_id=casework&post_logout_redirect_uri="
        "http%3A%2F%2Flocalhost%2Finloggen")
    assert client.get("/").status_code == 302  # the casework session has ended
    # A password login logs out here only.
    other = app.test_client()
    assert web_login(other, "piet").status_code == 302
    out = other.post("/uitloggen", data={"csrf_token": csrf_of(other.get("/").text)})
    assert out.status_code == 302 and out.headers["Location"] == "/inloggen"


@pytest.mark.parametrize("discovery", [
    {}, {"end_session_endpoint": "https://elsewhere.test/realms/staff/logout"},
    {"end_session_endpoint": "https://login.groningen.test:8443/realms/staff/logout"},
    {"end_session_endpoint": "https://login.groningen.test:x/realms/staff/logout"}],
    ids=["none", "on-another-site", "on-another-port", "not-a-port"])
def test_a_provider_without_a_logout_endpoint_logs_out_here_only(
        app: Any, provider: FakeProvider, discovery: dict[str, Any]) -> None:
    provider.discovery = discovery
    client = app.test_client()
    assert sso(client, provider).status_code == 200
    out = client.post("/uitloggen", data={"csrf_token": csrf_of(client.get("/").text)})
    assert out.status_code == 302 and out.headers["Location"] == "/inloggen"
    assert client.get("/").status_code == 302
