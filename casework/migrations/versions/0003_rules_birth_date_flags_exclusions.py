"""rules: birth date, flags, exclusions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("excluded", sa.String(length=80), nullable=True))

    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("birth_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("flag", sa.String(length=20), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""

    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.drop_column("flag")
        batch_op.drop_column("birth_date")

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("excluded")
