"""The pages: Mijn werk, Zoeken and the case page. Each calls the core function the CLI
calls (``task list --mine``, ``case list``, ``person find``, ``case show``, ``consent
list``) with the logged-in staff member as the actor."""

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
    url_for,
)
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import InputRequired, Length

from casework.web import engine_of, said

blueprint = Blueprint("pages", __name__)
MAX_CASE_ID = 2**31 - 1


class SearchForm(FlaskForm):
    q = StringField("BSN, naam, postcode met huisnummer of kenmerk van een brief",
                    validators=[InputRequired(), Length(max=200)],
                    render_kw={"autocomplete": "off", "spellcheck": "false"})


@blueprint.route("/")
def my_work() -> Any:
    """Mijn werk: my calls and tasks due today and overdue, my open cases."""
    from casework import vocabulary
    from casework.cases import CaseFilter, list_cases
    from casework.tasks import TaskFilter, list_tasks

    engine = engine_of(current_app)
    actor = g.actor
    today = engine.now().astimezone(engine.tz).date()
    tasks: list[dict[str, Any]] = []
    cases: list[dict[str, Any]] = []
    if actor.has("case.read"):
        tasks = list_tasks(engine, actor, TaskFilter(due=today, mine=True), today=today,
                           limit=200)["tasks"]
    if actor.has("case.list"):
        cases = list_cases(engine, actor, CaseFilter(assigned_to=actor.name, open_only=True),
                           limit=200)["cases"]
    return render_template("my_work.html", title="Mijn werk", tasks=tasks, cases=cases,
                           today=today, labels=vocabulary.state_labels(engine),
                           task_labels=vocabulary.task_labels(engine),
                           works_on_cases=actor.has("case.read"))


@blueprint.route("/zoeken", methods=["GET", "POST"])
def search() -> Any:
    """Zoeken: a POST (a BSN never travels in a URL); only cases the actor may see."""
    from casework import vocabulary
    from casework.errors import CaseworkError
    from casework.person import find_cases

    engine = engine_of(current_app)
    if not g.actor.has("case.read"):
        abort(404)
    form = SearchForm()
    result = None
    problem = False
    if form.validate_on_submit():
        try:
            result = find_cases(engine, g.actor, form.q.data, limit=50)
        except CaseworkError:
            problem = True
    return render_template("search.html", title="Zoeken", form=form, result=result,
                           problem=problem, labels=vocabulary.state_labels(engine))


@blueprint.route("/zaak/<int:case_id>")
def case_page(case_id: int) -> Any:
    """The case page: the same read (and processing-log entry) as 'casework case show';
    "no such case" and "not yours" are the same 404."""
    return _case_page(case_id)


@blueprint.route("/zaak/<int:case_id>/stap/<trigger>", methods=["POST"])
def case_step(case_id: int, trigger: str) -> Any:
    """Take a step (what 'casework case advance' does) with the values of its form; the
    case's version in the form must still be the case's, else the fresh case is shown."""
    from casework.errors import CaseworkError, ConflictError, NotFound
    from casework.permissions import NotAllowed
    from casework.web.actions import submitted

    engine = engine_of(current_app)
    if case_id > MAX_CASE_ID or not g.actor.has("case.write"):
        abort(404)
    try:
        version = int(request.form.get("version", ""))
    except ValueError:
        abort(400)
    try:
        with engine.db.connect() as conn:
            case = engine.load_case_for(conn, case_id, g.actor, "case.write")
        data, note = submitted(engine.route_of(case), case.state, trigger, request.form)
        step = engine.advance(case_id, trigger, g.actor, data, note=note,
                              expected_version=version)
    except (NotFound, NotAllowed):
        abort(404)
    except ConflictError:
        return _case_page(case_id, conflict=True), 409
    except CaseworkError as exc:
        return _case_page(case_id, problem=said(exc), form=request.form, failed=trigger), 422
    from casework import vocabulary

    labels = vocabulary.state_labels(engine, case.workflow_id)
    flash(f"Vastgelegd. De stand is nu: {labels.get(step.dest, step.dest)}.")
    return redirect(url_for("pages.case_page", case_id=case_id), 303)


@blueprint.route("/zaak/<int:case_id>/toewijzen", methods=["POST"])
def case_assign(case_id: int) -> Any:
    """Assign the case to a staff member ('casework case assign', coordinators)."""
    from casework.cases import assign_case
    from casework.errors import CaseworkError, NotFound
    from casework.permissions import NotAllowed

    engine = engine_of(current_app)
    if case_id > MAX_CASE_ID or not g.actor.has("case.assign"):
        abort(404)
    worker = request.form.get("assign-worker", "").strip()
    try:
        assign_case(engine, g.actor, case_id, worker)
    except (NotFound, NotAllowed) as exc:
        if not _readable_by(engine, case_id):
            abort(404)
        return _case_page(case_id, problem=said(exc), failed="assign"), 422
    except CaseworkError as exc:
        return _case_page(case_id, problem=said(exc), failed="assign"), 422
    flash(f"Toegewezen aan {worker}.")
    return redirect(url_for("pages.case_page", case_id=case_id), 303)


def _readable_by(engine: Any, case_id: int) -> bool:
    """Whether the actor may see the case (a refusal about the worker is theirs to read;
    one about the case is the same 404 as no case)."""
    from casework.errors import NotFound
    from casework.permissions import NotAllowed

    try:
        with engine.db.connect() as conn:
            engine.load_case_for(conn, case_id, g.actor, "case.read")
    except (NotFound, NotAllowed):
        return False
    return True


# The contact data a case worker corrects: form field -> (label, input type).
CONTACT = {"phone": ("Telefoon", "tel"), "email": ("E-mail", "email"),
           "address": ("Straat en huisnummer", "text"), "postcode": ("Postcode", "text"),
           "city": ("Plaats", "text")}


@blueprint.route("/zaak/<int:case_id>/contact", methods=["POST"])
def case_contact(case_id: int) -> Any:
    """Correct the person's contact data ('casework person edit'); only what differs is
    recorded, with the old and new value in the timeline."""
    from casework.errors import CaseworkError, NotFound
    from casework.permissions import NotAllowed
    from casework.person import contact_changes, edit_contact

    engine = engine_of(current_app)
    if case_id > MAX_CASE_ID or not g.actor.has("case.write"):
        abort(404)
    given = {name: request.form.get(f"contact-{name}", "") for name in CONTACT}
    note = request.form.get("contact-note", "").strip() or None
    try:
        result = edit_contact(engine, g.actor, case_id, contact_changes(**given), note)
    except (NotFound, NotAllowed):
        abort(404)
    except CaseworkError as exc:
        return _case_page(case_id, problem=said(exc), failed="contact", form=request.form), 422
    flash("Contactgegevens gecorrigeerd." if result["changed"]
          else "Er was niets veranderd; niets vastgelegd.")
    return redirect(url_for("pages.case_page", case_id=case_id), 303)


def contact_controls(person: dict[str, Any], form: Any) -> tuple[Any, ...]:
    """The inputs of the contact form, filled with the person's data (or what was posted)."""
    from casework.web.actions import Control

    def value(name: str) -> str:
        if form is not None:
            return str(form.get(f"contact-{name}", ""))
        return str(person.get(name) or "")

    return (*(Control(f"contact-{name}", label, "input", input_type=kind, value=value(name))
              for name, (label, kind) in CONTACT.items()),
            Control("contact-note", "Hoe kwam de correctie binnen", "textarea",
                    value=value("note")))


@blueprint.route("/taak/<int:task_id>/klaar", methods=["POST"])
def task_done(task_id: int) -> Any:
    """Finish a task with its outcome ('casework task done'); a reached call's result moves
    the case as the route says."""
    from casework.errors import CaseworkError, NotFound
    from casework.permissions import NotAllowed
    from casework.tasks import complete_task

    engine = engine_of(current_app)
    if task_id > MAX_CASE_ID or not g.actor.has("case.write"):
        abort(404)
    try:
        case_id = int(request.form.get("case", ""))
    except ValueError:
        abort(400)
    result = request.form.get(f"task-{task_id}-result", "").strip()
    note = request.form.get(f"task-{task_id}-note", "").strip() or None
    try:
        report = complete_task(engine, g.actor, task_id,
                               request.form.get(f"task-{task_id}-outcome", ""),
                               {"result": result} if result else None, note=note)
    except (NotFound, NotAllowed):
        abort(404)
    except CaseworkError as exc:
        return _case_page(case_id, problem=said(exc), failed=f"task-{task_id}"), 422
    flash("Taak afgerond.")
    return redirect(url_for("pages.case_page", case_id=report["case_id"]), 303)


def task_controls(task: dict[str, Any]) -> tuple[Any, ...]:
    """The inputs of a task's 'klaar' form: its outcomes, its results, a note."""
    from casework.tasks import OUTCOME_LABELS
    from casework.web.actions import Control

    name = f"task-{task['id']}"
    controls = [Control(f"{name}-outcome", "Uitkomst", "select", True, options=tuple(
        (o, OUTCOME_LABELS.get(o, o)) for o in task["outcomes"]))]
    if task["results"]:
        controls.append(Control(f"{name}-result", "Resultaat (bij bereikt)", "select",
                                options=(("", "Geen"), *((r, r) for r in task["results"]))))
    controls.append(Control(f"{name}-note", "Wat is er gezegd of gedaan", "textarea"))
    return tuple(controls)


# How a person gives or withdraws consent (casework.consents.METHODS), in words.
CONSENT_METHODS = (("conversation", "in een gesprek"), ("phone", "telefonisch"),
                   ("letter", "per brief"))


@blueprint.route("/zaak/<int:case_id>/toestemming", methods=["POST"])
def case_consent(case_id: int) -> Any:
    """Record that the person gave or withdrew consent ('casework consent grant|withdraw')."""
    from casework.consents import grant_consent, withdraw_consent
    from casework.errors import CaseworkError, NotFound
    from casework.permissions import NotAllowed

    engine = engine_of(current_app)
    if case_id > MAX_CASE_ID or not g.actor.has("case.write"):
        abort(404)
    action = request.form.get("action")
    if action not in ("grant", "withdraw"):
        abort(400)
    record = grant_consent if action == "grant" else withdraw_consent
    try:
        record(engine, g.actor, case_id, request.form.get("consent-scope", ""),
               request.form.get("consent-how", ""))
    except (NotFound, NotAllowed):
        abort(404)
    except CaseworkError as exc:
        return _case_page(case_id, problem=said(exc), failed="consent"), 422
    flash("Toestemming gegeven vastgelegd." if action == "grant"
          else "Intrekking van de toestemming vastgelegd; wat er nog op wachtte is gestopt.")
    return redirect(url_for("pages.case_page", case_id=case_id), 303)


def _case_page(case_id: int, conflict: bool = False, problem: str | None = None,
               form: Any = None, failed: str | None = None) -> Any:
    from casework import vocabulary
    from casework.cases import case_page
    from casework.errors import NotFound
    from casework.permissions import NotAllowed
    from casework.web.actions import actions

    engine = engine_of(current_app)
    if case_id > MAX_CASE_ID:
        abort(404)
    try:
        shown = case_page(engine, g.actor, case_id, triggers=g.actor.has("case.write"))
    except (NotFound, NotAllowed):
        abort(404)
    case, consents, possible = shown["case"], shown["consents"], shown["triggers"]
    workflow = case["workflow"]
    steps = []
    consent_controls: tuple[Any, ...] = ()
    partners = vocabulary.partner_labels(engine, workflow)
    if possible is not None:
        from casework.consents import known_scopes
        from casework.web.actions import Control

        route = engine.registry.get(workflow, case["workflow_version"])
        steps = actions(route, possible, form, failed)
        consent_controls = (
            Control("consent-scope", "Waarvoor", "select", options=tuple(
                (scope, vocabulary.consent_words(scope, partners))
                for scope in known_scopes(route))),
            Control("consent-how", "Hoe", "select", options=CONSENT_METHODS))
    return render_template(
        "case.html", title=f"Zaak {case_id}", case=case, consents=consents,
        labels=vocabulary.state_labels(engine, workflow),
        partners=partners, task_labels=vocabulary.task_labels(engine),
        open_tasks=[t for t in case["tasks"] if t["status"] == "open"],
        steps=steps, conflict=conflict, problem=problem, failed=failed,
        consent_controls=consent_controls, consent_words=vocabulary.consent_words,
        task_controls=task_controls if consent_controls else None,
        contact_controls=contact_controls(case["person"], form if failed == "contact" else None)
        if consent_controls else (),
        assign_controls=_assign_controls(engine, case) if g.actor.has("case.assign") else ())


def _assign_controls(engine: Any, case: dict[str, Any]) -> tuple[Any, ...]:
    from casework import vocabulary
    from casework.web.actions import Control

    return (Control("assign-worker", "Medewerker", "select", True, options=tuple(
        (name, name) for name in vocabulary.staff_names(engine)),
        value=case["assigned_to"] or ""),)
