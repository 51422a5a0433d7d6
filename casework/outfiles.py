"""Files the engine writes: never over one of its inputs, whole or not at all, owner-only.

Every command that writes a file (rejects, exports, reports, charts, letters, batches) goes
through here:

- ``check_output`` refuses, before anything is read, a path that is (symlinks and hard links
  followed) an input file of the command, the config file, a workflow file, a letter template,
  the audit anchor or key file or the SQLite database; and a folder that does not exist or
  cannot be written in.
- ``open_output`` / ``write_output`` write to a temporary name in the same folder and rename
  it over the target when complete, so a killed run leaves the old file (or none), and the
  result is readable by its owner only, also when the file existed before. A target that is
  not a regular file (``/dev/stdout``, a pipe) is written straight through.
- ``remove_stale_temporaries`` removes the temporary files a killed run left behind;
  ``remove_outputs`` removes files the engine wrote that no longer stand for anything (a
  batch that was re-made), never a protected file.
- ``csv_writer`` writes CSV whose text cells cannot start a spreadsheet formula.

A write that fails (full disk, no permission) raises ``OutputFileError``: one line naming
the file, exit code 1; the temporary file is removed.
"""

from __future__ import annotations

import csv
import os
import re
import socket
import stat
import time
from collections.abc import Iterable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from casework.errors import CaseworkError

if TYPE_CHECKING:
    from casework.config import Settings

TEMP_SUFFIX = ".tmp"
# A temporary file older than this is stale whoever made it: no single write takes that long.
STALE_AFTER_SECONDS = 6 * 3600
# A temporary file of a process that no longer runs on this host is stale after this.
DEAD_AFTER_SECONDS = 60


class OutputFileError(CaseworkError):
    """An output file that cannot be written (no such folder, no permission, disk full)."""


class OutputPathRefused(CaseworkError):
    """An output path that would overwrite an input, the config or the database."""

    exit_code = 2


# --- refusing outputs that are inputs ----------------------------------------------------------


def protected_files(settings: Settings | None,
                    inputs: Iterable[tuple[Path, str]] = ()) -> list[tuple[Path, str]]:
    """Return (path, what it is) for every file an output must never replace."""
    found: list[tuple[Path, str]] = list(inputs)
    if settings is None:
        return found
    if settings.source is not None:
        found.append((settings.source, "the config file"))
    found.append((settings.anchor_file, "the audit anchor file"))
    if settings.key_file is not None:
        found.append((settings.key_file, "the audit key file"))
    database = sqlite_file(settings.database_url)
    if database is not None:
        found.append((database, "the database"))
        for suffix in ("-wal", "-journal", "-shm"):
            found.append((Path(f"{database}{suffix}"), "the database's journal"))
    for folder, what in ((settings.workflows_dir, "workflow file"),
                         (settings.templates_dir, "letter template")):
        try:
            files = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
        except OSError:
            files = []
        found.extend((p, f"{what} {p.name}") for p in files)
    return found


def sqlite_file(url: str) -> Path | None:
    """Return the file of a SQLite database URL, or None (PostgreSQL, in memory)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if not parsed.drivername.startswith("sqlite") or not parsed.database:
        return None
    if parsed.database == ":memory:" or parsed.database.startswith("file:"):
        return None
    return Path(parsed.database)


def _same(target: Path, target_stat: os.stat_result | None, other: Path) -> bool:
    if os.path.realpath(target) == os.path.realpath(other):
        return True
    if target_stat is None:
        return False
    try:
        other_stat = os.stat(other)
    except (OSError, ValueError):
        return False
    return (stat.S_ISREG(other_stat.st_mode) and other_stat.st_dev == target_stat.st_dev
            and other_stat.st_ino == target_stat.st_ino)


def check_output(path: Path, option: str, settings: Settings | None = None,
                 inputs: Iterable[tuple[Path, str]] = ()) -> None:
    """Refuse an output path that is one of the protected files (exit 2), or whose folder is
    missing or not writable (exit 1); call it before anything is read."""
    try:
        target_stat: os.stat_result | None = os.stat(path)
    except (OSError, ValueError):
        target_stat = None
    if target_stat is not None and not stat.S_ISREG(target_stat.st_mode):
        if stat.S_ISDIR(target_stat.st_mode):
            raise OutputFileError(f"{option} {path}: is a folder; name a file")
        return  # a device or pipe (/dev/stdout): written straight through
    for other, what in protected_files(settings, inputs):
        if _same(path, target_stat, other):
            raise OutputPathRefused(
                f"{option} {path}: that is {what}, which would be overwritten; "
                "name a new file for the output")
    folder = Path(os.path.realpath(path)).parent
    if not folder.is_dir():
        raise OutputFileError(f"{option} {path}: folder {path.parent} does not exist; "
                              "create it first or name another file")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputFileError(f"{option} {path}: no permission to write in folder "
                              f"{path.parent}; name another file")


# --- writing whole or not at all ----------------------------------------------------------------


def temp_name(target: Path) -> Path:
    """Return the temporary name for a target: hidden, in the same folder, naming the host and
    process that writes it (so a later run knows whether it is still being written)."""
    return target.with_name(f".{target.name}.{_host()}.{os.getpid()}{TEMP_SUFFIX}")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "host"


def _failed(path: Path, exc: OSError) -> OutputFileError:
    reason = exc.strerror or str(exc)
    return OutputFileError(f"{path}: cannot be written ({reason}); nothing was written to it")


class _Guarded:
    """A file object whose write errors name the output file."""

    def __init__(self, fh: IO[Any], path: Path) -> None:
        self._fh = fh
        self._path = path

    def write(self, data: Any) -> int:
        try:
            return int(self._fh.write(data))
        except OSError as exc:
            raise _failed(self._path, exc) from None

    def writelines(self, lines: Iterable[Any]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self._fh.flush()
        except OSError as exc:
            raise _failed(self._path, exc) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)


class OutputFile:
    """A file being written: to a temporary name in the target's folder, renamed over the
    target (owner-only) by ``commit``, removed by ``abort``. As a context manager it gives the
    file to write to, commits when the block ends and aborts when it fails."""

    def __init__(self, path: Path, binary: bool = False, encoding: str = "utf-8",
                 newline: str | None = None, errors: str | None = None) -> None:
        self.path = Path(path)
        self._tmp: Path | None = None
        self._target = self.path
        try:
            existing: os.stat_result | None = os.stat(self.path)
        except (OSError, ValueError):
            existing = None
        try:
            if existing is not None and not stat.S_ISREG(existing.st_mode):
                # A device or pipe (/dev/stdout, /dev/full) cannot be renamed over: write
                # straight through, errors reported as for a file.
                descriptor = os.open(self.path, os.O_WRONLY)
            else:
                self._target = Path(os.path.realpath(self.path))  # a symlink's target
                self._tmp = temp_name(self._target)
                descriptor = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as exc:
            raise _failed(self.path, exc) from None
        if binary:
            raw: IO[Any] = os.fdopen(descriptor, "wb")
        else:
            raw = os.fdopen(descriptor, "w", encoding=encoding, newline=newline, errors=errors)
        self._raw = raw
        self.file: Any = _Guarded(raw, self.path)
        self.done = False

    def commit(self) -> None:
        """Finish the file: it replaces the target whole."""
        if self.done:
            return
        self.done = True
        try:
            self._raw.close()
            if self._tmp is not None:
                os.replace(self._tmp, self._target)
        except OSError as exc:
            self._remove_tmp()
            raise _failed(self.path, exc) from None

    def abort(self) -> None:
        """Drop what was written; the target stays as it was."""
        if self.done:
            return
        self.done = True
        with suppress(OSError):
            self._raw.close()
        self._remove_tmp()

    def _remove_tmp(self) -> None:
        if self._tmp is not None:
            with suppress(OSError):
                os.unlink(self._tmp)

    def __enter__(self) -> Any:
        return self.file

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def open_output(path: Path, binary: bool = False, encoding: str = "utf-8",
                newline: str | None = None, errors: str | None = None) -> OutputFile:
    """Return an ``OutputFile`` for ``path``: ``with open_output(path) as fh: ...``."""
    return OutputFile(path, binary, encoding, newline, errors)


def write_output(path: Path, data: bytes | str, encoding: str = "utf-8") -> None:
    """Write a whole file at once (see ``open_output``)."""
    with open_output(path, binary=isinstance(data, bytes), encoding=encoding) as fh:
        fh.write(data)


def remove_stale_temporaries(folder: Path) -> int:
    """Remove the temporary files under ``folder`` that no run is writing any more (their
    process is gone from this host, or they are hours old); return how many."""
    if not folder.is_dir():
        return 0
    here = _host()
    now = time.time()
    removed = 0
    for tmp in folder.rglob(f".*{TEMP_SUFFIX}"):
        try:
            age = now - tmp.lstat().st_mtime
        except OSError:
            continue
        if not (age > STALE_AFTER_SECONDS or (age > DEAD_AFTER_SECONDS and
                                               _writer_gone(tmp.name, here))):
            continue
        try:
            tmp.unlink()
            removed += 1
        except OSError:
            pass  # removed by another run meanwhile, or not ours to remove
    return removed


def remove_outputs(paths: Iterable[Path], settings: Settings | None) -> list[Path]:
    """Remove regular files the engine wrote; return those removed. A protected file (the
    config, the database, a workflow file, a template: see ``protected_files``), a link or
    anything but a regular file is left alone, as is a file that is already gone."""
    protected = protected_files(settings)
    removed = []
    for path in paths:
        try:
            found = os.lstat(path)
        except (OSError, ValueError):
            continue
        if not stat.S_ISREG(found.st_mode) or any(_same(path, found, other)
                                                  for other, _ in protected):
            continue
        try:
            os.unlink(path)
        except OSError:
            continue  # removed by another run meanwhile, or not ours to remove
        removed.append(path)
    return removed


def _writer_gone(name: str, here: str) -> bool:
    """Return whether the temporary file was made on this host by a process that is gone."""
    parts = name[: -len(TEMP_SUFFIX)].rsplit(".", 2)
    if len(parts) != 3 or parts[1] != here or not parts[2].isdigit():
        return False
    try:
        os.kill(int(parts[2]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, ValueError):
        return False  # runs under another user: alive
    return False


# --- CSV cells ------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?[0-9]+([.,][0-9]+)?")


def csv_cell(value: Any) -> Any:
    """Return a CSV cell that a spreadsheet shows as text, never runs as a formula: text
    starting with = + - @ tab or CR gets a leading quote (the OWASP rule); numbers stay."""
    if (isinstance(value, str) and len(value) > 1 and value.startswith(_FORMULA_START)
            and not _NUMBER.fullmatch(value)):
        return "'" + value
    return value


class SafeCsvWriter:
    """A csv.writer whose cells pass through ``csv_cell``."""

    def __init__(self, fh: Any, **options: Any) -> None:
        self._writer = csv.writer(fh, **options)

    def writerow(self, row: Sequence[Any]) -> Any:
        return self._writer.writerow([csv_cell(value) for value in row])

    def writerows(self, rows: Iterable[Sequence[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(fh: Any, **options: Any) -> SafeCsvWriter:
    """Return a CSV writer for a file the engine hands out (see ``csv_cell``)."""
    return SafeCsvWriter(fh, **options)
