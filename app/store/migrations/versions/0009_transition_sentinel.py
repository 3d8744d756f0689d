"""a sentinel column on state_transitions, so one flush can insert many transitions at once

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 22:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("state_transitions", sa.Column("_sentinel", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("state_transitions", "_sentinel")
