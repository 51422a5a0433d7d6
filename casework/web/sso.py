"""Single sign-on through the municipality's identity provider: OpenID Connect with
Authlib's Flask client (``[web.oidc]``).

"Inloggen via <organisation>" sends the browser to the provider (authorization code flow
with PKCE, a state and a nonce); the provider sends it back to ``/inloggen/sso/terug``,
where Authlib checks the state, fetches the tokens and checks the ID token's signature
(the provider's published keys), issuer, audience, expiry and nonce. The claim
``[web.oidc] claim`` names the staff member: an active one gets the same session as a
password login (``casework.logins.sso_login``); anyone else gets one refusal, whatever the
reason, and no account is made.

The session cookie is SameSite=Strict, so a browser coming back from the provider (another
site) does not send it. The state and nonce of a login that was started therefore travel
in a cookie of their own (signed, HttpOnly, SameSite=Lax, for the single sign-on paths
only, ten minutes), and the callback answers with a page that moves on to Mijn werk from this
site, where the new session cookie is sent.

The pages' Content-Security-Policy lets forms go to this site and the issuer's (a browser
applies ``form-action`` to the redirect answering "Inloggen via ..." and Uitloggen), so the
provider's login and logout pages must be on the issuer's site: discovery naming a login page
elsewhere is refused like another issuer, and a logout page elsewhere is not visited."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    make_response,
    render_template,
    request,
    session,
    url_for,
)
from flask.blueprints import BlueprintSetupState

from casework.web import engine_of

blueprint = Blueprint("sso", __name__)

PROVIDER = "oidc"  # the name Authlib keeps the client and its state under
STATE_COOKIE = "casework_sso"
STATE_SALT = "casework-sso-state"
STATE_SECONDS = 600
STATE_PREFIX = f"_state_{PROVIDER}_"  # the session keys Authlib keeps a login's state in
MAX_PENDING = 3
TIMEOUT_SECONDS = 10  # for each request to the provider
DEFAULT_PORTS = {"https": 443, "http": 80}


class ProviderProblem(Exception):
    """The provider's discovery document does not describe the configured issuer."""


@blueprint.record_once
def _register(state: BlueprintSetupState) -> None:
    """Register the provider with Authlib when ``[web.oidc]`` is set (the client secret is
    read now, so a missing file stops the start). Discovery waits for the first login."""
    app: Flask = state.app
    settings = engine_of(app).settings
    if not settings.oidc:
        return
    from authlib.integrations.flask_client import OAuth

    issuer = settings["web.oidc.issuer"]
    scopes = ["openid", *(s for s in settings["web.oidc.scopes"] if s != "openid")]
    oauth = OAuth(app)
    app.extensions["casework.sso"] = oauth.register(
        PROVIDER,
        client_id=settings["web.oidc.client_id"],
        client_secret=read_client_secret(settings.oidc_secret_file),
        server_metadata_url=issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": " ".join(scopes), "code_challenge_method": "S256",
                       "default_timeout": TIMEOUT_SECONDS},
    )


def read_client_secret(path: Path | None) -> str:
    """Return the client secret in this file; ConfigError naming the file otherwise."""
    from casework.errors import ConfigError

    if path is None:
        raise ConfigError("setting 'web.oidc.client_secret_file' is needed for single sign-on")
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{path}: the single sign-on client secret cannot be read "
                          f"({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the single sign-on client secret is not text") from None
    if not secret:
        raise ConfigError(f"{path}: the single sign-on client secret file is empty")
    return secret


def _client() -> Any:
    client = current_app.extensions.get("casework.sso")
    if client is None:
        abort(404)
    return client


def _state_serializer() -> Any:
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(current_app.secret_key, salt=STATE_SALT)


def _pending() -> dict[str, Any]:
    """Return the logins in progress that the state cookie holds (none when it is missing,
    expired or not signed by this site)."""
    from itsdangerous import BadData

    try:
        pending = _state_serializer().loads(request.cookies.get(STATE_COOKIE, ""),
                                            max_age=STATE_SECONDS)
    except BadData:
        return {}
    if not isinstance(pending, dict):
        return {}
    return {key: value for key, value in pending.items() if key.startswith(STATE_PREFIX)}


def origin(url: str) -> str:
    """The site of an address as a Content-Security-Policy source: scheme, host and port
    (none when it is the scheme's own); "" for an address with a port that is no number."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        return ""
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + (f":{port}" if port and port != DEFAULT_PORTS.get(scheme)
                                   else "")


def _check_issuer(client: Any) -> None:
    """Load the discovery document (once) and refuse one that names another issuer (OpenID
    Connect Discovery: it must be the configured one exactly) or a login page on another
    site than the issuer's (the pages' CSP would stop the browser going there)."""
    issuer = engine_of(current_app).settings["web.oidc.issuer"]
    metadata = client.load_server_metadata()
    if metadata.get("issuer") != issuer:
        client.server_metadata.clear()
        raise ProviderProblem("the discovery document names another issuer")
    endpoint = metadata.get("authorization_endpoint")
    if not isinstance(endpoint, str) or origin(endpoint) != origin(issuer):
        client.server_metadata.clear()
        raise ProviderProblem("the discovery document names a login page on another site "
                              "than the issuer's")


def _refusal(exc: Exception, failed: str, status: int) -> Any:
    """The login page saying single sign-on did not work; the reason goes to the server
    log (the kind of problem, never a token or a claim)."""
    from casework.text import shown
    from casework.web.auth import login_page

    current_app.logger.warning("single sign-on refused: %s: %s", type(exc).__name__,
                               shown(str(exc))[:200])
    for key in [k for k in session if k.startswith(STATE_PREFIX)]:
        session.pop(key)
    answer = make_response(login_page(failed=failed, status=status))
    answer.delete_cookie(STATE_COOKIE, path=url_for("sso.start"))
    return answer


@blueprint.route("/inloggen/sso", methods=["POST"])
def start() -> Any:
    """Send the browser to the provider, keeping the state, nonce and PKCE verifier in the
    state cookie."""
    client = _client()
    try:
        _check_issuer(client)
        answer = client.authorize_redirect(url_for("sso.callback", _external=True))
    except Exception as exc:  # the provider cannot be reached or described
        return _refusal(exc, "unavailable", 503)
    # Logins started in other tabs a moment ago stay possible (the newest few).
    pending = {**_pending(), **{key: session.pop(key) for key in list(session)
                                if key.startswith(STATE_PREFIX)}}
    pending = dict(list(pending.items())[-MAX_PENDING:])
    answer.set_cookie(STATE_COOKIE, _state_serializer().dumps(pending),
                      max_age=STATE_SECONDS, path=url_for("sso.start"),
                      httponly=True, samesite="Lax", secure=request.is_secure)
    return answer


@blueprint.route("/inloggen/sso/terug")
def callback() -> Any:
    """The provider's answer: check it (Authlib), map the claim to an active staff member
    and start their session; anything else is the one refusal."""
    from casework.logins import LoginFailed, sso_login
    from casework.web.auth import start_session

    client = _client()
    engine = engine_of(current_app)
    settings = engine.settings
    try:
        pending = _pending()
        if not pending:
            raise LoginFailed("no login was started in this browser, or it took too long")
        session.update(pending)
        _check_issuer(client)
        token = client.authorize_access_token(claims_options={
            "iss": {"essential": True, "value": settings["web.oidc.issuer"]},
            "aud": {"essential": True, "value": settings["web.oidc.client_id"]}})
        claims = token.get("userinfo")
        if not claims:
            raise LoginFailed("the provider sent no ID token")
        login = sso_login(engine, claims.get(settings["web.oidc.claim"]))
    except Exception as exc:  # every failure is the same refusal, the reason is logged
        return _refusal(exc, "sso", 401)
    start_session(login)
    session["sso"] = True  # logging out ends the provider's session too
    answer = make_response(render_template("sso_done.html", title="Ingelogd",
                                           name=login.actor.name))
    answer.delete_cookie(STATE_COOKIE, path=url_for("sso.start"))
    return answer


def provider_logout_url() -> str | None:
    """Where to send a browser whose single sign-on session ends, so the provider ends its
    session too: the discovery document's ``end_session_endpoint`` with this client's id
    and the login page to come back to (RP-initiated logout; no ID token is kept in the
    session cookie to hint with). None when the provider has no such endpoint, has it on
    another site than the issuer's (the pages' CSP would stop the browser going there) or
    cannot be reached (the casework session has ended all the same)."""
    from urllib.parse import urlencode, urlsplit, urlunsplit

    client = current_app.extensions.get("casework.sso")
    if client is None:
        return None
    settings = engine_of(current_app).settings
    try:
        endpoint = client.load_server_metadata().get("end_session_endpoint")
    except Exception as exc:  # the provider cannot be reached now
        current_app.logger.warning("single sign-on logout at the provider skipped: %s",
                                   type(exc).__name__)
        return None
    if not isinstance(endpoint, str):
        return None
    if origin(endpoint) != origin(settings["web.oidc.issuer"]):
        current_app.logger.warning("single sign-on logout at the provider skipped: its "
                                   "end_session_endpoint is on another site than the issuer's")
        return None
    parts = urlsplit(endpoint)
    query = urlencode({"client_id": settings["web.oidc.client_id"],
                       "post_logout_redirect_uri": url_for("auth.login", _external=True)})
    return urlunsplit(parts._replace(query=f"{parts.query}&{query}" if parts.query else query))
