"""letters for mailing

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""

    with op.batch_alter_table("letters", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "payload",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("partner", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("sheets", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "address",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("postcode", sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("origin_seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("sent_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("returned_at", sa.DateTime(), nullable=True))
        batch_op.create_index("ix_letters_batch", ["batch"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""

    with op.batch_alter_table("letters", schema=None) as batch_op:
        batch_op.drop_index("ix_letters_batch")
        batch_op.drop_column("returned_at")
        batch_op.drop_column("sent_at")
        batch_op.drop_column("origin_seq")
        batch_op.drop_column("attempts")
        batch_op.drop_column("reason")
        batch_op.drop_column("postcode")
        batch_op.drop_column("address")
        batch_op.drop_column("sheets")
        batch_op.drop_column("partner")
        batch_op.drop_column("payload")
