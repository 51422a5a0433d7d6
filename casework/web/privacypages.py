"""The admin's privacy page (Privacy): a person's subject access export (everything stored
about them, as ``privacy export --bsn``) as a download, and the retention purge (``privacy
purge``: first what it would do, then, ticked, the real run). The BSN travels in a form's
body only and is never shown back; the export is logged as on the command line."""

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
    request,
    url_for,
)

from casework.web import engine_of, said

blueprint = Blueprint("privacy", __name__)


def _admin() -> Any:
    """The engine, for an admin; the 404 of a page that does not exist for anyone else."""
    if not g.actor.has("privacy"):
        abort(404)
    return engine_of(current_app)


@blueprint.route("/privacy")
def privacy_page() -> Any:
    """The export form and what a purge would do now (``privacy purge --dry-run``)."""
    from casework.privacy import purge

    engine = _admin()
    return render_template("privacy.html", title="Privacy", problem=None,
                           preview=purge(engine, g.actor, dry_run=True))


@blueprint.route("/privacy/inzage", methods=["POST"])
def export() -> Any:
    """Everything stored about the person with this BSN, as a JSON download."""
    import tempfile
    from pathlib import Path

    from casework.errors import CaseworkError
    from casework.privacy import export_person, purge

    engine = _admin()
    bsn = request.form.get("bsn", "").strip()
    problem = None
    if not bsn:
        problem = "Vul het BSN van de persoon in."
    else:
        with tempfile.TemporaryDirectory(prefix="casework-export-") as folder:
            path = Path(folder) / "inzage.json"
            try:
                export_person(engine, g.actor, bsn, path)
                data = path.read_bytes()
            except CaseworkError as exc:  # not a BSN, or nobody stored with it
                problem = said(exc)
            else:
                return Response(data, mimetype="application/json", headers={
                    "Content-Disposition": 'attachment; filename="inzage.json"'})
    return render_template("privacy.html", title="Privacy", problem=problem,
                           preview=purge(engine, g.actor, dry_run=True)), 422


@blueprint.route("/privacy/opschonen", methods=["POST"])
def run_purge() -> Any:
    """Anonymise the people past their retention period, when the admin ticked it."""
    from casework.privacy import purge

    engine = _admin()
    if request.form.get("sure") != "ja":
        return render_template("privacy.html", title="Privacy",
                               problem="Vink aan dat u de gegevens wilt wissen.",
                               preview=purge(engine, g.actor, dry_run=True)), 422
    done = purge(engine, g.actor)
    flash(f"{done['people']} mensen ({done['cases']} zaken) geanonimiseerd; "
          f"{done['letters_deleted']} brieven en {done['batch_files_deleted']} stapels van de "
          "drukker gewist.")
    return redirect(url_for("privacy.privacy_page"), 303)
