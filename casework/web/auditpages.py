"""The admin's processing-log page (Verwerkingslog): the entries about a case, by a staff
member (from a day on) or about a person (by BSN: what the person may ask to see), and the
check that no entry was changed or removed. Each calls the core function the CLI calls
(``audit --case|--staff|--bsn``, ``audit verify``) with the logged-in admin as the actor;
reading the log about cases is itself logged, as on the command line. A BSN travels in a
form's body only (never in an address) and is not shown back."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, g, render_template, request

from casework.web import engine_of, said
from casework.web.actions import Control

blueprint = Blueprint("audit", __name__)
SHOWN = 500  # the most entries a page lists (the command line gives them all)

# What an entry's action means, in words (the actions casework logs; others as written).
ACTION_WORDS = {
    "show": "zaak bekeken", "list": "zaken opgezocht", "find": "gezocht",
    "triggers": "mogelijke stappen bekeken", "consent list": "toestemmingen bekeken",
    "advance": "stap gezet", "apply": "stappen uit een bestand", "assign": "toegewezen",
    "case open": "zaak geopend", "correct contact": "contactgegevens verbeterd",
    "correct report": "verslag verbeterd", "task done": "taak afgerond",
    "task list": "taken opgezocht", "letter preview": "brief bekeken",
    "letter cancel": "brief tegengehouden", "letters list": "brieven opgezocht",
    "letters render": "brieven gemaakt", "letters batch remake": "stapel opnieuw gemaakt",
    "letters batch pdf": "stapel gedownload", "letters batch manifest": "stapellijst gedownload",
    "plan preview": "golf voorbereid", "excluded list": "uitgesloten mensen bekeken",
    "audit": "verwerkingslog gelezen", "export": "gegevens van een persoon uitgevoerd",
    "purge": "gegevens gewist", "referral export": "verwijzingen uitgevoerd",
    "employer show": "werkgever bekeken", "event attend": "bijeenkomst bijgewoond",
    "spend": "budget besteed", "workflow migrate": "naar een nieuwe routeversie",
}


def _admin() -> Any:
    """The engine, for an admin; the 404 of a page that does not exist for anyone else."""
    if not g.actor.has("audit"):
        abort(404)
    return engine_of(current_app)


def _controls(engine: Any, form: Any) -> tuple[Control, ...]:
    from casework import vocabulary

    value = (lambda name: form.get(name, "")) if form else (lambda name: "")
    return (
        Control("log-case", "Zaaknummer", "input", input_type="number", value=value("log-case")),
        Control("log-staff", "Medewerker", "select", options=(
            ("", "Kies"), *((n, n) for n in vocabulary.staff_names(engine))),
            value=value("log-staff")),
        Control("log-since", "Vanaf (bij een medewerker)", "input", input_type="date",
                value=value("log-since")),
        Control("log-bsn", "BSN (wat de persoon mag inzien)", "input", input_type="text"),
    )


@blueprint.route("/verwerkingslog", methods=["GET", "POST"])
def log_page() -> Any:
    """The form; posted, the entries it asks for (``audit --case|--staff|--bsn``)."""
    engine = _admin()
    if request.method == "GET":
        return _page(engine)
    asked, problem = _read(request.form)
    if problem:
        return _page(engine, problem=problem, form=request.form), 422
    from casework.audit import read_log
    from casework.errors import CaseworkError

    try:
        rows = read_log(engine, g.actor, **asked)
    except CaseworkError as exc:
        return _page(engine, problem=said(exc), form=request.form), 422
    return _page(engine, form=request.form, rows=rows,
                 about=_about(asked, request.form))


@blueprint.route("/verwerkingslog/controle", methods=["POST"])
def verify_page() -> Any:
    """Recompute the log's chains and compare them with the anchor file (``audit verify``)."""
    from casework.audit import verify

    engine = _admin()
    return _page(engine, checked=verify(engine, g.actor))


def _read(form: Any) -> tuple[dict[str, Any], str | None]:
    """Return what the form asks (read_log's arguments), or why it cannot be asked."""
    from casework import vocabulary
    from casework.fields import parse_date

    case = form.get("log-case", "").strip()
    staff = form.get("log-staff", "").strip()
    since = form.get("log-since", "").strip()
    bsn = form.get("log-bsn", "").strip()
    if sum(bool(v) for v in (case, staff, bsn)) != 1:
        return {}, "Vul één van zaaknummer, medewerker of BSN in."
    if since and not staff:
        return {}, "Een datum 'vanaf' hoort bij een medewerker."
    asked: dict[str, Any] = {}
    if case:
        if not case.isdigit() or len(case) > 9:
            return {}, "Een zaaknummer is een heel getal."
        asked["case_id"] = int(case)
    if staff:
        if staff not in vocabulary.staff_names(_admin()):
            return {}, "Kies een medewerker uit de lijst."
        asked["staff"] = staff
        if since:
            try:
                asked["since"] = parse_date(since)
            except ValueError:
                return {}, "Vul bij 'vanaf' een datum in."
    if bsn:
        from casework.cohort import RowError, normalise_bsn
        from casework.privacy import NOT_A_BSN

        try:
            asked["bsn"] = normalise_bsn(bsn)
        except RowError:
            return {}, NOT_A_BSN
    return asked, None


def _about(asked: dict[str, Any], form: Any) -> str:
    from casework import display

    if "case_id" in asked:
        return f"zaak {asked['case_id']}"
    if "staff" in asked:
        since = f" vanaf {display.dutch_date(asked['since'])}" if "since" in asked else ""
        return f"medewerker {asked['staff']}{since}"
    return "de persoon met het opgegeven BSN"


def _page(engine: Any, problem: str | None = None, form: Any = None,
          rows: list[dict[str, Any]] | None = None, about: str = "",
          checked: dict[str, Any] | None = None) -> Any:
    return render_template("audit.html", title="Verwerkingslog",
                           controls=_controls(engine, form), problem=problem,
                           rows=rows[:SHOWN] if rows is not None else None,
                           total=len(rows or []), about=about, checked=checked,
                           actions=ACTION_WORDS)
