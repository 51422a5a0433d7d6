"""a trigram index on people's names, for name search

Revision ID: 0019_name_trigram_index
Revises: 0018_postcode_search
Create Date: 2026-12-01

"""

from collections.abc import Sequence

from alembic import op

from casework import name_index

# revision identifiers, used by Alembic.
revision: str = "0019_name_trigram_index"
down_revision: str | Sequence[str] | None = "0018_postcode_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema: SQLite an FTS5 trigram table kept by triggers, PostgreSQL pg_trgm
    indexes (casework.name_index), filled from the people stored."""
    name_index.create(op.get_bind())


def downgrade() -> None:
    """Downgrade schema."""
    name_index.drop(op.get_bind())
