"""Add a message for the customer to a conversation, with its outbox row, in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import literal
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.base import Address, OutboundMessage
from app.engine.outbox import held_back_until
from app.store.tables import Conversation, Message, OutboxItem, UTCDateTime, new_id, utcnow


async def add_reply(session: AsyncSession, conversation: Conversation, **reply: Any) -> OutboundMessage:
    """Store the message (`reply`: reply_row's fields) and queue its delivery; the caller publishes it
    after the commit.

    Nothing is written yet: the transaction's next flush inserts the message, then its outbox row
    (rows go in the order they were added, so a conversation's replies keep their order).
    """
    row = reply_row(conversation, **reply)
    message = Message(**row)
    session.add(message)
    first_try = held_back_until(conversation.id, literal(utcnow(), UTCDateTime()))
    session.add(OutboxItem(message=message, conversation_id=conversation.id, channel=conversation.channel,
                           next_attempt_at=first_try))  # fmt: skip
    return outbound_of(row)


def reply_row(
    conversation: Conversation,
    *,
    sender: str,
    text: str,
    in_reply_to: str | None = None,
    faq_id: str | None = None,
    faq_score: float | None = None,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The message's columns (its outbox row is made from them too)."""
    return {
        "public_id": new_id(),
        "conversation_id": conversation.id,
        "channel": conversation.channel,
        "account": conversation.account,
        "customer_id": conversation.customer_id,
        "direction": "out",
        "sender": sender,
        "text": text,
        "in_reply_to": in_reply_to,
        "faq_id": faq_id,
        "faq_score": faq_score,
        "meta": meta or None,
        "processed_at": utcnow(),
    }


def outbound_of(row: dict[str, Any]) -> OutboundMessage:
    """The adapter's view of a stored outbound message."""
    address = Address(row["channel"], row["account"], row["customer_id"])
    sender, text, in_reply_to = row["sender"], row["text"], row["in_reply_to"]
    return OutboundMessage(row["public_id"], row["conversation_id"], address, sender, text, in_reply_to)
