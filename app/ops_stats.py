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

The median is the middle value (the mean of the two middle ones), p90 the nearest rank. Buckets are
made in Python: one scan of the period's customer messages with their replies (app/decisions.py) and
one of the conversations queued or closed in it; `scanned` in the result says how many rows.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.decisions import CustomerTurn, customer_turns
from app.metrics import FIRST_RESPONSE_TARGET_SECONDS
from app.store.tables import Conversation, utcnow

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

    def add_turn(self, turn: CustomerTurn) -> None:
        self.messages += 1
        self.decided += turn.decided
        self.answered += turn.decided and turn.answered
        self.handoffs += turn.handoff_queue is not None

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
            "answer_rate": _share(self.answered, self.decided),
            "handoffs": self.handoffs,
            "queue_wait": _spread(self.waits),
            "first_response": {
                **_spread(self.first_responses),
                "within_target": within,
                "target_share": _share(within, len(self.first_responses)),
            },
            "satisfaction": {
                "count": len(self.ratings),
                "average": round(statistics.fmean(self.ratings), 2) if self.ratings else None,
            },
        }


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
    turns = await customer_turns(session, window.first, window.end)
    chats = await _chats(session, window.first, window.end)
    return summarise(window, turns, chats) | {
        "range": range_,
        "scanned": {"messages": len(turns), "conversations": len(chats)},
    }


async def _chats(session: AsyncSession, start: datetime, end: datetime) -> list[Chat]:
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


def summarise(window: Window, turns: list[CustomerTurn], chats: list[Chat]) -> dict:
    buckets = [Tally() for _ in range(window.count)]
    total, today = Tally(), Tally()
    midnight = window.end.astimezone(CHINA).replace(hour=0, minute=0, second=0, microsecond=0)

    def tallies(at: datetime | None) -> list[Tally]:
        """The bucket `at` falls in, the range and, from midnight on, today; none outside the window."""
        number = window.index(at) if at is not None else None
        if number is None:
            return []
        return [buckets[number], total, *([today] if at >= midnight else [])]

    for turn in turns:
        for tally in tallies(turn.at):
            tally.add_turn(turn)
    for chat in chats:
        for tally in tallies(chat.queued_at if not chat.ticket else None):
            tally.add_chat(chat)
        for tally in tallies(chat.closed_at if chat.satisfaction is not None else None):
            tally.ratings.append(chat.satisfaction)
    handed = [t for t in turns if t.handoff_queue is not None and window.index(t.at) is not None]
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
        "handoffs_by_reason": _counts(t.reason or "unknown" for t in handed),
        "handoffs_by_queue": _counts(t.handoff_queue for t in handed),
        "handoffs_by_level": _counts(t.handoff_level or "unknown" for t in handed),
    }


def _counts(values) -> dict[str, int]:
    return dict(Counter(values).most_common())


def _share(part: int, whole: int) -> float | None:
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
