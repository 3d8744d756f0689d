"""Add a message for the customer to a conversation, with its outbox row, in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from adapters.base import OutboundMessage
from app.engine.outbox import outbound_message
from app.store.tables import Conversation, Message, OutboxItem, utcnow


async def add_reply(
    session: AsyncSession,
    conversation: Conversation,
    *,
    sender: str,
    text: str,
    in_reply_to: str | None = None,
    faq_id: str | None = None,
    faq_score: float | None = None,
    meta: dict[str, Any] | None = None,
) -> OutboundMessage:
    """Store the message and queue its delivery; the caller publishes it after the commit."""
    row = Message(
        conversation_id=conversation.id,
        channel=conversation.channel,
        account=conversation.account,
        customer_id=conversation.customer_id,
        direction="out",
        sender=sender,
        text=text,
        in_reply_to=in_reply_to,
        faq_id=faq_id,
        faq_score=faq_score,
        meta=meta or None,
        processed_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    session.add(OutboxItem(message_id=row.id, conversation_id=conversation.id, channel=conversation.channel))
    return outbound_message(row, conversation)
