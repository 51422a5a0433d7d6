"""Passwords for the web front: set them (argon2 hashes) and check a login, with a lockout
after repeated failures.

A failed login says the same whatever went wrong (no such name, disabled, no password yet,
wrong password, locked), so the login page never reveals who is a staff member."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from sqlalchemy import select, update

from casework.db import unit_of_work
from casework.engine import Engine
from casework.errors import CaseworkError, InvalidData, NotFound
from casework.permissions import Actor, NotAllowed, load_actor, load_staff
from casework.text import shown

MIN_LENGTH = 12
MAX_LENGTH = 1000


class LoginFailed(CaseworkError):
    """The name and password do not let anyone in (the reason is not told)."""


@cache
def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    # A login for an unknown name costs a verification too, so timing does not tell.
    return str(_hasher().hash("not a password of anyone"))


def _table() -> Any:
    from casework.models import Staff

    return Staff.__table__


def check_password_quality(password: str) -> None:
    """Refuse a password that is too short or too long, or has line breaks."""
    if len(password) < MIN_LENGTH:
        raise InvalidData(f"a password needs at least {MIN_LENGTH} characters",
                          says=f"Een wachtwoord heeft minstens {MIN_LENGTH} tekens.")
    if len(password) > MAX_LENGTH:
        raise InvalidData(f"a password has at most {MAX_LENGTH} characters",
                          says=f"Een wachtwoord heeft hoogstens {MAX_LENGTH} tekens.")
    if "\n" in password or "\r" in password:
        raise InvalidData("a password has no line breaks",
                          says="Een wachtwoord heeft geen regeleinden.")


def set_password(engine: Engine, actor: Actor, name: str, password: str) -> dict[str, Any]:
    """Set a staff member's web password (admins, or the member for themselves); ends a
    lockout and the member's web sessions. NotFound for an unknown name (only admins get
    that far for someone else)."""
    if actor.name != name:
        actor.require("staff.manage")
    check_password_quality(password)
    digest = _hasher().hash(password)
    table = _table()
    with unit_of_work(engine) as conn:
        done = conn.execute(update(table).where(table.c.name == name).values(
            password_hash=digest, failed_logins=0, locked_until=None))
        if done.rowcount != 1:
            raise NotFound(f"no staff member {shown(name)}; see 'casework staff list'")
    return {"name": name, "password": "set"}


def change_own_password(engine: Engine, actor: Actor, current: str, new: str) -> None:
    """Set the actor's own web password after checking the current one (one who has none
    yet, logged in through single sign-on, gives none); LoginFailed when it is wrong, counted
    as a failed login. Ends the member's other web sessions."""
    if has_password(engine, actor):
        authenticate(engine, actor.name, current)
    set_password(engine, actor, actor.name, new)


def has_password(engine: Engine, actor: Actor) -> bool:
    """Whether the actor has a web password (one who logs in through single sign-on may
    have none)."""
    table = _table()
    with engine.db.connect() as conn:
        return bool(conn.execute(select(table.c.password_hash)
                                 .where(table.c.name == actor.name)).scalar())


@dataclass(frozen=True)
class Login:
    """Who logged in, and the stamp of the password they used (a session holds while the
    password is the same)."""

    actor: Actor
    stamp: str


def password_stamp(digest: str) -> str:
    """Return a short fingerprint of a stored hash (new salt, new stamp: every password set
    ends the sessions opened with the one before)."""
    return hashlib.sha256(digest.encode("ascii")).hexdigest()[:20]


# A session opened through single sign-on has a stamp of its own kind.
SSO_STAMP = "sso:"


def sso_stamp(digest: str | None) -> str:
    """Return the stamp of a single sign-on session: it holds while the member's password
    stays as it was (none counts too), so setting a password ends every web session of the
    member, single sign-on ones included."""
    return SSO_STAMP + password_stamp(digest or "")


def session_actor(engine: Engine, name: str, stamp: str) -> Actor:
    """Return the staff member of a web session while it holds: still active, and the
    password the session was opened with still theirs (or, for single sign-on, single
    sign-on still configured and no new password set since); NotAllowed otherwise. With
    ``[web.oidc] only`` a session opened with a password no longer holds."""
    with engine.db.connect() as conn:
        actor, row = load_staff(conn, name)
    digest = row.password_hash
    if stamp.startswith(SSO_STAMP):
        if not engine.settings.oidc:
            raise NotAllowed("single sign-on is no longer configured; log in again")
        expected = sso_stamp(digest)
    elif engine.settings["web.oidc.only"]:
        raise NotAllowed("only single sign-on logs in now; log in again")
    elif not digest:
        raise NotAllowed(f"{name} has no password; log in again")
    else:
        expected = password_stamp(digest)
    if not hmac.compare_digest(expected, stamp):
        raise NotAllowed(f"the password of {name} changed; log in again")
    return actor


def sso_login(engine: Engine, name: Any) -> Login:
    """Return the active staff member the identity provider named (``[web.oidc] claim``),
    with a single sign-on stamp; LoginFailed for anyone else, as for a wrong password. No
    account is made, and a password lockout does not apply (the provider checked who it
    is)."""
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise LoginFailed("unknown name or wrong password")
    table = _table()
    with engine.db.connect() as conn:
        row = conn.execute(select(table.c.password_hash, table.c.active)
                           .where(table.c.name == name)).first()
        if row is None or not row.active:
            raise LoginFailed("unknown name or wrong password")
        return Login(load_actor(conn, name), sso_stamp(row.password_hash))


def authenticate(engine: Engine, name: str, password: str) -> Login:
    """Return the staff member as an actor (with their password's stamp) when the password
    is theirs, the member is active and not locked; LoginFailed otherwise.
    ``[web] max_failures`` wrong passwords in a row lock the account for
    ``[web] lockout_minutes`` (a correct password then fails too). With
    ``[web.oidc] only`` every password login fails."""
    settings = engine.settings
    if settings["web.oidc.only"]:
        raise LoginFailed("only single sign-on logs in ([web.oidc] only)")
    table = _table()
    now = engine.now()
    with unit_of_work(engine) as conn:
        row = conn.execute(select(table).where(table.c.name == name)).first()
        if row is None or not row.password_hash:
            _verify(_dummy_hash(), password)
            raise LoginFailed("unknown name or wrong password")
        locked = row.locked_until is not None and row.locked_until > now
        if _verify(row.password_hash, password) and not locked and row.active:
            if row.failed_logins or row.locked_until is not None:
                conn.execute(update(table).where(table.c.id == row.id)
                             .values(failed_logins=0, locked_until=None))
            digest = row.password_hash
            if _hasher().check_needs_rehash(digest):
                digest = _hasher().hash(password)
                conn.execute(update(table).where(table.c.id == row.id)
                             .values(password_hash=digest))
            return Login(load_actor(conn, name), password_stamp(digest))
        if not locked:
            failures = (row.failed_logins or 0) + 1
            values: dict[str, Any] = {"failed_logins": failures}
            if failures >= settings["web.max_failures"]:
                values = {"failed_logins": 0, "locked_until": now + timedelta(
                    minutes=settings["web.lockout_minutes"])}
            conn.execute(update(table).where(table.c.id == row.id).values(**values))
    raise LoginFailed("unknown name or wrong password")


def _verify(digest: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(_hasher().verify(digest, password))
    except (VerificationError, InvalidHashError):
        return False
