"""pull cursors (WeCom KF sync_msg)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 10:12:00.000000
"""

import sqlalchemy as sa
from alembic import op

import app.store.tables

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_cursors",
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=128), nullable=False),
        sa.Column("cursor", sa.String(length=256), nullable=False),
        sa.Column("updated_at", app.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "account", "stream"),
    )


def downgrade() -> None:
    op.drop_table("sync_cursors")
