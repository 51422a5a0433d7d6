"""Cohort inlezen: the back office imports a cohort file on the web, as 'casework cohort import
FILE --workflow ID [--at]' does.

First a preview: the core's import as a dry run (``import_cohort(..., dry_run=True)``): the
same checks and summary, nothing stored. Then "Inlezen" sends the same file again and the
core imports it, the same call the CLI makes. The file is personal data: it is read from the
request into memory and never kept on the server, so the confirmation carries only the
SHA-256 of the bytes the preview read, and a file that differs is not imported (409, with
the preview of the file sent). The rejected rows come as a CSV download the same way (the
file sent again), through the core's one formula-safe CSV writer."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
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
    request,
    url_for,
)

from casework.web import engine_of, said
from casework.web.actions import Control

blueprint = Blueprint("imports", __name__)
SHOWN = 200  # the most rejected rows (and warnings) a preview lists; the CSV has them all


@dataclass(frozen=True)
class ImportRequest:
    """What 'cohort import' is asked: the file (its bytes in memory), the route and the
    moment of selection (None: now)."""

    upload: Any  # casework.cohort.Upload
    workflow: str
    at: datetime | None
    at_text: str

    def fields(self) -> list[tuple[str, str]]:
        """The form fields that ask for this import again (the confirmation carries them)."""
        return [("route", self.workflow), ("moment", self.at_text),
                ("digest", self.upload.digest)]


def _require() -> None:
    """A page the actor's roles do not reach is the same 404 as one that does not exist."""
    if not g.actor.has("cohort.import"):
        abort(404)


@blueprint.route("/cohort-inlezen", methods=["GET", "POST"])
def import_page() -> Any:
    """The form; a POST shows what the import would do (a dry run: nothing is stored), with
    a form that imports exactly that file."""
    from casework.cohort import import_cohort
    from casework.errors import CaseworkError

    _require()
    if request.method == "GET":
        return _page()
    asked, problem = _read(request.form, request.files)
    if asked is None:
        return _page(problem=problem, form=request.form), 422
    try:
        preview = import_cohort(engine_of(current_app), asked.upload, asked.workflow, g.actor,
                                at=asked.at, dry_run=True)
    except CaseworkError as exc:
        return _page(problem=said(exc), form=request.form), 422
    return _page(form=request.form, preview=preview, asked=asked)


@blueprint.route("/cohort-inlezen/inlezen", methods=["POST"])
def import_confirm() -> Any:
    """Import the file the preview showed ('cohort import'); a different file (another one
    chosen, or the file changed since) is not imported: its own preview is shown (409)."""
    from casework.cohort import import_cohort
    from casework.errors import CaseworkError

    _require()
    engine = engine_of(current_app)
    asked, problem = _read(request.form, request.files)
    if asked is None:
        return _page(problem=problem, form=request.form), 422
    try:
        if asked.upload.digest != request.form.get("digest", ""):
            fresh = import_cohort(engine, asked.upload, asked.workflow, g.actor, at=asked.at,
                                  dry_run=True)
            return _page(form=request.form, preview=fresh, asked=asked, stale=True), 409
        summary = import_cohort(engine, asked.upload, asked.workflow, g.actor, at=asked.at)
    except CaseworkError as exc:
        return _page(problem=said(exc), form=request.form), 422
    _say_imported(summary, request.form.get("expected", ""))
    return redirect(url_for("imports.import_page"), 303)


@blueprint.route("/cohort-inlezen/afgekeurd.csv", methods=["POST"])
def rejects_csv() -> Any:
    """The rejected rows of the file sent, with their reasons in Dutch, as a CSV download
    (what --rejects writes); nothing is stored."""
    from casework.cohort import import_cohort
    from casework.errors import CaseworkError

    _require()
    asked, problem = _read(request.form, request.files)
    if asked is None:
        return _page(problem=problem, form=request.form), 422
    out = io.StringIO()
    try:
        import_cohort(engine_of(current_app), asked.upload, asked.workflow, g.actor,
                      rejects_path=out, at=asked.at, dry_run=True)
    except CaseworkError as exc:
        return _page(problem=said(exc), form=request.form), 422
    # With a byte order mark, as --rejects writes it: a spreadsheet then reads UTF-8.
    return Response(("\ufeff" + out.getvalue()).encode("utf-8"), mimetype="text/csv",
                    headers={"Content-Disposition":
                             'attachment; filename="afgekeurde-rijen.csv"'})


def _say_imported(summary: Any, expected: str) -> None:
    """Flash the import's summary, as the CLI prints it, in Dutch."""
    from casework.cohort import CATEGORY_NL

    text = (f"{summary.file} in {_route_labels().get(summary.workflow, summary.workflow)}: "
            f"{summary.read} rijen gelezen, {summary.imported} ingelezen, "
            f"{summary.already_present} al bekend")
    excluded = sum(summary.excluded.values())
    if excluded:
        text += f", {excluded} uitgesloten (ingelezen, niet uitgenodigd)"
    if summary.warnings:
        text += f", {len(summary.warnings)} zonder een onjuist telefoonnummer of e-mailadres"
    text += f", {summary.rejected} afgekeurd"
    if summary.rejected:
        text += " (" + ", ".join(f"{CATEGORY_NL.get(reason, reason)}: {count}" for reason, count
                                 in summary.rejected_by_reason.items()) + ")"
    text += "."
    if summary.rejected:
        text += " Verbeter de afgekeurde rijen en lees ze opnieuw in."
    if expected != str(summary.imported):
        text += (" Let op: dit is anders dan het voorbeeld (er is intussen ook ingelezen of "
                 "veranderd).")
    flash(text)


def _read(form: Any, files: Any) -> tuple[ImportRequest | None, str | None]:
    """Return the import a form asks for, or why it cannot be asked (one Dutch line)."""
    from casework.cohort import importable_routes, upload
    from casework.errors import InputFileError
    from casework.fields import parse_datetime

    engine = engine_of(current_app)
    sent = files.get("bestand")
    if sent is None or not sent.filename:
        return None, "Kies het bestand met het cohort (CSV)."
    workflow = form.get("route", "")
    if workflow not in {route.id for route in importable_routes(engine, g.actor)}:
        return None, "Kies een route."
    at_text = form.get("moment", "").strip()
    at = None
    if at_text:
        try:
            at = parse_datetime(at_text, engine.tz)
        except (ValueError, OverflowError):
            return None, ("Het moment van selectie is geen datum en tijd; schrijf het als "
                          "01-09-2026 09:00.")
    try:
        data = sent.read()
    finally:
        sent.close()
    try:
        return ImportRequest(upload(sent.filename, data), workflow, at, at_text), None
    except InputFileError as exc:
        return None, said(exc)


def _route_labels() -> dict[str, str]:
    from casework import vocabulary

    return vocabulary.route_labels(engine_of(current_app))


def _page(problem: str | None = None, form: Any = None, preview: Any = None,
          asked: ImportRequest | None = None, stale: bool = False) -> Any:
    from casework import vocabulary
    from casework.cohort import CATEGORY_NL, importable_routes

    engine = engine_of(current_app)
    routes = importable_routes(engine, g.actor)

    def value(name: str) -> str:
        return str(form.get(name, "")) if form is not None else ""

    controls = (
        Control("route", "Route", "select", True,
                options=(("", "Kies"), *((route.id, route.label or route.id)
                                         for route in routes)),
                value=value("route")),
        Control("moment", "Moment van selectie (leeg: nu; voor een eerder seizoen)", "input",
                input_type="datetime-local", value=value("moment")),
    )
    return render_template(
        "cohort_import.html", title="Cohort inlezen", controls=controls, problem=problem,
        importable=bool(routes), preview=preview, stale=stale,
        confirm=asked.fields() if asked else [], shown=SHOWN,
        labels=_route_labels(), categories=CATEGORY_NL,
        max_mb=engine.settings["web.max_upload_mb"],
        exclusion_words=lambda reason: vocabulary.exclusion_words(engine, reason))
