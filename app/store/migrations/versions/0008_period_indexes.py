"""indexes for the ops figures, gaps and reports, which read one period's messages and conversations

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 19:00:00.000000
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_messages_created_at", "messages", ["created_at"])
    op.create_index("ix_conversations_queued_at", "conversations", ["queued_at"])
    op.create_index("ix_conversations_closed_at", "conversations", ["closed_at"])


def downgrade() -> None:
    op.drop_index("ix_conversations_closed_at", table_name="conversations")
    op.drop_index("ix_conversations_queued_at", table_name="conversations")
    op.drop_index("ix_messages_created_at", table_name="messages")
