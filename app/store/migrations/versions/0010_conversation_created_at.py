"""an index on when conversations started: the daily report counts the day's (bot containment)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 12:30:00.000000
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_conversations_created_at", "conversations", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_conversations_created_at", table_name="conversations")
