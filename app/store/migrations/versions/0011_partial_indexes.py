"""indexes over the rows where their column is set: a row written before it is set skips them

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 20:00:00.000000
"""

from alembic import op
from sqlalchemy import text

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# (index, table, columns, unique, the column a row must have set to be in the index)
INDEXES = [
    ("ix_conversations_agent_id", "conversations", ["agent_id"], False, "agent_id"),
    ("ix_conversations_assigned_at", "conversations", ["assigned_at"], False, "assigned_at"),
    ("ix_conversations_queued_at", "conversations", ["queued_at"], False, "queued_at"),
    ("ix_conversations_closed_at", "conversations", ["closed_at"], False, "closed_at"),
    ("uq_messages_platform_id", "messages", ["channel", "account", "platform_message_id"], True, "platform_message_id"),
    ("ix_messages_conversation", "messages", ["conversation_id", "id"], False, "conversation_id"),
]


def upgrade() -> None:
    for name, table, columns, unique, set_column in INDEXES:
        op.drop_index(name, table_name=table)
        condition = text(f"{set_column} IS NOT NULL")
        op.create_index(name, table, columns, unique=unique, sqlite_where=condition, postgresql_where=condition)


def downgrade() -> None:
    for name, table, columns, unique, _ in INDEXES:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns, unique=unique)
