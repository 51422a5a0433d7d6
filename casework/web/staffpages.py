"""The admin's staff pages and every member's own account page. Each calls the core
function the CLI command calls (``staff list|add|edit|disable|set-password``) with the
logged-in staff member as the actor; the staff pages are there for admins only (anyone
else gets the same 404 as a page that does not exist)."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import PasswordField
from wtforms.validators import EqualTo, InputRequired, Length

from casework.web import engine_of, said

blueprint = Blueprint("staff", __name__)

# The roles in words (casework.permissions.ROLES), with the name the CLI uses.
ROLE_LABELS = {"case_worker": "Consulent", "coordinator": "Coördinator",
               "back_office": "Backoffice", "admin": "Beheerder"}
PASSWORD_RULE = "Een wachtwoord heeft minstens 12 en hoogstens 1000 tekens."


# Not the browser's "required" (an empty field would be marked invalid before anything is
# typed); the server checks, and assistive technology hears it is required.
NEW_PASSWORD = {"autocomplete": "new-password", "required": False, "aria-required": "true"}


class NewPasswordForm(FlaskForm):
    password = PasswordField("Nieuw wachtwoord (minstens 12 tekens)", validators=[
        InputRequired("Vul een nieuw wachtwoord in."),
        Length(min=12, max=1000, message=PASSWORD_RULE)], render_kw=NEW_PASSWORD)
    repeat = PasswordField("Nieuw wachtwoord nog een keer", validators=[
        InputRequired("Vul het nieuwe wachtwoord nog een keer in."),
        EqualTo("password", "De twee nieuwe wachtwoorden zijn niet gelijk.")],
        render_kw=NEW_PASSWORD)


class OwnPasswordForm(NewPasswordForm):
    current = PasswordField("Huidig wachtwoord", validators=[Length(max=1000)],
                            render_kw={"autocomplete": "current-password"})


def _admin() -> Any:
    """The engine, for an admin; the 404 of a page that does not exist for anyone else."""
    if not g.actor.has("staff.manage"):
        abort(404)
    return engine_of(current_app)


def _member(engine: Any, name: str) -> dict[str, Any]:
    from casework.staff import list_staff

    for member in list_staff(engine, g.actor):
        if member["name"] == name:
            return member
    abort(404)


@blueprint.route("/medewerkers")
def members() -> Any:
    """The staff list ('casework staff list')."""
    from casework import vocabulary
    from casework.staff import list_staff

    engine = _admin()
    return render_template("staff_list.html", title="Medewerkers",
                           members=list_staff(engine, g.actor), roles=ROLE_LABELS,
                           routes=vocabulary.route_labels(engine))


@blueprint.route("/medewerkers/nieuw", methods=["GET", "POST"])
def add() -> Any:
    """Add a staff member ('casework staff add'): name, full name, roles, wijken,
    projects."""
    from casework.errors import CaseworkError
    from casework.staff import add_staff

    engine = _admin()
    problem = None
    if request.method == "POST":
        form = request.form
        try:
            name = form.get("name", "").strip()
            if not name:
                raise ValueError("Vul een gebruikersnaam in.")
            roles, wijken, projects = _chosen(engine, form, None)
            add_staff(engine, g.actor, name, roles, form.get("full_name", "").strip() or None,
                      wijken, projects)
        except (ValueError, CaseworkError) as exc:
            problem = said(exc)
        else:
            flash(f"Medewerker {name} toegevoegd. Zet hieronder een wachtwoord"
                  + (", of laat de medewerker inloggen via de inlogdienst."
                     if engine.settings.oidc else "."))
            return redirect(url_for("staff.member", name=name), 303)
    return render_template("staff_member.html", title="Medewerker toevoegen", member=None,
                           controls=_controls(engine, None, request.form or None),
                           problem=problem, failed="member" if problem else None,
                           password_form=None), (422 if problem else 200)


@blueprint.route("/medewerkers/<name>", methods=["GET", "POST"])
def member(name: str) -> Any:
    """A staff member: change roles, wijken, projects and full name ('casework staff
    edit'), set a password, disable."""
    from casework.errors import CaseworkError
    from casework.staff import edit_staff

    engine = _admin()
    current = _member(engine, name)
    problem = None
    if request.method == "POST":
        form = request.form
        try:
            roles, wijken, projects = _chosen(engine, form, current)
            edit_staff(engine, g.actor, name, roles, wijken, projects,
                       form.get("full_name", "").strip())
        except (ValueError, CaseworkError) as exc:
            problem = said(exc)
        else:
            flash(f"Gegevens van {name} opgeslagen.")
            return redirect(url_for("staff.member", name=name), 303)
    return _member_page(engine, current, problem=problem,
                        failed="member" if problem else None,
                        form=request.form if problem else None)


def _member_page(engine: Any, current: dict[str, Any], problem: str | None = None,
                 failed: str | None = None, form: Any = None,
                 password_form: NewPasswordForm | None = None) -> Any:
    own = current["name"] == g.actor.name
    return render_template(
        "staff_member.html", title=f"Medewerker {current['name']}", member=current,
        controls=_controls(engine, current, form), problem=problem, failed=failed,
        own=own, password_form=None if own else password_form or NewPasswordForm(),
        sso=engine.settings.oidc), (422 if problem else 200)


@blueprint.route("/medewerkers/<name>/wachtwoord", methods=["POST"])
def member_password(name: str) -> Any:
    """Set a member's password ('casework staff set-password'); one's own is changed on
    Mijn account (with the current password)."""
    from casework.errors import CaseworkError
    from casework.logins import set_password

    engine = _admin()
    current = _member(engine, name)
    if name == g.actor.name:
        return redirect(url_for("staff.account"), 303)
    form = NewPasswordForm()
    if not form.validate_on_submit():  # the reason shows at the field
        return _member_page(engine, current, failed="password", password_form=form)[0], 422
    try:
        set_password(engine, g.actor, name, form.password.data)
    except CaseworkError as exc:
        return _member_page(engine, current, problem=said(exc), failed="password",
                            password_form=form)
    flash(f"Wachtwoord van {name} gezet; waar {name} was ingelogd, is die nu uitgelogd.")
    return redirect(url_for("staff.member", name=name), 303)


@blueprint.route("/medewerkers/<name>/uitschakelen", methods=["POST"])
def member_disable(name: str) -> Any:
    """Disable a member ('casework staff disable'): they can no longer log in or act."""
    from casework.errors import CaseworkError
    from casework.staff import disable_staff

    engine = _admin()
    current = _member(engine, name)
    try:
        disable_staff(engine, g.actor, name)
    except CaseworkError as exc:
        return _member_page(engine, current, problem=said(exc), failed="disable")
    flash(f"{name} is uitgeschakeld en kan niet meer inloggen.")
    if name == g.actor.name:
        return redirect(url_for("auth.login"), 303)
    return redirect(url_for("staff.member", name=name), 303)


@blueprint.route("/mijn-account", methods=["GET", "POST"])
def account() -> Any:
    """Mijn account: who I am and what I may do; change my own password."""
    from casework import vocabulary
    from casework.errors import CaseworkError
    from casework.logins import (
        SSO_STAMP,
        LoginFailed,
        authenticate,
        change_own_password,
        has_password,
        sso_login,
    )
    engine = engine_of(current_app)
    settings = engine.settings
    needs_current = has_password(engine, g.actor)
    form = OwnPasswordForm()
    problem = None
    if not settings["web.oidc.only"] and form.validate_on_submit():
        try:
            change_own_password(engine, g.actor, form.current.data or "", form.password.data)
        except LoginFailed:
            problem = ("Het huidige wachtwoord klopt niet. Na "
                       f"{settings['web.max_failures']} keer op rij wordt het account "
                       f"{settings['web.lockout_minutes']} minuten geblokkeerd.")
        except CaseworkError as exc:
            problem = said(exc)
        else:
            # This session goes on with the new password; every other one has ended.
            sso = session.get("stamp", "").startswith(SSO_STAMP)
            login = (sso_login(engine, g.actor.name) if sso
                     else authenticate(engine, g.actor.name, form.password.data))
            session["stamp"] = login.stamp
            flash("Uw wachtwoord is gewijzigd. Waar u nog meer was ingelogd, bent u nu "
                  "uitgelogd.")
            return redirect(url_for("staff.account"), 303)
    invalid = bool(problem) or (form.is_submitted() and bool(form.errors))
    return render_template(
        "account.html", title="Mijn account", me=g.actor,
        roles=ROLE_LABELS, routes=vocabulary.route_labels(engine), form=form,
        needs_current=needs_current, problem=problem,
        passwords=not settings["web.oidc.only"]), (422 if invalid else 200)


def _options(engine: Any, current: dict[str, Any] | None) -> dict[str, tuple[tuple[str, str],
                                                                              ...]]:
    """The values each choice may take: the roles; the wijken some case is in (and the
    member's own); the routes."""
    from casework import vocabulary

    wijken = sorted({*vocabulary.wijken(engine), *(current["wijken"] if current else ())})
    return {"roles": tuple((role, f"{label} ({role})") for role, label in ROLE_LABELS.items()),
            "wijken": tuple((w, w) for w in wijken),
            "projects": tuple(vocabulary.route_labels(engine).items())}


def _chosen(engine: Any, form: MultiDict[str, str], current: dict[str, Any] | None
            ) -> tuple[list[str], list[str], list[str]]:
    """Return the roles, wijken and projects ticked; ValueError for a wijk or project the
    page does not offer (the core checks the roles, and the projects again)."""
    from casework.text import shown

    options = _options(engine, current)
    chosen = {}
    for key, words in (("wijken", "Onbekende wijk"), ("projects", "Onbekend project")):
        known = {value for value, _ in options[key]}
        values = [v for v in dict.fromkeys(form.getlist(key)) if v]
        for value in values:
            if value not in known:
                raise ValueError(f"{words}: {shown(value)}.")
        chosen[key] = values
    roles = [v for v in dict.fromkeys(form.getlist("roles")) if v]
    return roles, chosen["wijken"], chosen["projects"]


def _controls(engine: Any, current: dict[str, Any] | None, form: Any) -> tuple[Any, ...]:
    """The inputs of the add or edit form, filled with the member's data (or what was
    posted)."""
    from casework.web.actions import Control

    options = _options(engine, current)

    def value(key: str) -> str:
        if form is not None:
            return str(form.get(key, ""))
        return str((current or {}).get(key) or "")

    def ticked(key: str) -> list[str]:
        if form is not None:
            return list(form.getlist(key))
        return list((current or {}).get(key) or [])

    controls = [] if current else [Control("name", "Gebruikersnaam (de inlognaam)", "input",
                                           True, value=value("name"))]
    controls += [
        Control("full_name", "Volledige naam", "input", value=value("full_name")),
        Control("roles", "Rollen", "multiple", True, options=options["roles"],
                value=ticked("roles")),
    ]
    if options["wijken"]:  # none before the first cohort is imported
        controls.append(Control("wijken", "Wijken (een consulent ziet de zaken in deze "
                                "wijken)", "multiple", options=options["wijken"],
                                value=ticked("wijken")))
    controls.append(Control("projects", "Projecten (coördinator en backoffice; geen: alle "
                            "routes)", "multiple", options=options["projects"],
                            value=ticked("projects")))
    return tuple(controls)
