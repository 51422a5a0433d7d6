"""index events by trigger for reports

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_trigger_at", ["trigger", "at"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_trigger_at")
