"""applied lines keyed by their case first; the old keys are still recognised

Revision ID: 0022_applied_line_keys
Revises: 0021_letters_batch
Create Date: 2026-12-01

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0022_applied_line_keys"
down_revision: str | Sequence[str] | None = "0021_letters_batch"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MARK = "applied_lines_hashed_keys"  # casework.bulk.LEGACY_KEYS


def upgrade() -> None:
    """A line without an id is now stored under a key that begins with its case (so a file's
    lines sit side by side in the index); the keys stored before were a hash alone and
    cannot be turned into the new form (the hash is of the line's content, which is not
    kept). A database holding such lines is marked, and an apply then looks up both forms, so
    a file applied before this upgrade is still recognised as applied."""
    conn = op.get_bind()
    if conn.execute(sa.text("SELECT 1 FROM applied_lines LIMIT 1")).first() is None:
        return
    # Once: a database taken down to 0021 and up again keeps the mark its downgrade left.
    if conn.execute(sa.text("SELECT 1 FROM database_marks WHERE name = :name"),
                    {"name": _MARK}).first() is None:
        conn.execute(sa.text("INSERT INTO database_marks (name, value) VALUES (:name, 'true')"),
                     {"name": _MARK})


def downgrade() -> None:
    """Downgrade: keys of the new form are not recognised by older versions (a file applied
    since would apply again), so the mark is left as it is."""
