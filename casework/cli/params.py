"""Bounded click types for numbers on the command line: ids and counts fit a database integer
(SQLite and PostgreSQL store at most 2**63 - 1), so a huge number is one clear line, never a
traceback from the driver."""

from __future__ import annotations

import click

MAX_ID = 2**63 - 1

ID = click.IntRange(1, MAX_ID)
"""A case, task, letter or meeting number."""

COUNT = click.IntRange(0, MAX_ID)
"""A count such as --limit or --offset (0 where the help says it means 'all')."""

VERSION = click.IntRange(1, 2**31 - 1)
"""A route version."""
