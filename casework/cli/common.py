"""What the commands share: settings, the engine, the actor, output as table or JSON."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from casework.config import Settings
    from casework.engine import Engine


@dataclass
class CliState:
    config_path: str | None = None
    actor: str | None = None
    _settings: Any = field(default=None, repr=False)
    _engine: Any = field(default=None, repr=False)

    def settings(self) -> Settings:
        if self._settings is None:
            from casework.config import load_settings

            self._settings = load_settings(self.config_path)
        return self._settings  # type: ignore[no-any-return]

    def engine(self, check: bool = True) -> Engine:
        if self._engine is None:
            from casework.engine import Engine

            self._engine = Engine.from_config(self.settings(), check=check)
        return self._engine  # type: ignore[no-any-return]

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

    def who(self, override: str | None = None, permission: str | None = None) -> str:
        """Return the acting staff member: known and active, with the permission if named;
        otherwise the command stops with the reason (and the role it needs)."""
        from casework.permissions import access_of, authorize

        actor = self.name(override)
        engine = self.engine()
        if permission is not None:
            authorize(engine, actor, permission)
        else:
            access_of(engine, actor)
        return actor


def _login() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def actor_option(func: Any) -> Any:
    return click.option("--as", "actor", metavar="NAME",
                        help="Staff member you act as (default: $CASEWORK_USER).")(func)


def json_option(func: Any) -> Any:
    return click.option("--json", "as_json", is_flag=True,
                        help="Print machine-readable JSON (stable keys).")(func)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def console() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def local(moment: str | None, settings: Settings, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Return an ISO timestamp as local time for people."""
    if not moment:
        return ""
    from datetime import datetime

    return datetime.fromisoformat(moment).astimezone(settings.tz).strftime(fmt)
