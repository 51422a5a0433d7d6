"""staff roles wijken projects

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    """Upgrade schema."""

    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("roles", JSON, nullable=True))
        batch_op.add_column(sa.Column("wijken", JSON, nullable=True))
        batch_op.add_column(sa.Column("projects", JSON, nullable=True))


def downgrade() -> None:
    """Downgrade schema."""

    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("projects")
        batch_op.drop_column("wijken")
        batch_op.drop_column("roles")
