"""Add a message for the customer to a conversation, with its outbox row, in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.base import Address, OutboundMessage
from app.store.tables import Conversation, Message, OutboxItem, new_id, utcnow


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
    """Store the message and queue its delivery; the caller publishes it after the commit.

    Nothing is written yet: the transaction's next flush inserts the message, then its outbox row
    (rows go in the order they were added, so a conversation's replies keep their order).
    """
    row = _reply_row(conversation, sender, text, in_reply_to, faq_id, faq_score, meta)
    message = Message(**row)
    session.add(message)
    session.add(OutboxItem(message=message, conversation_id=conversation.id, channel=conversation.channel))
    return _outbound(row)


class StagedReplies:
    """A batch's replies, written by two Core statements once the batch's ORM changes are flushed.

    The conversation engine's replies, many per transaction: the ORM's unit of work spent about
    200 µs a reply on them (objects, their relationship, each message's new id fetched back for
    its outbox row); here the outbox rows find their message by its public id instead.
    """

    def __init__(self) -> None:
        self._rows: list[dict[str, Any]] = []

    def add(
        self,
        conversation: Conversation,
        *,
        sender: str,
        text: str,
        in_reply_to: str | None = None,
        faq_id: str | None = None,
        faq_score: float | None = None,
        meta: dict[str, Any] | None = None,
    ) -> OutboundMessage:
        """Stage the message and its delivery, in order; `write` stores them."""
        row = _reply_row(conversation, sender, text, in_reply_to, faq_id, faq_score, meta)
        self._rows.append(row)
        return _outbound(row)

    async def write(self, session: AsyncSession) -> None:
        """After the flush that inserts their conversations (the messages refer to them)."""
        if self._rows:
            await session.execute(_INSERT_MESSAGES, self._rows)
            deliveries = [{k: row[k] for k in ("public_id", "conversation_id", "channel")} for row in self._rows]
            await session.execute(_INSERT_OUTBOX, deliveries)
            self._rows = []


def _reply_row(
    conversation: Conversation,
    sender: str,
    text: str,
    in_reply_to: str | None,
    faq_id: str | None,
    faq_score: float | None,
    meta: dict[str, Any] | None,
) -> dict[str, Any]:
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


def _outbound(row: dict[str, Any]) -> OutboundMessage:
    """The adapter's view of a stored outbound message."""
    address = Address(row["channel"], row["account"], row["customer_id"])
    sender, text, in_reply_to = row["sender"], row["text"], row["in_reply_to"]
    return OutboundMessage(row["public_id"], row["conversation_id"], address, sender, text, in_reply_to)


_MESSAGES = Message.__table__
_INSERT_MESSAGES = insert(_MESSAGES)  # executed with each row's dict: its keys are the columns
_INSERT_OUTBOX = insert(OutboxItem.__table__).values(
    message_id=select(_MESSAGES.c.id).where(_MESSAGES.c.public_id == bindparam("public_id")).scalar_subquery(),
    conversation_id=bindparam("conversation_id"),
    channel=bindparam("channel"),
)
