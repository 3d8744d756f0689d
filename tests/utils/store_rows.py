"""Factories for stored conversations: customer messages and the replies the engine would store with them.

The rows have the shape the engine writes (see app/engine/conversations.py and app/engine/bot.py):
the decision's meta on every reply it caused, `in_reply_to` the customer's platform message id.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.store.tables import Conversation, ConversationState, Message


def conversation(session: AsyncSession, customer_id: str, **fields: Any) -> Conversation:
    row = Conversation(
        id=uuid.uuid4().hex,
        channel="web",
        account="default",
        customer_id=customer_id,
        state=fields.pop("state", ConversationState.CLOSED),
        **fields,
    )
    session.add(row)
    return row


def turn(
    session: AsyncSession,
    chat: Conversation,
    text: str,
    at: datetime,
    *,
    action: str | None = None,
    reasons: tuple[str, ...] = (),
    faq_id: str | None = None,
    handoff: tuple[str, str] | None = None,  # (queue, level)
) -> Message:
    """A customer message and, when `action` is given, the bot's reply (and handoff notice) to it."""
    message = Message(
        conversation_id=chat.id,
        channel=chat.channel,
        account=chat.account,
        customer_id=chat.customer_id,
        direction="in",
        sender="customer",
        platform_message_id=uuid.uuid4().hex,
        text=text,
        created_at=at,
        processed_at=at,
        meta={"reading": None, "intent": None},
    )
    session.add(message)
    if action is None:
        return message
    meta: dict[str, Any] = {"action": action, "reasons": list(reasons), "intent": {"name": None}}
    if handoff is not None:
        meta["handoff"] = {"queue": handoff[0], "queue_name": handoff[0], "level": handoff[1], "priority": 10}
    senders = ["bot"] if handoff is None else (["bot", "system"] if action == "answer" else ["system"])
    for number, sender in enumerate(senders):
        reply(session, chat, message, sender=sender, faq_id=faq_id if number == 0 else None, meta=meta)
    return message


def reply(
    session: AsyncSession,
    chat: Conversation,
    to: Message,
    *,
    sender: str = "system",
    text: str = "…",
    faq_id: str | None = None,
    meta: dict[str, Any] | None = None,
) -> Message:
    row = Message(
        conversation_id=chat.id,
        channel=chat.channel,
        account=chat.account,
        customer_id=chat.customer_id,
        direction="out",
        sender=sender,
        text=text,
        in_reply_to=to.platform_message_id,
        faq_id=faq_id,
        meta=meta,
        created_at=to.created_at,
        processed_at=to.created_at,
    )
    session.add(row)
    return row


def unprocessed(session: AsyncSession, customer_id: str, platform_id: str, text: str, **fields: Any) -> Message:
    """A customer's web message as intake stores it, waiting for the engine."""
    row = Message(
        channel="web",
        account="default",
        customer_id=customer_id,
        direction="in",
        sender="customer",
        platform_message_id=platform_id,
        text=text,
        **fields,
    )
    session.add(row)
    return row
