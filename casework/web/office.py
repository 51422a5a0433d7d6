"""The back office's pages: the daily run's ledger (``daily --status``) and the mail-house
batches (``letters batch list``, a batch's PDF and manifest, ``letters batch mark-sent``,
``letters batch remake``).

The daily run is not started here: the scheduler (``casework scheduler run``, or a timer)
starts it, and a run renders every queued letter, far longer than a page may take; this page
shows what it did. Re-making a batch takes it back at once (one transaction; the core lets
a batch be re-made once), then renders the queue as 'letters batch remake' does, in a thread
of its own: the batch's page shows how far it is. The core checks the rights of each call as
it does for the CLI."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
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
    send_file,
    url_for,
)

from casework.web import engine_of, said

blueprint = Blueprint("office", __name__)

# How the ledger says a run went, in words.
RUN_WORDS = {"ok": "goed gegaan", "failed": "met fouten", "running": "bezig",
             "crashed": "afgebroken", "stopped": "gestopt", "dry-run": "proefrun"}
# How a batch stands, in words.
BATCH_WORDS = {"made": "gemaakt, nog niet verstuurd", "sent": "verstuurd",
               "remade": "opnieuw gemaakt"}
# The files of a batch: kind (in the URL, as the core names it) -> mime type.
FILES = {"pdf": "application/pdf", "manifest": "text/csv"}


@blueprint.route("/dagelijkse-run")
def daily() -> Any:
    """What 'casework daily --status' shows: the latest runs with their summaries, whether
    today's run went through, and what failed."""
    from casework import vocabulary
    from casework.daily import recent_runs
    from casework.permissions import NotAllowed

    engine = engine_of(current_app)
    try:
        runs = recent_runs(engine, g.actor)
    except NotAllowed:
        abort(404)
    today = engine.now().astimezone(engine.tz).date()
    done_today = [r for r in runs if r["run_date"] == today.isoformat()
                  and r["status"] in ("ok", "failed")]
    latest = next((r for r in runs if r["summary"]), None)
    return render_template("daily.html", title="Dagelijkse run", runs=runs, today=today,
                           done_today=done_today[0] if done_today else None, latest=latest,
                           run_words=RUN_WORDS, task_labels=vocabulary.task_labels(engine))


@blueprint.route("/brieven")
def letters(problem: str | None = None, letter_value: str = "") -> Any:
    """The mail-house batches, newest first ('letters batch list'), with the letters to pull
    from each batch not yet sent ('letters list --status to_pull --batch B')."""
    from casework.batches import list_batches
    from casework.mailroom import count_letters, list_letters
    from casework.permissions import NotAllowed

    engine = engine_of(current_app)
    try:
        batches = list_batches(engine, g.actor)["batches"]
        to_pull = {b["batch"]: list_letters(engine, g.actor, status="to_pull",
                                            batch=b["batch"])["letters"]
                   for b in batches if b["status"] == "made" and b["to_pull"]}
        queue = count_letters(engine, g.actor)
    except NotAllowed:
        abort(404)
    return render_template("letters.html", title="Brieven en stapels", batches=batches,
                           to_pull=to_pull, queue=queue, batch_words=BATCH_WORDS,
                           problem=problem, letter_value=letter_value)


@blueprint.route("/brieven/brief", methods=["POST"])
def one_letter() -> Any:
    """One letter came back ('letters returned N': the case gets a task to check the
    address) or is held back ('letters cancel N': pulled from its batch when in one)."""
    from casework.batches import cancel_letter
    from casework.errors import CaseworkError
    from casework.mailroom import mark_returned

    engine = engine_of(current_app)
    if not g.actor.has("letters"):
        abort(404)
    text = request.form.get("letter", "").strip()
    what = request.form.get("what")
    if not text.isdigit() or len(text) > 9 or int(text) < 1:
        return letters("Vul het nummer van de brief in.", text), 422
    if what not in ("returned", "cancel"):
        return letters("Kies teruggekomen of tegenhouden.", text), 422
    letter = int(text)
    try:
        if what == "returned":
            result = mark_returned(engine, g.actor, letter)
            flash(f"Brief {letter} is teruggekomen; zaak {result['case_id']} heeft een taak om "
                  "het adres na te gaan.")
        else:
            result = cancel_letter(engine, g.actor, letter)
            flash(f"Brief {letter} tegengehouden" + (
                f"; haal hem uit stapel {result['batch']} vóór het posten."
                if result["batch"] else "."))
    except CaseworkError as exc:
        return letters(said(exc), text), 422
    return redirect(url_for("office.letters"), 303)


@blueprint.route("/brieven/stapel/<batch>/<kind>")
def batch_file(batch: str, kind: str) -> Any:
    """A batch's PDF or manifest as a download, named as the core named the file (the
    batch's name, never a person's data); logged as a read of its cases."""
    from casework.batches import batch_file as core_batch_file
    from casework.errors import CaseworkError

    engine = engine_of(current_app)
    if kind not in FILES or not g.actor.has("letters"):
        abort(404)
    try:
        path = core_batch_file(engine, g.actor, batch, kind)
    except CaseworkError:
        abort(404)
    answer = send_file(path, mimetype=FILES[kind], as_attachment=True,
                       download_name=path.name, max_age=0, conditional=False, etag=False)
    answer.headers["Cache-Control"] = "no-store"
    return answer


@blueprint.route("/brieven/stapel/<batch>/versturen", methods=["GET", "POST"])
def mark_sent(batch: str) -> Any:
    """Record that a batch went to the mail house ('letters batch mark-sent'): a page that
    says what it holds and what to pull first, and a form to confirm it. A batch is marked
    sent once: a second confirmation (another tab, a colleague) changes nothing (409)."""
    from casework.batches import mark_batch_sent

    engine = engine_of(current_app)
    if not g.actor.has("letters"):
        abort(404)
    problem, status = None, 200
    if request.method == "POST":
        result, problem, status = _ticked(
            lambda: mark_batch_sent(engine, g.actor, batch),
            "Vink aan dat de stapel aan het postbedrijf is gegeven; er is niets vastgelegd.")
        if result is not None:
            sent, pulled = result["sent"], len(result["pulled"])
            flash(f"Stapel {batch}: {sent} {'brief' if sent == 1 else 'brieven'} als "
                  "verstuurd vastgelegd"
                  + (f", {pulled} uit de stapel gehaald." if pulled else "."))
            return redirect(url_for("office.letters"), 303)
    row = _batch_row(engine, batch)
    if row is None:
        abort(404)
    pull = []
    if row["status"] == "made" and row["to_pull"]:
        from casework.mailroom import list_letters

        pull = list_letters(engine, g.actor, status="to_pull", batch=batch)["letters"]
    return render_template("batch_sent.html", title=f"Stapel {batch} versturen", batch=row,
                           to_pull=pull, problem=problem, batch_words=BATCH_WORDS), status


# --- re-making a batch ------------------------------------------------------------------------

@dataclass
class Remake:
    """A batch re-made from this process: what 'letters batch remake' took back (``taken``),
    and the rendering of the queue that follows it, running in a thread of its own."""

    batch: str
    by: str
    taken: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    render: dict[str, Any] | None = None  # the render's summary, once it is done
    failed: str | None = None  # why the render stopped, in words


class Remakes:
    """The batches re-made from this process, by name (newest kept; the render's result
    is on the batch list in any case)."""

    KEEP = 50

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.jobs: dict[str, Remake] = {}

    def get(self, batch: str) -> Remake | None:
        with self.lock:
            return self.jobs.get(batch)

    def add(self, job: Remake) -> None:
        with self.lock:
            self.jobs[job.batch] = job
            while len(self.jobs) > self.KEEP:
                del self.jobs[next(iter(self.jobs))]


def remakes(app: Any) -> Remakes:
    """Return the app's record of the batches re-made from this process."""
    return app.extensions.setdefault("casework.remakes", Remakes())  # type: ignore[no-any-return]


def _render_after_remake(engine: Any, actor: Any, job: Remake, logger: Any) -> None:
    """Render the queue (with the re-made batch's letters) as 'letters batch remake' does
    after taking the batch back; say in the job how it went. Two renders at once (a second
    remake, the daily run) share the queue without making a letter twice: each claims the
    letters it renders (casework.mailroom)."""
    from casework.errors import CaseworkError
    from casework.mailroom import render_queue

    try:
        summary = render_queue(engine, engine.now().astimezone(engine.tz).date(), actor=actor)
        job.render = summary.as_dict()
    except CaseworkError as exc:
        job.failed = said(exc)
    except Exception as exc:  # a bug, or the disk: said without the letters' contents
        logger.error("rendering after re-making batch %s failed: %s", job.batch,
                     type(exc).__name__)
        job.failed = ("het maken van de brieven is mislukt; de volgende dagelijkse run maakt "
                      "ze alsnog (de fout staat in het serverlog)")
    finally:
        job.done.set()


@blueprint.route("/brieven/stapel/<batch>/opnieuw-maken", methods=["GET", "POST"])
def remake(batch: str) -> Any:
    """Re-make a batch that was not handed over ('letters batch remake'): a page that says
    what it holds and a form that needs a tick; the batch is taken back at once (its files
    removed, its letters still wanted queued again, the others cancelled with the reason)
    and the queue is rendered in a thread, whose progress and result (the new batch, the
    counts) this page shows. A batch is re-made once: a second post changes nothing (409)."""
    from casework.batches import remake_batch

    engine = engine_of(current_app)
    if not g.actor.has("letters"):
        abort(404)
    problem, status = None, 200
    if request.method == "POST":
        taken, problem, status = _ticked(
            lambda: remake_batch(engine, g.actor, batch),
            "Vink aan dat de stapel opnieuw gemaakt moet worden; er is niets veranderd.")
        if taken is not None:
            job = Remake(batch, g.actor.name, taken)
            remakes(current_app).add(job)
            threading.Thread(target=_render_after_remake, name=f"remake-{batch}",
                             args=(engine, g.actor, job, current_app.logger),
                             daemon=True).start()
            return redirect(url_for("office.remake", batch=batch), 303)
    row = _batch_row(engine, batch)
    if row is None:
        abort(404)
    job = remakes(current_app).get(batch)
    return render_template("batch_remake.html", title=f"Stapel {batch} opnieuw maken",
                           batch=row, job=job, problem=problem, batch_words=BATCH_WORDS,
                           new_batches=_new_batches(engine, job)), status


def _new_batches(engine: Any, job: Remake | None) -> list[dict[str, Any]]:
    """The batches the render after a remake made, as the batch list shows them."""
    if job is None or job.render is None:
        return []
    from casework.batches import list_batches

    made = {b["batch"] for b in job.render["batches"]}
    return [b for b in list_batches(engine, g.actor)["batches"] if b["batch"] in made]


def _ticked(action: Callable[[], Any], unticked: str) -> tuple[Any, str | None, int]:
    """Do what a batch's form asks once its box is ticked: (the core's answer, None, 200),
    or (None, why not in Dutch, 422 when the box is not ticked and 409 when the core refuses:
    the batch was sent or re-made a moment ago, or there is no such batch)."""
    from casework.errors import CaseworkError

    if request.form.get("confirm") != "yes":
        return None, unticked, 422
    try:
        return action(), None, 200
    except CaseworkError as exc:
        return None, said(exc), 409


def _batch_row(engine: Any, batch: str) -> dict[str, Any] | None:
    """The batch as 'letters batch list' shows it; None when there is no such batch."""
    from casework.batches import list_batches

    found = [b for b in list_batches(engine, g.actor)["batches"] if b["batch"] == batch]
    return found[0] if found else None
