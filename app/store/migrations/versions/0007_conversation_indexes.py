"""indexes for the assigner's and timers' once-a-second queries and a customer's past conversations

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 09:00:00.000000
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_conversations_address", "conversations", ["channel", "account", "customer_id"])
    op.create_index("ix_conversations_state", "conversations", ["state"])
    op.create_index("ix_conversations_assigned_at", "conversations", ["assigned_at"])


def downgrade() -> None:
    op.drop_index("ix_conversations_assigned_at", table_name="conversations")
    op.drop_index("ix_conversations_state", table_name="conversations")
    op.drop_index("ix_conversations_address", table_name="conversations")
