"""Customer messages of a period with what the bot decided about each, read back from the store.

The engine keeps a decision with the replies it caused (`meta` of the bot's and system's
messages, whose `in_reply_to` is the customer's platform message id), not with the customer's
message. So one query joins each customer message of the period to its replies, an outer join:
a message without a decision (a 1-5 rating, a message to an agent or to a waiting chat, one not
processed yet) is still counted as a message. Only the few JSON fields needed are read, through
SQLAlchemy's JSON paths, which SQLite and PostgreSQL both understand.

The figures of the dashboard and the daily report need only counts and the unanswered questions
only the few messages that are, so the database reduces each message to one row
(`per_customer_message`, through the index on `created_at`) and does the rest (app/ops_stats.py,
app/quality_report.py, app/gaps.py).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import ColumnElement, Select, and_, bindparam, case, func, select

from app.store.tables import Message, UTCDateTime

BOT_ACTIONS = frozenset({"answer", "suggest", "clarify", "handoff"})
PICKED = "picked suggestion"  # the reason of an answer chosen by number from the bot's suggestions


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


def carried_faq_entry(reply: type[Message]) -> ColumnElement[int]:
    """1 when a reply carried an FAQ entry (an answer, or a suggestion picked by number), else 0."""
    return func.max(case((reply.faq_id.is_not(None), 1), else_=0))


def replies_of(message: type[Message], reply: type[Message]) -> ColumnElement[bool]:
    """The join of a customer message to the replies its decision caused."""
    return and_(
        reply.conversation_id == message.conversation_id,
        reply.in_reply_to == message.platform_message_id,
        reply.direction == "out",
    )
