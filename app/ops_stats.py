"""The ops dashboard's figures: per hour over the last 24 hours or per day over the last 7 days, China time.

What is counted (everything is read from the store):

- messages: customer messages (direction `in`, sender `customer`) that arrived in the bucket.
- decided: those the bot decided about (answer, suggest, clarify or handoff). Ratings, messages to
  an agent or to a waiting chat and messages not processed yet are messages but not decided.
- answered: decided messages answered with an FAQ entry, directly or by picking a suggestion by
  number. answer_rate = answered / decided.
- handoffs: bot decisions that handed the chat to a queue (by the customer message's time), by the
  rule of the decision's first reason, by queue and by level.
- queue_wait: assigned_at - queued_at, first_response: first_agent_reply_at - queued_at (the
  customer's wait from the handoff to a person's first reply, as the kefu_first_response_seconds
  metric), both for the chats queued in the bucket that got that far; 留言 tickets (handed off out of
  hours) are left out. within_target: first responses of at most 30 seconds.
- satisfaction: the 1-5 ratings of chats closed in the bucket.

The median is the middle value (the mean of the two middle ones), p90 the nearest rank. The
customer messages are counted by the database, per bucket and outcome (a few hundred rows however
many messages: a promotion day has millions, and the page asks every minute); the conversations
queued or closed in the period come one row each, for the waits' medians. `scanned` in the result
says how many of each.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Select, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.decisions import carried_faq_entry, of_decision, per_customer_message
from app.metrics import FIRST_RESPONSE_TARGET_SECONDS
from app.store.sql_functions import epoch_ms, rule_of
from app.store.tables import Conversation, Message, utcnow

CHINA = ZoneInfo("Asia/Shanghai")
Range = Literal["24h", "7d"]


@dataclass(frozen=True)
class Window:
    """Consecutive buckets ending with the one `now` is in; China keeps no summer time, so steps are fixed."""

    first: datetime  # the first bucket's start, China time
    step: timedelta
    count: int
    end: datetime

    @classmethod
    def of(cls, range_: Range, now: datetime) -> Window:
        local = now.astimezone(CHINA)
        if range_ == "24h":
            step, count, last = timedelta(hours=1), 24, local.replace(minute=0, second=0, microsecond=0)
        else:
            step, count, last = timedelta(days=1), 7, local.replace(hour=0, minute=0, second=0, microsecond=0)
        return cls(last - step * (count - 1), step, count, now)

    def index(self, at: datetime) -> int | None:
        number = int((at - self.first) // self.step)
        return number if 0 <= number < self.count else None

    def start(self, number: int) -> datetime:
        return self.first + self.step * number

    def label(self, number: int) -> str:
        start = self.start(number)
        return start.strftime("%H:00") if self.step < timedelta(days=1) else start.strftime("%m-%d")


@dataclass
class Tally:
    """The figures of one bucket, of the whole range or of today."""

    messages: int = 0
    decided: int = 0
    answered: int = 0
    handoffs: int = 0
    waits: list[float] = field(default_factory=list)
    first_responses: list[float] = field(default_factory=list)
    ratings: list[int] = field(default_factory=list)

    def add_turns(self, turns: Turns) -> None:
        self.messages += turns.count
        self.decided += turns.count if turns.decided else 0
        self.answered += turns.count if turns.decided and turns.answered else 0
        self.handoffs += turns.count if turns.handoff_queue is not None else 0

    def add_chat(self, chat: Chat) -> None:
        """A chat queued in this bucket: its wait for an agent and for a person's first reply, once known."""
        if chat.assigned_at is not None:
            self.waits.append((chat.assigned_at - chat.queued_at).total_seconds())
        if chat.first_agent_reply_at is not None:
            self.first_responses.append((chat.first_agent_reply_at - chat.queued_at).total_seconds())

    def as_dict(self) -> dict:
        within = sum(seconds <= FIRST_RESPONSE_TARGET_SECONDS for seconds in self.first_responses)
        return {
            "messages": self.messages,
            "decided": self.decided,
            "answered": self.answered,
            "answer_rate": share(self.answered, self.decided),
            "handoffs": self.handoffs,
            "queue_wait": _spread(self.waits),
            "first_response": {
                **_spread(self.first_responses),
                "within_target": within,
                "target_share": share(within, len(self.first_responses)),
            },
            "satisfaction": {
                "count": len(self.ratings),
                "average": round(statistics.fmean(self.ratings), 2) if self.ratings else None,
            },
        }


@dataclass(frozen=True)
class Turns:
    """Customer messages of one bucket with one outcome, as the database counted them."""

    bucket: int
    count: int
    decided: bool  # a reply carries the bot's decision (answer, suggest, clarify, handoff)
    answered: bool  # a reply carries an FAQ entry (an answer, or a suggestion picked by number)
    handoff_queue: str | None
    handoff_level: str | None
    reason: str | None  # the rule of the decision's first reason: faq:none, emotion:angry, …


@dataclass(frozen=True)
class Chat:
    queued_at: datetime | None
    assigned_at: datetime | None
    first_agent_reply_at: datetime | None
    ticket: bool
    closed_at: datetime | None
    satisfaction: int | None


async def read_stats(session: AsyncSession, range_: Range, *, now: datetime | None = None) -> dict:
    """The figures of `range_` up to `now`: per bucket, for the range, for today, handoffs broken down."""
    window = Window.of(range_, now or utcnow())
    turns = await read_turns(session, window)
    chats = await read_chats(session, window.first, window.end)
    return summarise(window, turns, chats) | {
        "range": range_,
        "scanned": {"messages": sum(t.count for t in turns), "conversations": len(chats)},
    }


async def read_turns(session: AsyncSession, window: Window) -> list[Turns]:
    parameters = {
        "start": window.first,
        "end": window.end,
        "first": round(window.first.timestamp() * 1000),
        "step": round(window.step.total_seconds() * 1000),
    }
    return [Turns(*row) for row in await session.execute(_TURNS, parameters)]


async def read_chats(session: AsyncSession, start: datetime, end: datetime) -> list[Chat]:
    """Conversations handed off or closed in the period."""
    queued = Conversation.queued_at.between(start, end)
    closed = Conversation.closed_at.between(start, end) & Conversation.satisfaction.is_not(None)
    rows = await session.execute(
        select(
            Conversation.queued_at,
            Conversation.assigned_at,
            Conversation.first_agent_reply_at,
            Conversation.ticket,
            Conversation.closed_at,
            Conversation.satisfaction,
        ).where(or_(queued, closed))
    )
    return [Chat(*row) for row in rows.all()]


def summarise(window: Window, turns: list[Turns], chats: list[Chat]) -> dict:
    buckets = [Tally() for _ in range(window.count)]
    total, today = Tally(), Tally()
    midnight = window.end.astimezone(CHINA).replace(hour=0, minute=0, second=0, microsecond=0)

    def tallies(at: datetime | None) -> list[Tally]:
        """The bucket `at` falls in, the range and, from midnight on, today; none outside the window."""
        number = window.index(at) if at is not None else None
        if number is None:
            return []
        return [buckets[number], total, *([today] if at >= midnight else [])]

    for counted in turns:  # a bucket is all today's or none of it: midnight starts one
        for tally in tallies(window.start(counted.bucket)):
            tally.add_turns(counted)
    for chat in chats:
        for tally in tallies(chat.queued_at if not chat.ticket else None):
            tally.add_chat(chat)
        for tally in tallies(chat.closed_at if chat.satisfaction is not None else None):
            tally.ratings.append(chat.satisfaction)
    handed = [t for t in turns if t.handoff_queue is not None]
    return {
        "timezone": "Asia/Shanghai",
        "start": window.first.isoformat(),
        "end": window.end.astimezone(CHINA).isoformat(),
        "first_response_target_seconds": FIRST_RESPONSE_TARGET_SECONDS,
        "totals": total.as_dict(),
        "today": today.as_dict(),
        "buckets": [
            {"start": window.start(n).isoformat(), "label": window.label(n), **t.as_dict()}
            for n, t in enumerate(buckets)
        ],
        "handoffs_by_reason": count_by_key((t.reason or "unknown", t.count) for t in handed),
        "handoffs_by_queue": count_by_key((t.handoff_queue, t.count) for t in handed),
        "handoffs_by_level": count_by_key((t.handoff_level or "unknown", t.count) for t in handed),
    }


def count_by_key(counted: Iterable[tuple[str, int]]) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for key, count in counted:
        totals[key] += count
    return dict(totals.most_common())


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _spread(seconds: list[float]) -> dict:
    """Count, mean, median and p90 (nearest rank) in seconds, rounded to 0.1 s; None without values."""
    if not seconds:
        return {"count": 0, "average": None, "median": None, "p90": None}
    ordered = sorted(seconds)
    p90 = ordered[math.ceil(0.9 * len(ordered)) - 1]
    return {
        "count": len(ordered),
        "average": round(statistics.fmean(ordered), 1),
        "median": round(statistics.median(ordered), 1),
        "p90": round(p90, 1),
    }


def _turns_query() -> Select:
    """Customer messages of [start, end) counted per bucket and outcome.

    Each message is joined to its replies, as app/decisions.py reads them, and reduced to one row
    (its bucket, whether a reply decided or carried an FAQ entry, the decision's handoff and rule:
    replies of one decision share its meta); those rows are then counted. The bucket is worked out
    inside, once per message, so the outer GROUP BY names plain columns."""
    reply = aliased(Message)
    decision = of_decision(reply)
    since_first = epoch_ms(Message.created_at) - bindparam("first", type_=BigInteger())
    per_message = per_customer_message(
        reply,
        (since_first // bindparam("step", type_=BigInteger())).label("bucket"),  # integers: exact
        func.coalesce(decision(1), 0).label("decided"),
        carried_faq_entry(reply).label("answered"),
        decision(reply.meta[("handoff", "queue")].as_string()).label("queue"),
        decision(reply.meta[("handoff", "level")].as_string()).label("level"),
        decision(rule_of(reply.meta[("reasons", 0)].as_string())).label("reason"),
    ).subquery()
    outcome = (per_message.c.decided, per_message.c.answered, per_message.c.queue, per_message.c.level)
    return select(
        per_message.c.bucket,
        func.count(),
        *outcome,
        per_message.c.reason,
    ).group_by(per_message.c.bucket, *outcome, per_message.c.reason)


_TURNS = _turns_query()  # built once: the page asks every minute
