"""Parsed TOML kept across processes: a command reads the same route files and config file
as the one before it, and parsing them (tomllib is pure Python) cost every command about 35 M
instructions; reading the parsed document back as JSON costs about 2 M.

A document is kept under the SHA-256 of the file's bytes, so a changed file is simply a new
key; nothing is ever looked up by file name or date. The copies live in the user's own cache
folder (``$XDG_CACHE_HOME/casework/toml``, else ``~/.cache/casework/toml``) and are used only
when that folder and the copy belong to the user and nobody else may write them, and the copy
names the hash it was asked for; anything else (a missing, broken or foreign copy, another
system than POSIX) is parsed from the file as before. Only documents JSON gives back exactly
are kept (strings, whole numbers, finite floats, booleans, arrays, tables): one with a date
or ``inf`` is parsed every time.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

# Copies kept; when a write finds more than MOST, the oldest are removed down to KEEP (route
# files edited often, or a test suite writing many, do not fill the folder).
MOST = 256
KEEP = 128


class TOMLError(ValueError):
    """Not valid TOML; the text is tomllib's (a command that finds the parse in the cache
    does not import tomllib, so callers catch this rather than tomllib's own error)."""


def loads(data: bytes) -> dict[str, Any]:
    """Return the TOML document in data (UTF-8 bytes), from the cache when it holds it.
    TOMLError for a file that is not valid TOML, UnicodeDecodeError for one not UTF-8."""
    key = _key(data)
    folder = _folder()
    if folder is not None:
        doc = _read(folder, key)
        if doc is not None:
            return doc
    import tomllib

    text = data.decode("utf-8")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TOMLError(str(exc)) from None
    if folder is not None:
        _write(folder, key, doc)
    return doc


def _key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _folder() -> Path | None:
    """Return the cache folder when it may be used (made for the user if missing), else None."""
    if os.name != "posix":
        return None
    base = os.environ.get("XDG_CACHE_HOME") or ""
    if not os.path.isabs(base):
        home = os.environ.get("HOME")
        if not home or not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    folder = Path(base, "casework", "toml")
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.stat(folder, follow_symlinks=False)
    except OSError:
        return None
    if not _own(info) or not stat.S_ISDIR(info.st_mode):
        return None
    return folder


def _own(info: os.stat_result) -> bool:
    """Return whether a file or folder is the user's and nobody else may write it."""
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _read(folder: Path, key: str) -> dict[str, Any] | None:
    try:
        fd = os.open(folder / f"{key}.json", os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as fh:
            if not _own(os.fstat(fh.fileno())):
                return None
            kept = json.loads(fh.read())
    except (OSError, ValueError):
        return None
    if not isinstance(kept, dict) or kept.get("sha256") != key:
        return None
    doc = kept.get("doc")
    return doc if isinstance(doc, dict) else None


def _write(folder: Path, key: str, doc: dict[str, Any]) -> None:
    try:
        text = json.dumps({"sha256": key, "doc": doc}, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return  # a date, a time or inf: JSON would not give it back as it was
    import tempfile

    try:
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(temporary, folder / f"{key}.json")
    except OSError:
        Path(temporary).unlink(missing_ok=True)
        return
    try:
        kept = sorted(folder.glob("*.json"), key=lambda path: path.stat().st_mtime)
        for path in kept[:len(kept) - KEEP] if len(kept) > MOST else ():
            path.unlink(missing_ok=True)
    except OSError:
        return  # another process removed one first
