"""conversations: the queue, level, priority and reasons of the latest handoff

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch_op:
        batch_op.add_column(sa.Column("queue", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("level", sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column("priority", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("handoff_reasons", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch_op:
        for column in ("handoff_reasons", "priority", "level", "queue"):
            batch_op.drop_column(column)
