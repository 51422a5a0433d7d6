"""index people by postcode and house number, for search

Revision ID: 0018_postcode_search
Revises: 0017
Create Date: 2026-12-01

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0018_postcode_search"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""

    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.create_index("ix_participants_postcode_house_number",
                              ["postcode", "house_number"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""

    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.drop_index("ix_participants_postcode_house_number")
