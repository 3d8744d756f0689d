"""initial tables

Revision ID: 0001
Revises:
Create Date: 2026-11-23 16:55:03.119471
"""

import sqlalchemy as sa
from alembic import op

import app.store.tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("customer", sa.JSON(), nullable=False),
        sa.Column("created_at", app.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_index(
            "uq_conversations_open_address",
            ["channel", "account", "customer_id"],
            unique=True,
            sqlite_where=sa.text("state != 'closed'"),
            postgresql_where=sa.text("state != 'closed'"),
        )

    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("sender", sa.String(length=16), nullable=False),
        sa.Column("platform_message_id", sa.String(length=128), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("customer", sa.JSON(), nullable=True),
        sa.Column("sent_at", app.store.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", app.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", app.store.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("in_reply_to", sa.String(length=128), nullable=True),
        sa.Column("faq_id", sa.String(length=128), nullable=True),
        sa.Column("faq_score", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("public_id"),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_address", ["channel", "account", "customer_id", "id"], unique=False)
        batch_op.create_index("ix_messages_conversation", ["conversation_id", "id"], unique=False)
        batch_op.create_index(
            "ix_messages_pending",
            ["id"],
            unique=False,
            sqlite_where=sa.text("direction = 'in' AND processed_at IS NULL"),
            postgresql_where=sa.text("direction = 'in' AND processed_at IS NULL"),
        )
        batch_op.create_index("uq_messages_platform_id", ["channel", "account", "platform_message_id"], unique=True)

    op.create_table(
        "state_transitions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", app.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("state_transitions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_state_transitions_conversation_id"), ["conversation_id"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", app.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", app.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", app.store.tables.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_conversation", ["conversation_id", "status", "id"], unique=False)
        batch_op.create_index("ix_outbox_due", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_due")
        batch_op.drop_index("ix_outbox_conversation")

    op.drop_table("outbox")
    with op.batch_alter_table("state_transitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_state_transitions_conversation_id"))

    op.drop_table("state_transitions")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("uq_messages_platform_id")
        batch_op.drop_index(
            "ix_messages_pending",
            sqlite_where=sa.text("direction = 'in' AND processed_at IS NULL"),
            postgresql_where=sa.text("direction = 'in' AND processed_at IS NULL"),
        )
        batch_op.drop_index("ix_messages_conversation")
        batch_op.drop_index("ix_messages_address")

    op.drop_table("messages")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_conversations_open_address",
            sqlite_where=sa.text("state != 'closed'"),
            postgresql_where=sa.text("state != 'closed'"),
        )

    op.drop_table("conversations")
