"""Steps the tests of the case file, the work lists and people share: bring a case along the
Kansen in Kaart route and finish its work through the CLI."""

from __future__ import annotations

from typing import Any

from click.testing import Result
from conftest import Env

# In the conversation the person agrees to be referred to the social team (if it comes to that).
CONVERSATION = ("--set", "classification=work_potential", "--set", "participation_potential=self",
                "--set", "consent=share:wij_team")


def advance(env: Env, case_id: int, trigger: str, *args: str) -> None:
    env.ok("case", "advance", str(case_id), trigger, *args)


def invite(env: Env, case_id: int, appointment: str) -> None:
    advance(env, case_id, "invite", "--set", f"appointment={appointment}")


def work(env: Env, *args: str, **kwargs: Any) -> Any:
    return env.json("task", "list", *args, **kwargs)


def task_of(env: Env, case_id: int, kind: str, status: str = "open") -> dict[str, Any]:
    [found] = [t for t in work(env, "--kind", kind, "--status", status, "--limit", "0")["tasks"]
               if t["case_id"] == case_id]
    return found  # type: ignore[no-any-return]


def done(env: Env, task_id: int, outcome: str, *args: str, **kwargs: Any) -> Any:
    return env.json("task", "done", str(task_id), "--outcome", outcome, *args, **kwargs)


def show(env: Env, case_id: int, **kwargs: Any) -> Any:
    return env.json("case", "show", str(case_id), **kwargs)


def error(result: Result, code: int = 1) -> str:
    """Return the error text of a refused command; fail unless it stopped with code."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return str(result.stderr)


def follow_up_call(env: Env, case_id: int) -> dict[str, Any]:
    """Bring a case to follow_up (conversation held today, acts himself); return its call."""
    invite(env, case_id, "2099-01-05 10:00")
    advance(env, case_id, "hold_conversation", *CONVERSATION)
    advance(env, case_id, "self_action")
    return task_of(env, case_id, "follow_up_call")


def staff(engine: Any, name: str) -> Any:
    """Return a staff member as the actor of a core call (what the CLI resolves once per
    command); NotAllowed for someone unknown or disabled."""
    from casework.permissions import resolve

    return resolve(engine, name)
