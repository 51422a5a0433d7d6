"""A letter of a case as a PDF, opened from the case page: what 'casework letters preview'
makes, for the letter's own template, variant and content (with the person's present
address), for whoever may read the case; logged as the CLI logs a preview."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, g, render_template

from casework.web import engine_of, said
from casework.web.pages import MAX_CASE_ID

blueprint = Blueprint("previews", __name__)


@blueprint.route("/zaak/<int:case_id>/brief/<int:letter_id>.pdf")
def letter_pdf(case_id: int, letter_id: int) -> Any:
    """The letter as a PDF to look at (inline), never stored by the browser; a letter of a
    case out of reach, or of another case, is the same 404 as none."""
    from casework.errors import NotFound
    from casework.letters import LetterError
    from casework.mailroom import preview_letter
    from casework.permissions import NotAllowed

    engine = engine_of(current_app)
    if case_id > MAX_CASE_ID or letter_id > MAX_CASE_ID or not (
            g.actor.has("case.read") or g.actor.has("letters")):
        abort(404)
    try:
        pdf = preview_letter(engine, g.actor, case_id, letter_id)
    except (NotFound, NotAllowed):
        abort(404)
    except LetterError as exc:
        why = said(exc)
        return render_template("error.html", title="Brief niet te maken",
                               message=f"Deze brief kan nu niet gemaakt worden: {why}"), 422
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="brief-{letter_id}.pdf"'})
