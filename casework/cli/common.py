"""What the commands share: settings, the engine, the actor, output as table or JSON."""

from __future__ import annotations

import gc
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from casework.config import Settings
    from casework.engine import Engine
    from casework.permissions import Actor


# The cyclic garbage collector's young generation while a command starts (casework.cli.main);
# the default (700) comes back once the engine is made. Whatever start-up leaves as garbage
# is collected then, at the latest after this many allocations.
STARTUP_GC_THRESHOLD = 100_000
_GC_DEFAULT = gc.get_threshold()


@dataclass
class CliState:
    config_path: str | None = None
    actor: str | None = None
    clock: str | None = None
    _settings: Any = field(default=None, repr=False)
    _engine: Any = field(default=None, repr=False)
    _actor: Any = field(default=None, repr=False)

    def settings(self) -> Settings:
        if self._settings is None:
            from casework.config import load_settings

            self._settings = load_settings(self.config_path)
        return self._settings  # type: ignore[no-any-return]

    def engine(self, check: bool = True) -> Engine:
        if self._engine is None:
            from casework.engine import Engine

            engine = Engine.from_config(self.settings(), check=check)
            self._training(engine)
            self._engine = engine
            if gc.get_threshold()[0] == STARTUP_GC_THRESHOLD:
                # What start-up made (modules, classes, tables, routes) lives as long as the
                # process: frozen, the collections the command's own work sets off leave it
                # out (about 30 M instructions of a case file). Only a process that main()
                # started: in a test run, CliRunner's commands leave its objects alone.
                gc.freeze()
            gc.set_threshold(*_GC_DEFAULT)  # started (see STARTUP_GC_THRESHOLD)
        return self._engine  # type: ignore[no-any-return]

    def _training(self, engine: Engine) -> None:
        """On a training database: say so on stderr, and run the engine on --clock when set.
        Elsewhere a set clock is refused (exit 2) before anything is read or changed."""
        from casework.training import REFUSED, TrainingRefused, header

        training = engine.training
        if self.clock and not training:
            raise TrainingRefused(REFUSED)
        if not training:
            return
        moment = None
        if self.clock:
            from casework.training import parse_clock, training_clock

            moment = parse_clock(self.clock, engine.settings)
            engine.clock = training_clock(moment)
        click.echo(header(engine.settings, moment), err=True)

    def name(self, override: str | None = None) -> str:
        """Return who is acting. With ``[staff.logins]`` set (a shared server) that is the
        staff member mapped to the OS login, and naming anyone else is refused; without it
        (one person, one laptop): --as, $CASEWORK_USER, else the login if mapped."""
        from casework.permissions import NotAllowed

        asked = override or self.actor or os.environ.get("CASEWORK_USER")
        asked = asked.strip() if asked and asked.strip() else None
        logins: dict[str, str] = self.settings()["staff.logins"]
        if logins:
            login = _login()
            mapped = logins.get(login)
            if not mapped:
                raise NotAllowed(f"your login '{login}' is not mapped to a staff member under "
                                 "[staff.logins] in the config; ask an admin to add it")
            if asked is not None and asked != mapped:
                raise NotAllowed(f"you are logged in as '{login}' (staff member '{mapped}'); "
                                 f"acting as '{asked}' is refused because [staff.logins] is set")
            return mapped
        if asked is None:
            fail("say who you are: add --as NAME or set CASEWORK_USER (every read and change "
                 "of a case is logged with its actor), or map your login under "
                 "[staff.logins] in config.toml", 2)
        return asked

    def who(self, override: str | None = None, permission: str | None = None) -> Actor:
        """Return the acting staff member, read once: known and active, with the permission
        if named; otherwise the command stops with the reason (and the role it needs)."""
        from casework.permissions import resolve

        if self._actor is None:
            self._actor = resolve(self.engine(), self.name(override))
        if permission is not None:
            self._actor.require(permission)
        return self._actor

    def output(self, path: Path | None, option: str, *inputs: tuple[Path, str]) -> None:
        """Refuse, before anything is read, an output path that is one of the command's
        inputs, the config file, a workflow file, a template or the database (exit 2), or
        whose folder is missing or not writable (exit 1)."""
        if path is not None:
            from casework.outfiles import check_output

            check_output(path, option, self.settings(), inputs)


def _login() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"Error: {safe(message, lines=True)}", err=True)
    sys.exit(code)


def actor_option(func: Any) -> Any:
    return click.option("--as", "actor", metavar="NAME",
                        help="Staff member you act as (default: $CASEWORK_USER).")(func)


def json_option(func: Any) -> Any:
    return click.option("--json", "as_json", is_flag=True,
                        help="Print machine-readable JSON (stable keys).")(func)


def print_json(data: Any) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    # json escapes C0 itself; C1, bidi overrides and lone surrogates become \u escapes too
    # (the same JSON, but nothing a terminal acts on).
    click.echo(_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


@contextmanager
def progress(label: str, hidden: bool = False, counted: bool = False
             ) -> Iterator[Callable[[int, int | None], None] | None]:
    """Show a transient progress bar while a long command works: yield what to call with
    (done, total or None), or None when nothing would be drawn (``hidden``: --json, a dry
    run; or standard output is no terminal, a file or a pipe). Then rich is not imported at
    all: its console and progress bar were most of a short command's start-up beyond
    SQLAlchemy's (25-45 ms of a one-line apply from a script). ``counted``: "12/200" and the
    time left beside the bar (an import, whose total is known)."""
    if hidden or not _may_draw():
        yield None
        return
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    out = console()
    columns = (("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                TimeRemainingColumn()) if counted else ())
    with Progress(*columns, console=out, transient=True, disable=not out.is_terminal) as bar:
        task = bar.add_task(escape(safe(label)), total=None)

        def update(done: int, total: int | None = None) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _may_draw() -> bool:
    """False only where rich's console surely draws nothing: standard output is no terminal
    and neither TTY_COMPATIBLE nor FORCE_COLOR (which rich reads) says otherwise; anything
    else is left to rich."""
    if "TTY_COMPATIBLE" in os.environ or "FORCE_COLOR" in os.environ:
        return True
    isatty = getattr(sys.stdout, "isatty", None)
    try:
        return isatty is None or bool(isatty())
    except ValueError:  # a closed stream
        return True


def console() -> Any:
    """Return the console commands print through. Markup and emoji codes are off, so text
    from the database ('[/]', '[link=...]', ':cow:') prints as it is; style with ``Text``."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True, markup=False, emoji=False)


# Control characters (C0 but tab and newline, DEL, C1), bidirectional overrides and lone
# surrogates: shown as escapes (\x1b), never sent to the terminal.
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069"
                     r"\ud800-\udfff]")
_UNSAFE_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069"
                              r"\ud800-\udfff]")


def safe(value: Any, lines: bool = False) -> str:
    """Return stored text (a name, address, note, reason) fit for the terminal: control
    characters made visible as escapes; line breaks and tabs too unless ``lines``."""
    text = "" if value is None else str(value)
    pattern = _UNSAFE if lines else _UNSAFE_ONE_LINE
    return pattern.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def plain(value: Any, lines: bool = False, style: str = "") -> Any:
    """Return stored text as a rich ``Text`` for a table cell or a line: printed literally,
    never as markup, control characters made visible (see ``safe``)."""
    from rich.text import Text

    return Text(safe(value, lines), style=style)


def local(moment: str | None, settings: Settings, fmt: str | None = None) -> str:
    """Return an ISO timestamp as local time for people, without an offset
    (``casework.display.moment``, the one way every human output shows a moment)."""
    from casework.display import MOMENT
    from casework.display import moment as shown_moment

    return shown_moment(moment, settings.tz, fmt or MOMENT)


def human(item: Any, settings: Settings) -> str:
    """Return a stored value for the terminal: moments local, numbers Dutch, lists and
    mappings as text (``casework.display.value``), control characters made visible."""
    from casework.display import value

    return safe(value(item, settings.tz), lines=True)
