"""Customer messages of a period with what the bot decided about each, read back from the store.

The engine keeps a decision with the replies it caused (`meta` of the bot's and system's
messages, whose `in_reply_to` is the customer's platform message id), not with the customer's
message. So one query joins each customer message of the period to its replies, an outer join:
a message without a decision (a 1-5 rating, a message to an agent or to a waiting chat, one not
processed yet) is still counted as a message. Only the few JSON fields needed are read, through
SQLAlchemy's JSON paths, which SQLite and PostgreSQL both understand.

Both read the period's messages through the index on `created_at`. `customer_turns` returns one
row per customer message and reply: the daily report needs each turn. The dashboard's figures need
only counts and the unanswered questions only the few messages that are, so for them the database
reduces each message to one row (`per_customer_message`) and does the rest (app/ops_stats.py,
app/gaps.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

from sqlalchemy import ColumnElement, Select, and_, bindparam, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.store.tables import Message, UTCDateTime

BOT_ACTIONS = frozenset({"answer", "suggest", "clarify", "handoff"})
PICKED = "picked suggestion"  # the reason of an answer chosen by number from the bot's suggestions


@dataclass
class CustomerTurn:
    id: int
    conversation_id: str | None
    at: datetime
    text: str
    action: str | None = None  # answer | suggest | clarify | handoff; None when the bot did not decide
    reason: str | None = None  # the rule of the decision's first reason: faq:none, emotion:angry, …
    answered: bool = False  # a reply carried an FAQ entry (an answer, or a suggestion picked by number)
    handoff_queue: str | None = None
    handoff_level: str | None = None

    @property
    def decided(self) -> bool:
        return self.action is not None


async def customer_turns(session: AsyncSession, start: datetime, end: datetime) -> list[CustomerTurn]:
    """Every customer message with `start <= created_at < end`, oldest first, with the bot's decision."""
    reply = aliased(Message)
    rows = await session.execute(
        select(
            Message.id,
            Message.conversation_id,
            Message.created_at,
            Message.text,
            reply.faq_id,
            reply.meta["action"].as_string(),
            reply.meta[("reasons", 0)].as_string(),
            reply.meta[("handoff", "queue")].as_string(),
            reply.meta[("handoff", "level")].as_string(),
        )
        .outerjoin(reply, replies_of(Message, reply))
        .where(
            Message.direction == "in",
            Message.sender == "customer",
            Message.created_at >= start,
            Message.created_at < end,
        )
        .order_by(Message.id, reply.id)
    )
    return [_turn(list(replies)) for _, replies in groupby(rows.all(), key=lambda row: row[0])]


def per_customer_message(reply: type[Message], *columns: ColumnElement) -> Select:
    """Customer messages with `start <= created_at < end` (bound parameters), each joined to its
    replies and grouped back to one row: `columns` are the message's own or aggregates of `reply`."""
    return (
        select(*columns)
        .outerjoin(reply, replies_of(Message, reply))
        .where(
            Message.direction == "in",
            Message.sender == "customer",
            Message.created_at >= bindparam("start", type_=UTCDateTime()),
            Message.created_at < bindparam("end", type_=UTCDateTime()),
        )
        # Message.id alone would be grouped in the table's order, which SQLite reads by scanning
        # every message; in the created_at index's order, it reads only the period's.
        .group_by(Message.created_at, Message.id)
    )


def of_decision(reply: type[Message]) -> Callable[[ColumnElement], ColumnElement]:
    """An aggregate of a value over the replies that carry the bot's decision (they share its meta)."""
    deciding = reply.meta["action"].as_string().in_(BOT_ACTIONS)
    return lambda value: func.max(case((deciding, value)))


def replies_of(message: type[Message], reply: type[Message]) -> ColumnElement[bool]:
    """The join of a customer message to the replies its decision caused."""
    return and_(
        reply.conversation_id == message.conversation_id,
        reply.in_reply_to == message.platform_message_id,
        reply.direction == "out",
    )


def _turn(rows: list) -> CustomerTurn:
    """One customer message from its rows, one per reply; replies of one decision share its meta."""
    message_id, conversation_id, at, text = rows[0][:4]
    turn = CustomerTurn(message_id, conversation_id, at, text)
    for *_, faq_id, action, reason, queue, level in rows:
        turn.answered = turn.answered or faq_id is not None
        if turn.action is None and action in BOT_ACTIONS:
            turn.action, turn.handoff_queue, turn.handoff_level = action, queue, level
            turn.reason = reason.split(": ", 1)[0] if reason else None
    return turn
