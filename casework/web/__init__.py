"""The web front for staff: a Flask application from ``create_app``, served by waitress
(``casework serve``).

It is a caller of the core like the CLI: every page acts as the logged-in staff member's
Actor, so rights, consent rules and the processing log apply unchanged. Nothing here
writes SQL."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, current_app, g, render_template, request
from flask import Request as FlaskRequest
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect

if TYPE_CHECKING:
    from casework.config import Settings
    from casework.engine import Engine

# No inline script or style anywhere, nothing from elsewhere, never inside a frame; forms go
# to this site only (and to the identity provider's, see ``content_security_policy``).
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action {form_action}; "
       "frame-ancestors 'none'; base-uri 'none'")


# The main menu: (endpoint, label, capability the actor needs to see it; None: everyone).
# A page of another blueprint adds its line here; the page itself still checks the rights.
NAV: tuple[tuple[str, str, str | None], ...] = (
    ("pages.my_work", "Mijn werk", None),
    ("pages.search", "Zoeken", "case.read"),
    ("coordination.workload_page", "Werkverdeling", "case.assign"),
    ("coordination.plan_page", "Golf plannen", "cohort.plan"),
    ("imports.import_page", "Cohort inlezen", "cohort.import"),
    ("office.daily", "Dagelijkse run", "daily"),
    ("office.letters", "Brieven", "letters"),
    ("reports.reports", "Rapporten", "report"),
    ("staff.members", "Medewerkers", "staff.manage"),
    ("audit.log_page", "Verwerkingslog", "audit"),
    ("privacy.privacy_page", "Privacy", "privacy"),
    ("staff.account", "Mijn account", None),
)

# The blueprints, by module under casework.web (each holds a ``blueprint``).
BLUEPRINTS = ("auth", "pages", "coordination", "sso", "staffpages", "office", "reports",
              "previews", "auditpages", "privacypages", "imports")

# The pages that take a file (a cohort): their requests may be as large as
# ``[web] max_upload_mb``; every other request stays within MAX_CONTENT_LENGTH.
UPLOADS = frozenset({"imports.import_page", "imports.import_confirm", "imports.rejects_csv"})
MEGABYTE = 1024 * 1024


# How the pages say a stored status (appointments, referrals, tasks, letters).
STATUS_WORDS = {
    "planned": "gepland", "held": "gehouden", "cancelled": "geannuleerd", "missed": "gemist",
    "open": "open", "done": "gedaan", "sent": "verstuurd", "accepted": "aangenomen",
    "withdrawn": "ingetrokken", "queued": "in de wachtrij", "rendered": "gemaakt",
    "returned": "teruggekomen", "closed": "gesloten", "in_batch": "bij de drukker",
    "to_pull": "uit de stapel te halen", "pulled": "uit de stapel gehaald",
}


class SessionInterface(SecureCookieSessionInterface):
    """The signed session cookie, marked Secure when the request came over TLS (waitress
    sets the scheme from a trusted proxy's X-Forwarded-Proto)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(request.is_secure) if _in_request() else bool(app.config.get(
            "SESSION_COOKIE_SECURE"))


class Request(FlaskRequest):
    """A request whose uploaded files stay in memory (within ``[web] max_upload_mb``): a
    cohort file is personal data and is never written to the server's disk, not even to a
    temporary file."""

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None,
                         content_length: int | None = None) -> Any:
        import io

        return io.BytesIO()


def _in_request() -> bool:
    from flask import has_request_context

    return has_request_context()


def create_app(source: Settings | Engine, secret_key: bytes | None = None) -> Flask:
    """Return the web application for these settings (or this engine: tests hand in their
    own, with its clock). ``secret_key`` signs the session cookies; default: the key in
    ``[web] secret_key_file``, made when missing."""
    from casework.engine import Engine

    engine = source if isinstance(source, Engine) else Engine.from_config(source)
    settings = engine.settings
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret_key or read_secret_key(settings.web_secret_key_file),
        SESSION_COOKIE_NAME="casework",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings["web.idle_minutes"]),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        MAX_CONTENT_LENGTH=64 * 1024,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    app.session_interface = SessionInterface()
    app.request_class = Request
    app.extensions["casework.engine"] = engine
    app.extensions["casework.csp"] = content_security_policy(settings)
    # Before the CSRF check, which reads the form: the limit must be set when it does.
    app.before_request(lambda: _upload_limit(settings["web.max_upload_mb"]))
    CSRFProtect(app)

    import importlib

    from casework.web import auth

    for module in BLUEPRINTS:
        app.register_blueprint(importlib.import_module(f"casework.web.{module}").blueprint)
    app.before_request(auth.require_login)
    app.after_request(security_headers)
    app.context_processor(lambda: _page_context(engine))
    _filters(app, engine)
    app.register_error_handler(CSRFError, _csrf_refused)
    app.register_error_handler(404, _not_found)
    app.register_error_handler(405, _not_found)
    app.register_error_handler(413, _too_large)
    return app


def engine_of(app: Flask) -> Engine:
    return app.extensions["casework.engine"]  # type: ignore[no-any-return]


def said(error: Exception) -> str:
    """Return what a refusal of the core says to people on a page: its Dutch text where the
    core gives one (``CaseworkError.says``), else its message."""
    return getattr(error, "says", None) or str(error)


def read_secret_key(path: Path) -> bytes:
    """Return the session signing key in this file; make one (owner-only) when missing."""
    try:
        key = path.read_bytes().strip()
    except FileNotFoundError:
        key = secrets.token_hex(32).encode("ascii")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return read_secret_key(path)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key + b"\n")
        return key
    if len(key) < 32:
        from casework.errors import ConfigError

        raise ConfigError(f"{path}: the web secret key is too short (at least 32 characters)")
    return key


def content_security_policy(settings: Settings) -> str:
    """The Content-Security-Policy of every answer. With single sign-on, forms may go to the
    identity provider's site too: a browser applies ``form-action`` to the redirects that
    answer a form, and the answers of "Inloggen via ..." and of Uitloggen send it to the
    provider (its login and logout pages must be on the issuer's site, ``sso.origin``)."""
    sources = ["'self'"]
    if settings.oidc:
        from casework.web.sso import origin

        sources.append(origin(settings["web.oidc.issuer"]))
    return CSP.format(form_action=" ".join(sources))


def security_headers(response: Response) -> Response:
    """Add the headers every answer carries; pages (everything not static) are never
    stored by the browser or a proxy."""
    headers = response.headers
    headers["Content-Security-Policy"] = current_app.extensions["casework.csp"]
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if request.endpoint != "static":
        headers["Cache-Control"] = "no-store"
    if request.is_secure:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return response


def _page_context(engine: Engine) -> dict[str, Any]:
    settings = engine.settings
    actor = g.get("actor")
    return {"organisation": settings["organisation.name"],
            "actor": actor,
            "nav": [(endpoint, label) for endpoint, label, capability in NAV
                    if actor is not None and (capability is None or actor.has(capability))],
            "has_logo": bool(settings["web.theme"].get("logo"))}


def _filters(app: Flask, engine: Engine) -> None:
    """Moments in local time and dates in Dutch, as the letters write them."""
    from casework import display

    app.add_template_filter(lambda value: display.moment(value, engine.tz), "moment")
    app.add_template_filter(display.dutch_date, "dutch_date")
    app.add_template_filter(lambda status: STATUS_WORDS.get(status, status), "status")


def _csrf_refused(error: CSRFError) -> tuple[str, int]:
    return render_template("error.html", title="Formulier verlopen",
                           message="Dit formulier is verlopen of niet van deze site. Laad de "
                                   "pagina opnieuw en probeer het nog eens."), 400


def _not_found(error: Any) -> tuple[str, int]:
    return render_template("error.html", title="Niet gevonden",
                           message="Deze pagina bestaat niet, of u mag hem niet zien."), 404


def _upload_limit(megabytes: int) -> None:
    """Let a page that takes a file read a request of up to ``[web] max_upload_mb`` (and a
    little for the form's other fields)."""
    if request.endpoint in UPLOADS:
        request.max_content_length = megabytes * MEGABYTE + 64 * 1024


def _too_large(error: Any) -> tuple[str, int]:
    if request.endpoint in UPLOADS:
        limit = engine_of(current_app).settings["web.max_upload_mb"]
        return render_template(
            "error.html", title="Bestand te groot",
            message=f"Het bestand is groter dan {limit} MB; er is niets ingelezen. Splits het "
                    "bestand, of lees het in met 'casework cohort import'."), 413
    return render_template("error.html", title="Te veel gegevens",
                           message="Het formulier bevat te veel gegevens."), 413

