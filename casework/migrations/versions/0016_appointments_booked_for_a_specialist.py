"""appointments booked for a specialist

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PLANNED = sa.text("status = 'planned' AND specialist IS NOT NULL")


def upgrade() -> None:
    """Upgrade schema: who holds the conversation; one planned appointment per specialist and
    moment."""
    with op.batch_alter_table("appointments") as batch:
        batch.add_column(sa.Column("specialist", sa.String(length=80), nullable=True))
    op.create_index("ix_appointments_specialist_booked", "appointments",
                    ["specialist", "starts_at"], unique=True,
                    sqlite_where=_PLANNED, postgresql_where=_PLANNED)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_appointments_specialist_booked", table_name="appointments")
    with op.batch_alter_table("appointments") as batch:
        batch.drop_column("specialist")
