"""wave numbers claimed once per route and wijk

Revision ID: 0020_waves
Revises: 0019_name_trigram_index
Create Date: 2026-12-01

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0020_waves"
down_revision: str | Sequence[str] | None = "0019_name_trigram_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CASES = sa.table("cases", sa.column("workflow_id", sa.String), sa.column("wijk", sa.String),
                  sa.column("wave", sa.Integer))


def upgrade() -> None:
    """Upgrade schema: one row per wave number, unique per route and wijk; the waves planned
    before, as their cases record them."""
    waves = op.create_table(
        "waves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sa.String(length=80), nullable=False),
        sa.Column("wijk", sa.String(length=80), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("planned_at", sa.DateTime(), nullable=True),
        sa.Column("planned_by", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workflow_id", "wijk", "number", name="uq_waves_route_wijk_number"),
    )
    c = _CASES.c
    rows = op.get_bind().execute(
        sa.select(c.workflow_id, c.wijk, c.wave).where(c.wave.is_not(None))
        .group_by(c.workflow_id, c.wijk, c.wave)).all()
    if rows:
        op.bulk_insert(waves, [{"workflow_id": r.workflow_id, "wijk": r.wijk, "number": r.wave}
                               for r in rows])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("waves")
