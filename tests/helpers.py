"""Helpers the test files share: one definition each, imported where needed (never copied into
a second test file). Steps along the Kansen in Kaart route through the CLI, a clock for engines,
made-up people, reading the database and the PDFs behind the engine's back."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from click.testing import Result
from conftest import EXAMPLES, Env
from stdnum.nl import bsn as stdnum_bsn

AMS = ZoneInfo("Europe/Amsterdam")

# In the conversation the person agrees to be referred to the social team (if it comes to that).
CONVERSATION = ("--set", "classification=work_potential", "--set", "participation_potential=self",
                "--set", "consent=share:wij_team")


# --- time ------------------------------------------------------------------------------------

class Clock:
    """A clock for ``Env.engine(clock=...)`` that only moves when a test moves it, or by ``step``
    each time it is read (so steps taken one after another get moments in that order)."""

    def __init__(self, now: datetime, step: timedelta = timedelta(0)) -> None:
        self.now = now
        self.step = step

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now

    def set(self, moment: datetime) -> datetime:
        assert moment >= self.now, "the clock only moves forward"
        self.now = moment
        return moment

    def tick(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def amsterdam(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A moment on the Groningen wall clock."""
    return datetime(year, month, day, hour, minute, tzinfo=AMS)


def today() -> date:
    """The date staff see now (timers are planned from it)."""
    return datetime.now(AMS).date()


# --- people ----------------------------------------------------------------------------------

def made_up_bsns(count: int, start: int = 700_000_000) -> list[str]:
    """Return count made-up BSNs above start that pass the elfproef."""
    found: list[str] = []
    number = start
    while len(found) < count:
        number += 1
        if stdnum_bsn.is_valid(f"{number:09d}"):
            found.append(f"{number:09d}")
    return found


def cohort_rows() -> list[dict[str, str]]:
    """The rows of the sample cohort, in file order (case n is row n)."""
    with (EXAMPLES / "cohort.csv").open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def bsn_of(case_id: int) -> str:
    """The BSN of a sample-cohort case (the cohort is imported in file order)."""
    return cohort_rows()[case_id - 1]["bsn"]


def write(env: Env, name: str, text: str, encoding: str = "utf-8") -> Path:
    """Write a file in the test's folder; return its path."""
    path = env.root / name
    path.write_text(text, encoding=encoding)
    return path


# --- the route through the CLI ---------------------------------------------------------------

def advance(env: Env, case_id: int, *args: str, **kwargs: Any) -> Any:
    """`casework case advance CASE TRIGGER ARGS` must succeed; return what it says (JSON)."""
    return env.json("case", "advance", str(case_id), *args, **kwargs)


def invite(env: Env, *case_ids: int, appointment: str = "2100-01-04 10:00") -> None:
    """Invite each case to a conversation (by default on a Monday far ahead)."""
    for case_id in case_ids:
        advance(env, case_id, "invite", "--set", f"appointment={appointment}")


def show(env: Env, case_id: int, **kwargs: Any) -> Any:
    return env.json("case", "show", str(case_id), **kwargs)


def work(env: Env, *args: str, **kwargs: Any) -> Any:
    return env.json("task", "list", *args, **kwargs)


def task_of(env: Env, case_id: int, kind: str, status: str = "open") -> dict[str, Any]:
    [found] = [t for t in work(env, "--kind", kind, "--status", status, "--limit", "0")["tasks"]
               if t["case_id"] == case_id]
    return found  # type: ignore[no-any-return]


def open_tasks(env: Env, case_id: int, kind: str) -> list[dict[str, Any]]:
    """The case's open tasks of a kind, as `task list` shows them."""
    return [t for t in work(env, "--kind", kind)["tasks"] if t["case_id"] == case_id]


def done(env: Env, task_id: int, outcome: str, *args: str, **kwargs: Any) -> Any:
    return env.json("task", "done", str(task_id), "--outcome", outcome, *args, **kwargs)


def follow_up_call(env: Env, case_id: int) -> dict[str, Any]:
    """Bring a case to follow_up (conversation held today, acts himself); return its call."""
    invite(env, case_id, appointment="2099-01-05 10:00")
    advance(env, case_id, "hold_conversation", *CONVERSATION)
    advance(env, case_id, "self_action")
    return task_of(env, case_id, "follow_up_call")


def staff(engine: Any, name: str) -> Any:
    """Return a staff member as the actor of a core call (what the CLI resolves once per
    command); NotAllowed for someone unknown or disabled."""
    from casework.permissions import resolve

    return resolve(engine, name)


def render(env: Env, *args: str) -> dict[str, Any]:
    """`casework letters render ARGS`: its summary."""
    return env.json("letters", "render", *args)  # type: ignore[no-any-return]


# --- refusals --------------------------------------------------------------------------------

def error(result: Result, code: int = 1) -> str:
    """Return the error text of a refused command; fail unless it stopped with code."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return str(result.stderr)


def one_line_error(result: Result, code: int = 1) -> str:
    """The one line a refused command prints; fails unless it stopped with code."""
    lines = error(result, code).strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def clean_failure(result: Result, *fragments: str) -> None:
    """The command stopped with exit code 1, one clear message naming fragments, no traceback."""
    error(result, 1)
    output = result.output
    for fragment in fragments:
        assert fragment in output, f"{fragment!r} not in {output!r}"


# --- behind the engine's back ----------------------------------------------------------------

def query(env: Env, statement: Any) -> list[Any]:
    """The rows a statement reads from the test's database (directly, see ``Env.direct``)."""
    with env.direct() as db, db.connect() as conn:
        return list(conn.execute(statement).all())


def set_person(env: Env, case_id: int, **values: Any) -> None:
    """Change the person of a case directly in the participants table."""
    from sqlalchemy import select, update

    from casework.models import Case, Participant

    with env.direct() as db, db.begin() as conn:
        person = conn.execute(select(Case.participant_id)
                              .where(Case.id == case_id)).scalar_one()
        conn.execute(update(Participant).where(Participant.id == person).values(**values))


# --- letters ---------------------------------------------------------------------------------

def pdfs_in(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.pdf")) if folder.exists() else []


def pdf_text(path: Path | str) -> str:
    """The text of every page of a PDF, page after page."""
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def flat(text: str) -> str:
    """Return text with line breaks and runs of spaces as single spaces (a sentence reads the
    same wherever the lines wrap)."""
    return " ".join(text.split())


# --- the web front ---------------------------------------------------------------------------

PASSWORD = "correct horse battery staple"


def web_app(env: Env, clock: Any = None, **staff_wijken: str) -> Any:
    """The web application on the test's database, with its own session key; every staff
    member named (name=wijk: a case worker of that wijk) is added, and anna and they get
    ``PASSWORD``."""
    from casework.logins import set_password
    from casework.web import create_app

    for name, wijk in staff_wijken.items():
        env.ok("staff", "add", name, "--role", "case_worker", "--wijk", wijk)
    engine = env.engine(clock=clock)
    anna = staff(engine, "anna")
    for name in ("anna", *staff_wijken):
        set_password(engine, anna, name, PASSWORD)
    app = create_app(engine, secret_key=b"k" * 64)
    app.config["TESTING"] = True
    return app


def web_member(app: Any, env: Env, name: str, *options: str) -> None:
    """Add a staff member ('staff add NAME OPTIONS', e.g. --role coordinator --project ID)
    who logs in on the app with ``PASSWORD``."""
    from casework.logins import set_password

    env.ok("staff", "add", name, *options)
    engine = app.extensions["casework.engine"]
    set_password(engine, staff(engine, "anna"), name, PASSWORD)


def same_page(html: str) -> str:
    """A page without its CSRF tokens (signed with the second they were made), to compare
    two answers that must be the same page."""
    import re

    return re.sub(r'name="csrf_token" value="[^"]+"', "", html)


def csrf_of(html: str) -> str:
    """The CSRF token in a page's form."""
    import re

    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:2000]
    return match.group(1)


def web_login(client: Any, name: str, password: str = PASSWORD) -> Any:
    """Log in through the login page (with its CSRF token); return the answer."""
    page = client.get("/inloggen")
    return client.post("/inloggen", data={"csrf_token": csrf_of(page.text), "name": name,
                                          "password": password})
