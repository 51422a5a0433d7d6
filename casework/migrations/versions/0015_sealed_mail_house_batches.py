"""sealed mail-house batches

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07

"""

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import PurePath

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LETTERS = sa.table(
    "letters", sa.column("batch", sa.String), sa.column("status", sa.String),
    sa.column("file", sa.String), sa.column("pages", sa.Integer),
    sa.column("sheets", sa.Integer), sa.column("rendered_at", sa.DateTime),
    sa.column("sent_at", sa.DateTime),
)


def upgrade() -> None:
    """Upgrade schema."""

    batches = op.create_table(
        "batches",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("run_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("made_at", sa.DateTime(), nullable=False),
        sa.Column("letters", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("sheets", sa.Integer(), nullable=False),
        sa.Column("pdf", sa.String(length=300), nullable=False),
        sa.Column("manifest", sa.String(length=300), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("sent_by", sa.String(length=80), nullable=True),
        sa.Column("remade_at", sa.DateTime(), nullable=True),
        sa.Column("remade_by", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    # The batches made before this revision, as their letters record them.
    c = _LETTERS.c
    rows = op.get_bind().execute(
        sa.select(c.batch, sa.func.count().label("letters"),
                  sa.func.coalesce(sa.func.sum(c.pages), 0).label("pages"),
                  sa.func.coalesce(sa.func.sum(c.sheets), 0).label("sheets"),
                  sa.func.max(c.rendered_at).label("made_at"),
                  sa.func.min(c.sent_at).label("sent_at"),
                  sa.func.sum(sa.case((c.status == "in_batch", 1), else_=0)).label("unsent"),
                  sa.func.max(c.file).label("file"))
        .where(c.batch.is_not(None)).group_by(c.batch)
    ).all()
    now = datetime.now(UTC).replace(tzinfo=None)
    made = []
    for row in rows:
        # A letter is written to <output>/<date>/letters/<id>.pdf, its batch beside them.
        folder = PurePath(row.file).parent.parent if row.file else PurePath()
        try:
            run_date = datetime.strptime(row.batch[:8], "%Y%m%d").date()
        except ValueError:
            run_date = (row.made_at or now).date()
        made.append({
            "name": row.batch, "run_date": run_date,
            "status": "made" if row.unsent else "sent", "made_at": row.made_at or now,
            "letters": row.letters, "pages": row.pages, "sheets": row.sheets,
            "pdf": str(folder / f"batch-{row.batch}.pdf"),
            "manifest": str(folder / f"batch-{row.batch}.csv"),
            "sent_at": None if row.unsent else row.sent_at,
            "sent_by": None, "remade_at": None, "remade_by": None,
        })
    if made:
        op.bulk_insert(batches, made)


def downgrade() -> None:
    """Downgrade schema."""

    op.drop_table("batches")
