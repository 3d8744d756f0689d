"""Close a conversation (by an agent, or when it sits idle) and ask for a rating; record the rating.

After a close the customer's next message opens a new conversation with the bot, except a bare
1-5 soon after: that is the rating of the closed one.
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from adapters.base import Address, OutboundMessage
from app import metrics
from app.engine.batch_writes import CONVERSATION_COLUMNS, BatchWrites, OpenConversation, PendingMessage
from app.engine.replies import add_reply
from app.store.sqlite_statements import read_rows
from app.store.tables import Conversation, ConversationState, StateTransition, UTCDateTime, utcnow
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
    connection: AsyncConnection, address: Address, message: PendingMessage, templates: Templates, writes: BatchWrites
) -> OutboundMessage | None:
    """If `message` is a 1-5 answer to a recent close, stage it on that conversation and thank the customer."""
    found = RATING.match(message.text)
    if not found:
        return None
    where = {"channel": address.channel, "account": address.account, "customer": address.customer_id}
    rows = await read_rows(connection, _RECENTLY_CLOSED, {**where, "since": utcnow() - RATING_WINDOW})
    if not rows:
        return None
    closed = OpenConversation(*rows[0])
    writes.change(closed, satisfaction=int(found.group(1)))
    metrics.SATISFACTION.labels(str(closed.satisfaction)).inc()
    message.conversation_id = closed.id
    return writes.reply(closed, sender="system", text=templates.rated, in_reply_to=message.platform_message_id)


_CONVERSATIONS = Conversation.__table__.c
_RECENTLY_CLOSED = (  # the customer's latest conversation closed since `since`, not yet rated
    select(*(_CONVERSATIONS[name] for name in CONVERSATION_COLUMNS))
    .where(
        Conversation.channel == bindparam("channel"),
        Conversation.account == bindparam("account"),
        Conversation.customer_id == bindparam("customer"),
        Conversation.state == ConversationState.CLOSED,
        Conversation.closed_at >= bindparam("since", type_=UTCDateTime()),
        Conversation.satisfaction.is_(None),
    )
    .order_by(Conversation.closed_at.desc())
    .limit(1)
)
