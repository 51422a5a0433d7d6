"""letters indexed by batch only once they are in one

Revision ID: 0021_letters_batch
Revises: 0020_waves
Create Date: 2026-12-01

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0021_letters_batch"
down_revision: str | Sequence[str] | None = "0020_waves"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCHED = sa.text("batch IS NOT NULL")


def upgrade() -> None:
    """Upgrade schema: ix_letters_batch holds the letters that are in a batch only (a queued
    letter, without one, adds no entry); every query by batch names one."""
    op.drop_index("ix_letters_batch", table_name="letters")
    op.create_index("ix_letters_batch", "letters", ["batch"], unique=False,
                    sqlite_where=_BATCHED, postgresql_where=_BATCHED)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_letters_batch", table_name="letters")
    op.create_index("ix_letters_batch", "letters", ["batch"], unique=False)
