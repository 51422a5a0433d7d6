"""Logging in and out, the idle timeout, and the theme files the login page needs."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    send_file,
    session,
    url_for,
)
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired, Length

from casework.web import engine_of

blueprint = Blueprint("auth", __name__)

# What may be asked without logging in.
PUBLIC = {"auth.login", "auth.theme", "auth.logo", "static", "sso.start", "sso.callback"}


class LoginForm(FlaskForm):
    name = StringField("Gebruikersnaam", validators=[InputRequired(), Length(max=80)],
                       render_kw={"autocomplete": "username", "autocapitalize": "none",
                                  "spellcheck": "false"})
    password = PasswordField("Wachtwoord", validators=[InputRequired(), Length(max=1000)],
                             render_kw={"autocomplete": "current-password"})


class LogoutForm(FlaskForm):
    pass


def require_login() -> Any:
    """Before every request: a logged-in, active staff member who was here less than
    ``[web] idle_minutes`` ago becomes ``g.actor``; anyone else goes to the login page."""
    if request_endpoint() in PUBLIC or request_endpoint() is None:
        return None
    from casework.logins import session_actor
    from casework.permissions import NotAllowed

    engine = engine_of(current_app)
    now = engine.now().timestamp()
    name, seen, stamp = session.get("staff"), session.get("seen"), session.get("stamp")
    if not (isinstance(name, str) and isinstance(seen, (int, float))
            and isinstance(stamp, str)):
        session.clear()
        return redirect(url_for("auth.login"))
    if now - seen > engine.settings["web.idle_minutes"] * 60:
        session.clear()
        flash(f"U bent uitgelogd omdat u {engine.settings['web.idle_minutes']} minuten niets "
              "hebt gedaan. Log opnieuw in.")
        return redirect(url_for("auth.login"))
    try:
        g.actor = session_actor(engine, name, stamp)
    except NotAllowed:  # disabled, removed or given a new password since logging in
        session.clear()
        return redirect(url_for("auth.login"))
    session["seen"] = now
    g.logout_form = LogoutForm()
    return None


def request_endpoint() -> str | None:
    from flask import request

    return request.endpoint


@blueprint.route("/inloggen", methods=["GET", "POST"])
def login() -> Any:
    from casework.logins import LoginFailed, authenticate

    engine = engine_of(current_app)
    form = LoginForm()
    failed = None
    if form.validate_on_submit():
        try:
            login = authenticate(engine, form.name.data.strip(), form.password.data)
        except LoginFailed:
            failed = "password"
        else:
            start_session(login)
            return redirect(url_for("pages.my_work"))
    return login_page(form, failed)


def login_page(form: LoginForm | None = None, failed: str | None = None,
               status: int | None = None) -> tuple[str, int]:
    """The login page: the password form (unless ``[web.oidc] only``) and, with single
    sign-on, its button; ``failed`` says which way of logging in just failed."""
    settings = engine_of(current_app).settings
    return render_template("login.html", form=form or LoginForm(), failed=failed,
                           sso=settings.oidc, password=not settings["web.oidc.only"],
                           max_failures=settings["web.max_failures"],
                           lockout_minutes=settings["web.lockout_minutes"],
                           title="Inloggen"), status or (401 if failed else 200)


def start_session(login: Any) -> None:
    """Start a new session (never the one before: no fixation) for a login, by password or
    by single sign-on."""
    session.clear()
    session.permanent = True
    session["staff"] = login.actor.name
    session["stamp"] = login.stamp
    session["seen"] = engine_of(current_app).now().timestamp()


@blueprint.route("/uitloggen", methods=["POST"])
def logout() -> Any:
    """End the session; one started through single sign-on is ended at the identity
    provider too (OpenID Connect RP-initiated logout), which sends the browser back to the
    login page."""
    from casework.web.sso import provider_logout_url

    through_provider = session.get("sso", False)
    session.clear()
    if through_provider:
        url = provider_logout_url()
        if url:
            return redirect(url)
    flash("U bent uitgelogd.")
    return redirect(url_for("auth.login"))


@blueprint.route("/huisstijl.css")
def theme() -> Response:
    from casework.theme import theme_css

    css = theme_css(engine_of(current_app).settings["web.theme"])
    return Response(css, mimetype="text/css")


@blueprint.route("/huisstijl/logo")
def logo() -> Any:
    settings = engine_of(current_app).settings
    name = settings["web.theme"].get("logo")
    if not name:
        abort(404)
    path = settings.base_dir / name
    if not path.is_file():
        abort(404)
    return send_file(path, max_age=3600)
