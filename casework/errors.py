"""Errors a user can cause. The CLI turns each into one clear line and an exit code."""

from __future__ import annotations


class CaseworkError(Exception):
    """Base class: a problem the user can fix; the message says what to do.

    ``says`` is the same in Dutch for people working in the web front, where one exists
    (the message names command-line options; the pages show ``says`` when it is there)."""

    exit_code = 1

    def __init__(self, *args: object, says: str | None = None) -> None:
        super().__init__(*args)
        self.says = says


class ConfigError(CaseworkError):
    """A missing, unreadable or badly typed setting."""


class DatabaseError(CaseworkError):
    """The database is missing, not initialised or not at the current schema."""


class WorkflowError(CaseworkError):
    """A workflow file that cannot be loaded; the message names the file (and state)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class NotFound(CaseworkError):
    """A case, workflow or staff member that does not exist."""


class InvalidData(CaseworkError):
    """Data given to a trigger is missing or outside what the route allows."""


class TransitionNotAllowed(CaseworkError):
    """The trigger is not possible from the case's current state."""


class OptionRefused(CaseworkError):
    """A value the command cannot take here, although it is well formed: an outcome the task
    does not have, a run date before the last completed run (a usage error: exit 2)."""

    exit_code = 2


class ConflictError(CaseworkError):
    """Someone else changed the case between reading and writing it."""

    exit_code = 3


class AnchorError(CaseworkError):
    """The audit anchor file is missing, unreadable or cannot be written."""


class InputFileError(CaseworkError):
    """An input file (cohort, apply file) that cannot be read as a whole."""


def no_case(case_id: int) -> str:
    """Return 'no case N', without echoing a number that may be a BSN typed in by mistake."""
    if case_id >= 10_000_000:
        return "no case with that number (give the case number, not a BSN)"
    return f"no case {case_id}"
