"""agents and assignment

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 17:47:36.652995
"""

import sqlalchemy as sa
from alembic import op

import app.store.tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", app.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
        sa.UniqueConstraint("username"),
    )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agent_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("queued_at", app.store.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("notified_at", app.store.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("assigned_at", app.store.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("first_agent_reply_at", app.store.tables.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("closed_at", app.store.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("disposition", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("satisfaction", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("ticket", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index(batch_op.f("ix_conversations_agent_id"), ["agent_id"], unique=False)
        batch_op.create_foreign_key("fk_conversations_agent_id", "agents", ["agent_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_constraint("fk_conversations_agent_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_conversations_agent_id"))
        batch_op.drop_column("ticket")
        batch_op.drop_column("satisfaction")
        batch_op.drop_column("disposition")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("first_agent_reply_at")
        batch_op.drop_column("assigned_at")
        batch_op.drop_column("notified_at")
        batch_op.drop_column("queued_at")
        batch_op.drop_column("agent_id")

    op.drop_table("agents")
