"""The ``casework`` command: thin click commands that parse, call the core and print.

Only click is imported at start-up; a command's module is imported when that command runs (or
``casework --help`` lists it), and each command imports the core it needs.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator, MutableMapping
from importlib import import_module
from typing import Any

import click

from casework.cli.common import STARTUP_GC_THRESHOLD, CliState, fail

# Each command: the module under casework.cli that defines it and its name there.
COMMANDS = {
    "init": ("db", "init_command"),
    "db": ("db", "db"),
    "workflow": ("workflow", "workflow"),
    "cohort": ("cohort", "cohort"),
    "case": ("case", "case"),
    "person": ("person", "person"),
    "staff": ("staff", "staff"),
    "task": ("task", "task"),
    "daily": ("daily", "daily"),
    "scheduler": ("daily", "scheduler"),
    "consent": ("consent", "consent"),
    "referral": ("consent", "referral"),
    "letters": ("letters", "letters"),
    "report": ("report", "report"),
    "budget": ("budget", "budget"),
    "audit": ("audit", "audit"),
    "privacy": ("privacy", "privacy"),
    "employer": ("employer", "employer"),
    "event": ("meeting", "event"),
    "simulate": ("simulate", "simulate"),
    "serve": ("web", "serve_command"),
}


class LazyCommands(MutableMapping[str, click.Command]):
    """The group's commands by name, each imported from its module on first use (click's
    "lazily loading subcommands"), so a command does not pay for the others' imports."""

    def __init__(self, where: dict[str, tuple[str, str]]) -> None:
        self._where = dict(where)
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            module, attr = self._where[name]
            command = getattr(import_module(f"casework.cli.{module}"), attr)
            assert command.name == name, (name, command.name)
            self._loaded[name] = command
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._where.setdefault(name, ("", ""))
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._where[name]
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)


class CaseworkGroup(click.Group):
    """Turns the errors users can cause into one clear line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        from casework.errors import CaseworkError

        try:
            return super().invoke(ctx)
        except CaseworkError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            fail("interrupted; what was committed before stays, a rerun continues", 130)
        except Exception as exc:  # database trouble the user can act on
            from sqlalchemy.exc import OperationalError

            if isinstance(exc, OperationalError):
                text = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
                if "locked" in text:
                    fail("the database is busy (locked by another process); try again", 3)
                fail(f"database error: {text}", 4)
            raise


@click.group(cls=CaseworkGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="Config file (default: $CASEWORK_CONFIG or ./config.toml).")
@click.option("--as", "actor", metavar="NAME",
              help="Staff member you act as (default: $CASEWORK_USER).")
@click.option("--clock", metavar="DATETIME", envvar="CASEWORK_CLOCK",
              help="Training databases only: 'now' for this command, e.g. '2026-03-02 09:00' "
                   "(default: $CASEWORK_CLOCK).")
@click.version_option(package_name="casework")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, actor: str | None,
        clock: str | None) -> None:
    """Casework: case management for participation projects (Participatiewet).

    Start with 'casework init', import a cohort with 'casework cohort import', then see and
    advance cases with 'casework case ...'.
    """
    # Whatever casework writes (database, letters, logs, exports) is for its owner only.
    os.umask(0o077)
    ctx.obj = CliState(config_path=config_path, actor=actor,
                       clock=clock if clock and clock.strip() else None)


cli.commands = LazyCommands(COMMANDS)


def main() -> None:
    """Entry point of the console script."""
    # Start-up makes a few hundred thousand objects that live as long as the process
    # (modules, classes, SQLAlchemy's tables), and the cyclic garbage collector's young
    # collections would walk each of them again: about a twentieth of a command's
    # instructions. So its young generation is large until the engine is made
    # (CliState.engine), when the default comes back for the command's own work.
    gc.set_threshold(STARTUP_GC_THRESHOLD)
    try:
        cli.main(prog_name="casework")
    finally:
        # At exit Python walks every object in four full collections (a command's modules,
        # tables and routes: about a twentieth of its instructions), mostly to free memory
        # the process is about to give back. The database connections they would close
        # are closed here (SQLite then folds its write-ahead log into the file, as before);
        # the rest is frozen, so the collections leave it out. atexit handlers still run.
        if "casework.db" in sys.modules:
            from casework.db import close_all

            close_all()
        gc.freeze()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
