"""Customer messages of a period with what the bot decided about each, read back from the store.

The engine keeps a decision with the replies it caused (`meta` of the bot's and system's
messages, whose `in_reply_to` is the customer's platform message id), not with the customer's
message. So one query joins each customer message of the period to its replies, an outer join:
a message without a decision (a 1-5 rating, a message to an agent or to a waiting chat, one not
processed yet) is still counted as a message. Only the few JSON fields needed are read, through
SQLAlchemy's JSON paths, which SQLite and PostgreSQL both understand.

The query reads the period's messages through the index on `created_at`, one row per customer
message and reply: the daily report and the unanswered questions need each turn. The dashboard's
figures need only counts, which the database makes (app/ops_stats.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.store.tables import Message

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
    picked: bool = False  # suggestions, one of which the customer's next message picked

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
    turns = [_turn(list(replies)) for _, replies in groupby(rows.all(), key=lambda row: row[0])]
    _mark_picked(turns)
    return turns


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


def _mark_picked(turns: list[CustomerTurn]) -> None:
    """Suggestions whose conversation's next customer message picked one by number."""
    latest: dict[str, CustomerTurn] = {}
    for turn in turns:
        if turn.conversation_id is None:
            continue
        before = latest.get(turn.conversation_id)
        if before is not None and before.action == "suggest" and turn.reason == PICKED:
            before.picked = True
        latest[turn.conversation_id] = turn
