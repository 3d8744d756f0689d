"""Close a conversation (by an agent, or when it sits idle) and ask for a rating; record the rating.

After a close the customer's next message opens a new conversation with the bot, except a bare
1-5 soon after: that is the rating of the closed one.
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.base import Address, OutboundMessage
from app import metrics
from app.engine.batch_writes import PendingMessage
from app.engine.replies import add_reply
from app.store.tables import Conversation, ConversationState, StateTransition, utcnow
from routing.rules import Templates

RATING = re.compile(r"^\s*([1-5])\s*(分|星)?\s*$")
RATING_WINDOW = timedelta(minutes=30)


async def close(
    session: AsyncSession, conversation: Conversation, *, disposition: str, by: str, templates: Templates
) -> OutboundMessage:
    """Mark closed with its reason code, record who closed it, and ask the customer for a rating."""
    session.add(
        StateTransition(
            conversation_id=conversation.id,
            from_state=conversation.state,
            to_state=ConversationState.CLOSED,
            reason=f"closed by {by}: {disposition}",
        )
    )
    conversation.state, conversation.closed_at, conversation.disposition = (
        ConversationState.CLOSED,
        utcnow(),
        disposition,
    )
    metrics.RESOLUTION.observe((conversation.closed_at - conversation.created_at).total_seconds())
    return await add_reply(session, conversation, sender="system", text=templates.closed, meta={"asks_rating": True})


async def record_rating(
    session: AsyncSession, address: Address, message: PendingMessage, templates: Templates
) -> OutboundMessage | None:
    """If `message` is a 1-5 answer to a recent close, store it on that conversation and thank the customer."""
    found = RATING.match(message.text)
    if not found:
        return None
    closed = await session.scalar(
        select(Conversation)
        .where(
            Conversation.channel == address.channel,
            Conversation.account == address.account,
            Conversation.customer_id == address.customer_id,
            Conversation.state == ConversationState.CLOSED,
            Conversation.closed_at >= utcnow() - RATING_WINDOW,
            Conversation.satisfaction.is_(None),
        )
        .order_by(Conversation.closed_at.desc())
        .limit(1)
    )
    if closed is None:
        return None
    closed.satisfaction = int(found.group(1))
    metrics.SATISFACTION.labels(str(closed.satisfaction)).inc()
    message.conversation_id = closed.id
    return await add_reply(
        session, closed, sender="system", text=templates.rated, in_reply_to=message.platform_message_id
    )
