"""The coordinator's pages: Werkverdeling (the work per worker, a worker's list), assigning a
wave, and planning a wave (a preview, then the real run).

Each calls the core function the CLI calls (``case list --assigned W --open``, ``task list
--assigned W --due TODAY``, ``case assign --wave``, ``cohort plan [--dry-run]``) with the
logged-in staff member as the actor; the counts per worker and the waves are counts only
(``casework.workload``)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, timedelta
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

from casework.web import engine_of, said
from casework.web.actions import Control

blueprint = Blueprint("coordination", __name__)
LISTED = 200  # the most cases and tasks a worker's page shows


def _require(capability: str) -> None:
    """A page the actor's roles do not reach is the same 404 as one that does not exist."""
    if not g.actor.has(capability):
        abort(404)


def _today() -> date:
    engine = engine_of(current_app)
    return engine.now().astimezone(engine.tz).date()


# --- Werkverdeling ----------------------------------------------------------------------------

@blueprint.route("/werkverdeling")
def workload_page() -> Any:
    """Per worker the open cases and the work due today and overdue, of the cases of the
    coordinator's projects; no one's cases and work on a row of their own."""
    from casework.workload import workload

    _require("case.assign")
    result = workload(engine_of(current_app), g.actor, _today())
    return render_template("workload.html", title="Werkverdeling", result=result)


@blueprint.route("/werkverdeling/medewerker/<worker>")
def worker_page(worker: str) -> Any:
    """A worker's calls and tasks due today and overdue and their open cases, as 'task list
    --assigned W --due TODAY' and 'case list --assigned W --open' (and their log entries)."""
    from casework import vocabulary

    _require("case.assign")
    if worker not in vocabulary.staff_names(engine_of(current_app)):
        abort(404)
    return _worker_list(worker, f"Werk van {worker}")


@blueprint.route("/werkverdeling/zonder-medewerker")
def unassigned_page() -> Any:
    """The open cases and the work due that no one has yet ('--assigned -')."""
    from casework import vocabulary

    _require("case.assign")
    return _worker_list(vocabulary.UNASSIGNED, "Werk zonder medewerker")


def _worker_list(worker: str, title: str, problem: str | None = None,
                 form: Any = None) -> Any:
    from casework import vocabulary
    from casework.cases import CaseFilter, list_cases
    from casework.tasks import TaskFilter, list_tasks

    engine = engine_of(current_app)
    today = _today()
    tasks = list_tasks(engine, g.actor, TaskFilter(due=today, assigned_to=worker),
                       today=today, limit=LISTED)
    cases = list_cases(engine, g.actor, CaseFilter(assigned_to=worker, open_only=True),
                       limit=LISTED)
    chosen = set(form.getlist("case")) if form else set()
    to = Control("assign-worker", "Toewijzen aan", "select", True,
                 options=(("", "Kies"), *((name, name) for name in vocabulary.workers(engine)
                                          if name != worker)),
                 value=form.get("assign-worker", "") if form else "")
    return render_template("worker.html", title=title, worker=worker, today=today,
                           tasks=tasks, cases=cases, labels=vocabulary.state_labels(engine),
                           task_labels=vocabulary.task_labels(engine),
                           unassigned=worker == vocabulary.UNASSIGNED, assign_to=to,
                           chosen=chosen, problem=problem)


@blueprint.route("/werkverdeling/toewijzen", methods=["POST"])
def assign_selection() -> Any:
    """The cases ticked on a worker's list (or on the list of no one's cases) to another
    worker, all or none, as 'case assign ID ID ... WORKER' does."""
    from casework import vocabulary
    from casework.cases import assign_cases
    from casework.errors import CaseworkError, NotFound
    from casework.permissions import NotAllowed

    _require("case.assign")
    engine = engine_of(current_app)
    source = request.form.get("from", "")
    if source != vocabulary.UNASSIGNED and source not in vocabulary.staff_names(engine):
        abort(404)
    title = ("Werk zonder medewerker" if source == vocabulary.UNASSIGNED
             else f"Werk van {source}")
    worker = request.form.get("assign-worker", "").strip()
    ids = [int(v) for v in request.form.getlist("case") if v.isdigit() and len(v) < 10]
    if not ids:
        return _worker_list(source, title, "Kies de zaken die u wilt toewijzen.",
                            request.form), 422
    if not worker:
        return _worker_list(source, title, "Kies een medewerker.", request.form), 422
    try:
        result = assign_cases(engine, g.actor, ids, worker)
    except (NotFound, NotAllowed):
        # A case outside the actor's scope reads as one that does not exist.
        return _worker_list(source, title, "een van de gekozen zaken bestaat niet of is niet "
                            "van uw projecten; er is niets toegewezen.", request.form), 422
    except CaseworkError as exc:
        return _worker_list(source, title, said(exc), request.form), 422
    already = (f"; {result['already_assigned']} had {worker} al"
               if result["already_assigned"] else "")
    flash(f"{result['assigned']} van de {result['cases']} gekozen zaken toegewezen aan "
          f"{worker}{already}.")
    if source == vocabulary.UNASSIGNED:
        return redirect(url_for("coordination.unassigned_page"), 303)
    return redirect(url_for("coordination.worker_page", worker=source), 303)


# --- a wave to a worker -----------------------------------------------------------------------

@blueprint.route("/werkverdeling/golven", methods=["GET", "POST"])
def waves_page() -> Any:
    """The waves with open cases of the coordinator's projects; one is assigned to a worker
    as 'case assign --wave N --wijk W [--workflow ID] WORKER' does."""
    from casework.cases import assign_wave
    from casework.errors import CaseworkError
    from casework.workload import open_waves

    _require("case.assign")
    engine = engine_of(current_app)
    waves = open_waves(engine, g.actor)
    if request.method == "GET":
        return _waves(waves)
    chosen = _chosen_wave(request.form.get("wave-wave", ""), waves)
    worker = request.form.get("wave-worker", "").strip()
    if not worker:
        return _waves(waves, "Kies een medewerker.", request.form), 422
    if chosen is None:
        return _waves(waves, "Die golf heeft geen open zaken (meer) die u mag toewijzen; "
                             "kies een golf uit de lijst.", request.form), 422
    try:
        result = assign_wave(engine, g.actor, chosen["wave"], chosen["wijk"], worker,
                             chosen["workflow"])
    except CaseworkError as exc:
        return _waves(waves, said(exc), request.form), 422
    already = (f"; {result['already_assigned']} had {worker} al"
               if result["already_assigned"] else "")
    flash(f"Golf {result['wave']} in {result['wijk']}: {result['assigned']} van de "
          f"{result['open_cases']} open zaken toegewezen aan {worker}{already}.")
    return redirect(url_for("coordination.waves_page"), 303)


def _wave_key(wave: dict[str, Any]) -> str:
    # A route id has no '|'; the wave number is last, so a wijk may hold any character.
    return f"{wave['workflow']}|{wave['wijk']}|{wave['wave']}"


def _chosen_wave(key: str, waves: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The wave a form names, when it is one the actor may assign now."""
    return next((w for w in waves if _wave_key(w) == key), None)


def _waves(waves: list[dict[str, Any]], problem: str | None = None, form: Any = None) -> Any:
    from casework import vocabulary

    engine = engine_of(current_app)
    labels = _route_labels(engine)
    options = tuple((_wave_key(w), f"Golf {w['wave']}, {w['wijk']} ({labels[w['workflow']]}): "
                     f"{w['open_cases']} open, {w['unassigned']} zonder medewerker")
                    for w in waves)
    controls = (
        Control("wave-wave", "Golf", "select", True, options=(("", "Kies"), *options),
                value=form.get("wave-wave", "") if form else ""),
        Control("wave-worker", "Medewerker", "select", True,
                options=(("", "Kies"), *((name, name) for name in vocabulary.workers(engine))),
                value=form.get("wave-worker", "") if form else ""),
    )
    return render_template("waves.html", title="Golf toewijzen", waves=waves, labels=labels,
                           controls=controls, problem=problem)


def _route_labels(engine: Any) -> dict[str, str]:
    from casework import vocabulary

    return {route: engine.registry.get(route).label or route
            for route in vocabulary.routes(engine)}


# --- planning a wave --------------------------------------------------------------------------

@dataclass(frozen=True)
class PlanRequest:
    """What 'cohort plan' is asked: the route, wijk, size, first day and specialists (their
    names, or their number)."""

    workflow: str
    wijk: str
    size: int
    start: date
    specialists: tuple[str, ...] | int

    def fields(self) -> list[tuple[str, str]]:
        """The form fields that ask for this plan again (the confirmation carries them)."""
        named = self.specialists if isinstance(self.specialists, tuple) else ()
        return [("plan-workflow", self.workflow), ("plan-wijk", self.wijk),
                ("plan-size", str(self.size)), ("plan-from", self.start.isoformat()),
                *(("plan-specialist", name) for name in named),
                ("plan-specialists", "" if named else str(self.specialists))]


@blueprint.route("/golf-plannen", methods=["GET", "POST"])
def plan_page() -> Any:
    """The planning form; a POST shows what 'cohort plan --dry-run' would do (nothing is
    written), with a button that confirms exactly that plan."""
    from casework.errors import CaseworkError
    from casework.planning import plan_wave

    _require("cohort.plan")
    if request.method == "GET":
        return _plan_form()
    asked, problem = _read_plan(request.form)
    if asked is None:
        return _plan_form(problem=problem, form=request.form), 422
    try:
        preview = plan_wave(engine_of(current_app), g.actor, asked.workflow, asked.wijk,
                            asked.size, asked.start, _specialists(asked), dry_run=True)
    except CaseworkError as exc:
        return _plan_form(problem=said(exc), form=request.form), 422
    return _plan_form(form=request.form, preview=preview, asked=asked)


@blueprint.route("/golf-plannen/bevestigen", methods=["POST"])
def plan_confirm() -> Any:
    """Invite the wave the preview showed ('cohort plan'), unless the plan has changed since
    (another wave planned, a case moved or excluded, a specialist booked): then the new
    preview is shown (409) and nobody is invited."""
    from casework.errors import CaseworkError
    from casework.planning import plan_wave

    _require("cohort.plan")
    engine = engine_of(current_app)
    asked, problem = _read_plan(request.form)
    if asked is None:
        return _plan_form(problem=problem, form=request.form), 422
    try:
        fresh = plan_wave(engine, g.actor, asked.workflow, asked.wijk, asked.size, asked.start,
                          _specialists(asked), dry_run=True)
        if plan_digest(asked, fresh) != request.form.get("digest", ""):
            return _plan_form(form=request.form, preview=fresh, asked=asked, stale=True), 409
        done = plan_wave(engine, g.actor, asked.workflow, asked.wijk, asked.size, asked.start,
                         _specialists(asked))
    except CaseworkError as exc:
        return _plan_form(problem=said(exc), form=request.form), 422
    _say_planned(done, same=plan_digest(asked, done) == plan_digest(asked, fresh))
    return redirect(url_for("coordination.plan_page"), 303)


def _say_planned(done: dict[str, Any], same: bool) -> None:
    from casework import display

    tz = engine_of(current_app).tz
    text = (f"Golf {done['wave']} in {done['wijk']}: {done['invited']} van de "
            f"{done['selected']} geselecteerde mensen uitgenodigd")
    if done["first_appointment"]:
        text += (f", afspraken van {display.moment(done['first_appointment'], tz)} tot "
                 f"{display.moment(done['last_appointment'], tz)}")
    text += "."
    if done["failures"]:
        text += f" {len(done['failures'])} niet uitgenodigd (zie de tijdlijn van die zaken)."
    if not same:
        text += " Let op: iemand anders plande tegelijk; dit is anders dan het voorbeeld."
    if g.actor.has("case.assign"):
        text += " Wijs de golf toe onder Werkverdeling."
    flash(text)


def plan_digest(asked: PlanRequest, plan: dict[str, Any]) -> str:
    """Return a digest of what a plan would do: who is invited when and with whom, who is
    left out, which wave. The confirmation carries the preview's; a plan that differs now
    is not carried out."""
    what = {"asked": asked.fields(), "wave": plan["wave"], "selected": plan["selected"],
            "invitations": [(i["case_id"], i["appointment"], str(i["specialist"]))
                            for i in plan["invitations"]],
            "excluded_now": [(e["case_id"], e["reason"]) for e in plan["excluded_now"]],
            "failures": [f["case_id"] for f in plan["failures"]]}
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()


def _specialists(asked: PlanRequest) -> list[str] | int:
    return list(asked.specialists) if isinstance(asked.specialists, tuple) else asked.specialists


def _read_plan(form: Any) -> tuple[PlanRequest | None, str | None]:
    """Return the plan a form asks for, or why it cannot be asked (one Dutch line)."""
    from casework import vocabulary
    from casework.fields import parse_date
    from casework.planning import plannable_routes

    engine = engine_of(current_app)
    workflow = form.get("plan-workflow", "")
    if workflow not in {route.id for route in plannable_routes(engine, g.actor)}:
        return None, "Kies een route."
    wijk = form.get("plan-wijk", "")
    if wijk not in vocabulary.wijken(engine, workflow):
        return None, "Kies een wijk met zaken van deze route."
    limit = engine.settings["planning.wave_size"]
    size = _whole(form.get("plan-size", ""))
    if size is None or not 1 <= size <= limit:
        return None, f"Het aantal uitnodigingen is een heel getal van 1 tot en met {limit}."
    try:
        start = parse_date(form.get("plan-from", ""))
    except ValueError:
        return None, "De eerste dag is geen datum; schrijf hem als 7-12-2026."
    if start < _today():
        return None, "De eerste dag ligt in het verleden; kies vandaag of later."
    named = tuple(name for name in form.getlist("plan-specialist") if name)
    number = form.get("plan-specialists", "").strip()
    if bool(named) == bool(number):
        return None, ("Kies de specialisten bij naam of geef hun aantal, een van de twee.")
    if named:
        known = vocabulary.workers(engine)
        if any(name not in known for name in named) or len(set(named)) != len(named):
            return None, "Kies de specialisten uit de lijst, elk een keer."
        return PlanRequest(workflow, wijk, size, start, named), None
    count = _whole(number)
    if count is None or count < 1:
        return None, "Het aantal specialisten is een heel getal van 1 of meer."
    return PlanRequest(workflow, wijk, size, start, count), None


def _whole(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 7 else None


def _plan_form(problem: str | None = None, form: Any = None,
               preview: dict[str, Any] | None = None, asked: PlanRequest | None = None,
               stale: bool = False) -> Any:
    from casework import vocabulary
    from casework.delivery import first_appointment_day
    from casework.planning import plannable_routes

    engine = engine_of(current_app)
    routes = plannable_routes(engine, g.actor)
    today = _today()

    def value(name: str, default: str = "") -> str:
        return str(form.get(name, default)) if form is not None else default

    # The day the core starts from at the earliest (a letter made today must arrive first).
    earliest = first_appointment_day(engine.settings, today + timedelta(days=1))
    controls = (
        Control("plan-workflow", "Route", "select", True,
                options=tuple((route.id, route.label or route.id) for route in routes),
                value=value("plan-workflow")),
        Control("plan-wijk", "Wijk", "select", True, options=(("", "Kies"), *(
            (wijk, wijk) for wijk in sorted({w for route in routes
                                              for w in vocabulary.wijken(engine, route.id)}))),
            value=value("plan-wijk")),
        Control("plan-size", "Hoeveel uitnodigingen op zijn hoogst", "input", True, "number",
                value=value("plan-size", str(engine.settings["planning.wave_size"]))),
        Control("plan-from", "Eerste dag voor afspraken", "input", True, "date",
                value=value("plan-from", earliest.isoformat())),
        Control("plan-specialist", "Specialisten die de gesprekken voeren", "multiple",
                options=tuple((name, name) for name in vocabulary.workers(engine)),
                value=form.getlist("plan-specialist") if form is not None else []),
        Control("plan-specialists", "Of: het aantal specialisten (zonder namen)", "input",
                input_type="number", value=value("plan-specialists")),
    )
    return render_template(
        "plan.html", title="Golf plannen", controls=controls, problem=problem,
        plannable=bool(routes),
        preview=preview, per_day=_per_day(preview) if preview else [], stale=stale,
        confirm=asked.fields() if asked else [],
        digest=plan_digest(asked, preview) if asked and preview else "",
        labels=_route_labels(engine), reads_cases=g.actor.has("case.read"),
        exclusion_words=lambda reason: vocabulary.exclusion_words(engine, reason))


def _per_day(plan: dict[str, Any]) -> list[tuple[date, int]]:
    """The number of appointments on each day of a plan (local days)."""
    from datetime import datetime

    tz = engine_of(current_app).tz
    days: dict[date, int] = {}
    for invitation in plan["invitations"]:
        day = datetime.fromisoformat(invitation["appointment"]).astimezone(tz).date()
        days[day] = days.get(day, 0) + 1
    return sorted(days.items())
