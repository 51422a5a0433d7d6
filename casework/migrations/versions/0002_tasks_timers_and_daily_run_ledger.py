"""tasks timers and daily run ledger

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""

    op.create_table(
        "daily_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_date", sa.Date(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column(
            "summary",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("host", sa.String(length=200), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("daily_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_daily_runs_run_date"), ["run_date"], unique=False)

    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("performer", sa.String(length=10), server_default="staff", nullable=False)
        )
        batch_op.add_column(
            sa.Column("scope", sa.String(length=10), server_default="state", nullable=False)
        )
        batch_op.add_column(sa.Column("role", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("label", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column(
                "spec",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("origin_seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("escalate_to", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("escalated_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("done_by", sa.String(length=80), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""

    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("done_by")
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("escalate_to")
        batch_op.drop_column("last_error")
        batch_op.drop_column("origin_seq")
        batch_op.drop_column("spec")
        batch_op.drop_column("label")
        batch_op.drop_column("role")
        batch_op.drop_column("scope")
        batch_op.drop_column("performer")

    with op.batch_alter_table("daily_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_daily_runs_run_date"))

    op.drop_table("daily_runs")
