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

The median is the middle value (the mean of the two middle ones), p90 the nearest rank, of waits
in whole milliseconds. The database does the counting (a promotion day has millions of messages and
hundreds of thousands of handoffs, and the page asks every minute, on the event loop webhooks wait
on): the customer messages come back counted per bucket and outcome, the waits as each group's
count, mean and the two or three values at the median's and p90's ranks, the ratings as each
bucket's count and sum; a few hundred rows in all. `scanned` in the result says how many customer
messages and handed-off conversations the figures cover.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo

from async_lru import alru_cache
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    Select,
    bindparam,
    case,
    func,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from app.decisions import carried_faq_entry, of_decision, per_customer_message
from app.metrics import FIRST_RESPONSE_TARGET_SECONDS
from app.store.sql_functions import epoch_ms, rule_of
from app.store.tables import Conversation, Message, UTCDateTime, utcnow

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

    @property
    def today_from(self) -> int:
        """The first bucket of today (China time); `count` when none is: buckets start at midnight or not at all."""
        midnight = self.end.astimezone(CHINA).replace(hour=0, minute=0, second=0, microsecond=0)
        return min(max((midnight - self.first) // self.step, 0), self.count)

    def label(self, number: int) -> str:
        start = self.start(number)
        return start.strftime("%H:00") if self.step < timedelta(days=1) else start.strftime("%m-%d")


@dataclass(frozen=True)
class Spread:
    """One group's waits in whole milliseconds: how many, their mean, median and p90, how many within the target."""

    count: int = 0
    average: float | None = None
    median: float | None = None
    p90: float | None = None
    within: int = 0

    def as_dict(self) -> dict:
        """In seconds, rounded to 0.1 s; None without values."""

        def seconds(ms: float | None) -> float | None:
            return None if ms is None else round(ms / 1000, 1)

        figures = {"average": self.average, "median": self.median, "p90": self.p90}
        return {"count": self.count, **{name: seconds(ms) for name, ms in figures.items()}}


QUEUE_WAIT, FIRST_RESPONSE = "queue_wait", "first_response"
TOTAL, TODAY = -1, -2  # the groups beside the buckets' numbers: the whole range and, from midnight on, today


@dataclass(frozen=True)
class Waits:
    """The handed-off chats' figures per group (a bucket's number, TOTAL or TODAY; absent: none)."""

    spreads: dict[tuple[str, int], Spread]  # (QUEUE_WAIT or FIRST_RESPONSE, group)
    ratings: dict[int, tuple[int, int]]  # group -> (how many ratings, their sum)
    handed_off: int  # chats handed off in the range, 留言 included

    def spread(self, measure: str, group: int) -> Spread:
        return self.spreads.get((measure, group), Spread())


@dataclass
class Tally:
    """The figures of one bucket, of the whole range or of today."""

    queue_wait: Spread
    first_response: Spread
    ratings: tuple[int, int]  # how many, their sum
    messages: int = 0
    decided: int = 0
    answered: int = 0
    handoffs: int = 0

    @classmethod
    def of(cls, waits: Waits, group: int) -> Tally:
        ratings = waits.ratings.get(group, (0, 0))
        return cls(waits.spread(QUEUE_WAIT, group), waits.spread(FIRST_RESPONSE, group), ratings)

    def add_turns(self, turns: Turns) -> None:
        self.messages += turns.count
        self.decided += turns.count if turns.decided else 0
        self.answered += turns.count if turns.decided and turns.answered else 0
        self.handoffs += turns.count if turns.handoff_queue is not None else 0

    def as_dict(self) -> dict:
        first, (rated, rating_sum) = self.first_response, self.ratings
        return {
            "messages": self.messages,
            "decided": self.decided,
            "answered": self.answered,
            "answer_rate": share(self.answered, self.decided),
            "handoffs": self.handoffs,
            "queue_wait": self.queue_wait.as_dict(),
            "first_response": {
                **first.as_dict(),
                "within_target": first.within,
                "target_share": share(first.within, first.count),
            },
            "satisfaction": {"count": rated, "average": round(rating_sum / rated, 2) if rated else None},
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


class SharedFigures:
    """The figures of each range, read at most once per `seconds` however many ops pages ask.

    Every open ops page asks each minute, and on a promotion day one reading costs the database
    about a second and a half of CPU (benchmarks/results/dashboard.md): with a few pages open that
    is a core's worth taken from the conversations. Pages asking during a reading share it
    (alru_cache shields it, and does not keep a failure)."""

    def __init__(self, reports: async_sessionmaker, seconds: float) -> None:
        self._reports = reports
        self.read = alru_cache(maxsize=len(get_args(Range)), ttl=seconds)(self._read) if seconds else self._read

    async def _read(self, range_: Range) -> dict:
        async with self._reports() as session:
            return await read_stats(session, range_)


async def read_stats(session: AsyncSession, range_: Range, *, now: datetime | None = None) -> dict:
    """The figures of `range_` up to `now`: per bucket, for the range, for today, handoffs broken down."""
    window = Window.of(range_, now or utcnow())
    turns = await read_turns(session, window)
    waits = await read_waits(session, window)
    return summarise(window, turns, waits) | {
        "range": range_,
        "scanned": {"messages": sum(t.count for t in turns), "conversations": waits.handed_off},
    }


async def read_turns(session: AsyncSession, window: Window) -> list[Turns]:
    return [Turns(*row) for row in await session.execute(_TURNS, _bounds(window))]


async def read_waits(session: AsyncSession, window: Window) -> Waits:
    """The waits of the chats handed off in the window and the ratings of those closed in it, per group."""
    parameters = _bounds(window) | {"today": window.today_from}
    spreads: dict[tuple[str, int], list] = {}
    handed_off = 0
    for measure, group, count, mean, within, rank, value in await session.execute(_WAITS, parameters):
        if measure is None:  # the row that counts the chats
            handed_off = count
            continue
        figures = spreads.setdefault((measure, group), [count, float(mean), within, {}])
        figures[3][rank] = value
    ratings: dict[int, tuple[int, int]] = {}
    for bucket, rated, rating_sum in await session.execute(_RATINGS, parameters):
        groups = (bucket, TOTAL, *([TODAY] if bucket >= window.today_from else []))
        for group in groups:
            before = ratings.get(group, (0, 0))
            ratings[group] = (before[0] + rated, before[1] + rating_sum)
    return Waits({key: _spread(*figures) for key, figures in spreads.items()}, ratings, handed_off)


def _spread(count: int, mean: float, within: int, ranked: dict[int, int]) -> Spread:
    """From the values at the median's and p90's ranks (1-based, in order)."""
    low, high, p90 = _ranks(count)
    return Spread(count, mean, (ranked[low] + ranked[high]) / 2, ranked[p90], within)


def _ranks(count: int) -> tuple[int, int, int]:
    """The two middle ranks (one, twice, when `count` is odd) and p90's nearest rank: ceil(0.9 count)."""
    return (count + 1) // 2, count // 2 + 1, (9 * count + 9) // 10


def _bounds(window: Window) -> dict:
    return {
        "start": window.first,
        "end": window.end,
        "first": round(window.first.timestamp() * 1000),
        "step": round(window.step.total_seconds() * 1000),
    }


def summarise(window: Window, turns: list[Turns], waits: Waits) -> dict:
    buckets = [Tally.of(waits, n) for n in range(window.count)]
    total, today = Tally.of(waits, TOTAL), Tally.of(waits, TODAY)
    for counted in turns:  # a bucket is all today's or none of it: midnight starts one
        tallies = [buckets[counted.bucket], total, *([today] if counted.bucket >= window.today_from else [])]
        for tally in tallies:
            tally.add_turns(counted)
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


def _turns_query() -> Select:
    """Customer messages of [start, end) counted per bucket and outcome.

    Each message is joined to its replies, as app/decisions.py reads them, and reduced to one row
    (its bucket, whether a reply decided or carried an FAQ entry, the decision's handoff and rule:
    replies of one decision share its meta); those rows are then counted. The bucket is worked out
    inside, once per message, so the outer GROUP BY names plain columns."""
    reply = aliased(Message)
    decision = of_decision(reply)
    per_message = per_customer_message(
        reply,
        _bucket(epoch_ms(Message.created_at)),
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


def _bucket(ms: ColumnElement) -> ColumnElement:
    """The window's bucket a time (ms since the epoch) falls in: integers, so exact."""
    return ((ms - bindparam("first", type_=BigInteger())) // bindparam("step", type_=BigInteger())).label("bucket")


def _waits_query() -> CompoundSelect:
    """Each group's waits (buckets, TOTAL, TODAY), reduced to their count, mean, within-target count
    and the values at the median's and p90's ranks; and one row with the chats handed off in all.

    The chats queued in the window (留言 tickets left out) are ranked per measure and group by
    ROW_NUMBER, which SQLite and PostgreSQL both have; only the ranks that `_ranks` names come back."""
    queued = epoch_ms(Conversation.queued_at)
    chats = (
        select(
            _bucket(queued),
            Conversation.ticket,
            (epoch_ms(Conversation.assigned_at) - queued).label(QUEUE_WAIT),
            (epoch_ms(Conversation.first_agent_reply_at) - queued).label(FIRST_RESPONSE),
        )
        .where(Conversation.queued_at >= _START, Conversation.queued_at < _END)
        .cte("chats")
    )
    today = chats.c.bucket >= bindparam("today")
    groups = ((chats.c.bucket, true()), (literal(TOTAL), true()), (literal(TODAY), today))
    values = union_all(
        *(
            select(literal(measure).label("measure"), group.label("grp"), chats.c[measure].label("ms")).where(
                chats.c[measure].is_not(None), chats.c.ticket.is_not(True), where
            )
            for measure in (QUEUE_WAIT, FIRST_RESPONSE)
            for group, where in groups
        )
    ).subquery()
    of_group = {"partition_by": (values.c.measure, values.c.grp)}
    ranked = select(
        values.c.measure,
        values.c.grp,
        func.count().over(**of_group).label("n"),
        func.avg(values.c.ms).over(**of_group).label("mean"),
        func.sum(case((values.c.ms <= TARGET_MS, 1), else_=0)).over(**of_group).label("within"),
        func.row_number().over(**of_group, order_by=values.c.ms).label("rank"),
        values.c.ms,
    ).subquery()
    n, rank = ranked.c.n, ranked.c.rank
    wanted = or_(rank == (n + 1) // 2, rank == n // 2 + 1, rank == (9 * n + 9) // 10)  # as `_ranks`
    handed_off = select(null(), null(), func.count(), null(), null(), null(), null()).select_from(chats)
    return union_all(select(ranked).where(wanted), handed_off)


def _ratings_query() -> Select:
    """Each bucket's ratings of chats closed in it: how many and their sum."""
    bucket = _bucket(epoch_ms(Conversation.closed_at))
    return (
        select(bucket, func.count(), func.sum(Conversation.satisfaction))
        .where(Conversation.closed_at >= _START, Conversation.closed_at < _END, Conversation.satisfaction.is_not(None))
        .group_by(bucket)
    )


TARGET_MS = round(FIRST_RESPONSE_TARGET_SECONDS * 1000)
_START = bindparam("start", type_=UTCDateTime())
_END = bindparam("end", type_=UTCDateTime())
# Built once: the page asks every minute.
_TURNS = _turns_query()
_WAITS = _waits_query()
_RATINGS = _ratings_query()
