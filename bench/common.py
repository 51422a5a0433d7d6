"""Helpers for the benchmarks: a scratch installation and timed casework commands."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent


class Scratch:
    """A config and database in a temp folder (or on the URL given)."""

    def __init__(self, database_url: str | None = None, extra: str = "") -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="casework-bench-"))
        atexit.register(shutil.rmtree, self.dir, True)
        self.url = fresh_schema(database_url) if database_url else (
            f"sqlite:///{self.dir / 'bench.db'}")
        self.config = self.dir / "config.toml"
        self.config.write_text(
            f'[database]\nurl = "{self.url}"\n[paths]\n'
            f'workflows = "{(ROOT / "workflows").as_posix()}"\n'
            f'templates = "{(ROOT / "templates" / "letters").as_posix()}"\n'
            f'logs = "{(self.dir / "logs").as_posix()}"\n' + extra,
            encoding="utf-8",
        )
        self.env = {**os.environ, "CASEWORK_CONFIG": str(self.config), "CASEWORK_USER": "bench"}
        self.env.pop("CASEWORK_DATABASE_URL", None)

    def run(self, *args: str) -> None:
        subprocess.run([sys.executable, "-m", "casework", *args], env=self.env, check=True,
                       stdout=subprocess.DEVNULL)
        if args == ("init",):
            # The bench user is the first staff member and may do everything.
            subprocess.run([sys.executable, "-m", "casework", "staff", "add", "bench",
                            "--role", "admin", "--role", "back_office", "--role",
                            "coordinator", "--role", "case_worker"],
                           env=self.env, check=True, stdout=subprocess.DEVNULL)

    def measure(self, *args: str) -> dict[str, Any]:
        """Run a casework command in a fresh process; return seconds, peak_mb, exit_code."""
        result = self.dir / "measure.json"
        subprocess.run([sys.executable, str(BENCH / "_measure.py"), str(result), *args],
                       env=self.env, check=True, stdout=subprocess.DEVNULL)
        data: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
        return data


def fresh_schema(url: str) -> str:
    """Return the PostgreSQL URL pointed at a new, empty schema (dropped when the script ends)."""
    import uuid

    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()

    atexit.register(drop)
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def make_cohort(path: Path, rows: int, seed: int = 7) -> Path:
    subprocess.run([sys.executable, str(ROOT / "examples" / "make_cohort.py"), str(path),
                    "--rows", str(rows), "--seed", str(seed)], check=True)
    return path


def machine() -> str:
    import platform

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
