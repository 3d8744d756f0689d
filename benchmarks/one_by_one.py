"""The ops views' figures as kefu worked them out before the database did: every row read one by one.

The baselines of benchmarks/unanswered.py, benchmarks/daily_report.py and benchmarks/dashboard.py,
kept here as they were in app/ up to 785e0af (the waits: e9d67c9), so each benchmark runs the old
way and the new one in the same process, on the same store, and checks that both find the same.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from itertools import groupby

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.decisions import BOT_ACTIONS, replies_of
from app.metrics import FIRST_RESPONSE_TARGET_SECONDS
from app.ops_stats import (
    CHINA,
    FIRST_RESPONSE,
    QUEUE_WAIT,
    TODAY,
    TOTAL,
    Range,
    Spread,
    Turns,
    Waits,
    Window,
    read_turns,
    share,
    summarise,
)
from app.quality import agent_view, agents_by_id, day_bounds, review_averages
from app.quality_report import LEVELS, RECONTACT_WINDOW
from app.store.tables import Conversation, ConversationState, Message, StateTransition, utcnow
from routing.rules import IDLE_DISPOSITION


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


def count_turns(window: Window, turns: Iterable[CustomerTurn]) -> list[Turns]:
    """The same counts from turns already read one by one (the daily report needs them for more)."""
    counted: Counter[Turns] = Counter()
    for turn in turns:
        number = window.index(turn.at)
        if number is not None:
            outcome = (turn.decided, turn.answered, turn.handoff_queue, turn.handoff_level, turn.reason)
            counted[Turns(number, 0, *outcome)] += 1
    return [replace(key, count=count) for key, count in counted.items()]


async def daily_report(session: AsyncSession, day: date, *, now: datetime | None = None) -> dict:
    """The day's KPIs as one JSON-ready dict (see the module docstring for each definition)."""
    start, end = day_bounds(day)
    now = now or utcnow()
    turns = await customer_turns(session, start, end + RECONTACT_WINDOW)
    chats = await _conversations(session, start, end)
    closed = [c for c in chats if c.closed_at is not None and start <= c.closed_at < end]
    moved = await _left_an_agent(session, start, end)
    ones = _one_touch(closed, chats, moved)
    hours = Window(start, timedelta(hours=1), 24, end)
    figures = summarise(hours, count_turns(hours, turns), waits_of(hours, [_chat(c) for c in chats]))
    totals = figures["totals"]
    by_agent = await _agents(session, closed, ones, start, end)
    return {
        "date": day.isoformat(),
        "timezone": "Asia/Shanghai",
        "start": start.isoformat(),
        "end": end.isoformat(),
        "generated_at": now.astimezone(CHINA).isoformat(timespec="seconds"),
        "complete": now >= end + RECONTACT_WINDOW,
        "first_response_target_seconds": FIRST_RESPONSE_TARGET_SECONDS,
        "first_response": totals["first_response"],
        "queue_wait": totals["queue_wait"],
        "messages": {k: totals[k] for k in ("messages", "decided", "answered", "answer_rate", "handoffs")},
        "one_touch": _one_touch_figures(closed, ones),
        "bot_containment": _containment(chats, start, end),
        "bot_recontact": _bot_recontact(turns, chats, start, end),
        "satisfaction": _satisfaction(closed),
        "complaints": {
            "by_level": {level: figures["handoffs_by_level"].get(level, 0) for level in LEVELS}
            | figures["handoffs_by_level"],
            "by_disposition": dict(Counter(c.disposition or "—" for c in closed).most_common()),
        },
        "agents": by_agent,
    }


async def _conversations(session: AsyncSession, start: datetime, end: datetime) -> list[Conversation]:
    """Every conversation a figure of the day may need (see the module docstring)."""
    horizon = end + RECONTACT_WINDOW
    written = select(Message.conversation_id).where(
        Message.direction == "in", Message.created_at >= start, Message.created_at < horizon
    )
    rows = await session.scalars(
        select(Conversation).where(
            or_(
                (Conversation.created_at >= start) & (Conversation.created_at < horizon),
                (Conversation.queued_at >= start) & (Conversation.queued_at < end),
                (Conversation.closed_at >= start) & (Conversation.closed_at < end),
                Conversation.id.in_(written),
            )
        )
    )
    return list(rows)


async def _left_an_agent(session: AsyncSession, start: datetime, end: datetime) -> set[str]:
    """Conversations closed in the day that were transferred or re-queued away from an agent before."""
    closed = select(Conversation.id).where(Conversation.closed_at >= start, Conversation.closed_at < end)
    rows = await session.scalars(
        select(StateTransition.conversation_id).where(
            StateTransition.conversation_id.in_(closed),
            StateTransition.from_state == ConversationState.WITH_AGENT,
            StateTransition.to_state != ConversationState.CLOSED,
        )
    )
    return set(rows)


async def read_stats(session: AsyncSession, range_: Range, *, now: datetime | None = None) -> dict:
    """The dashboard's figures with the chats handed off or rated in the window read one row each."""
    window = Window.of(range_, now or utcnow())
    turns = await read_turns(session, window)
    queued = Conversation.queued_at.between(window.first, window.end)
    rated = Conversation.closed_at.between(window.first, window.end) & Conversation.satisfaction.is_not(None)
    columns = (Conversation.queued_at, Conversation.assigned_at, Conversation.first_agent_reply_at)
    columns += (Conversation.ticket, Conversation.closed_at, Conversation.satisfaction)
    chats = [Chat(*row) for row in (await session.execute(select(*columns).where(or_(queued, rated)))).all()]
    waits = waits_of(window, chats)
    return summarise(window, turns, waits) | {
        "range": range_,
        "scanned": {"messages": sum(t.count for t in turns), "conversations": waits.handed_off},
    }


@dataclass(frozen=True)
class Chat:
    queued_at: datetime | None
    assigned_at: datetime | None
    first_agent_reply_at: datetime | None
    ticket: bool
    closed_at: datetime | None
    satisfaction: int | None


def waits_of(window: Window, chats: list[Chat]) -> Waits:
    """Each group's waits and ratings worked out in Python from the chats' rows."""
    values: dict[tuple[str, int], list[int]] = defaultdict(list)
    ratings: dict[int, list[int]] = defaultdict(list)

    def groups(at: datetime | None) -> list[int]:
        number = window.index(at) if at is not None else None
        return [] if number is None else [number, TOTAL, *([TODAY] if number >= window.today_from else [])]

    for chat in chats:
        for group in groups(chat.queued_at if not chat.ticket else None):
            for measure, done in ((QUEUE_WAIT, chat.assigned_at), (FIRST_RESPONSE, chat.first_agent_reply_at)):
                if done is not None:
                    values[(measure, group)].append(round((done - chat.queued_at).total_seconds() * 1000))
        for group in groups(chat.closed_at if chat.satisfaction is not None else None):
            ratings[group].append(chat.satisfaction)
    handed_off = sum(c.queued_at is not None and window.index(c.queued_at) is not None for c in chats)
    spreads = {key: _spread(ms) for key, ms in values.items()}
    return Waits(spreads, {group: (len(r), sum(r)) for group, r in ratings.items()}, handed_off)


def _spread(ms: list[int]) -> Spread:
    ordered = sorted(ms)
    p90 = ordered[math.ceil(0.9 * len(ordered)) - 1]
    within = sum(value <= FIRST_RESPONSE_TARGET_SECONDS * 1000 for value in ordered)
    return Spread(len(ordered), statistics.fmean(ordered), statistics.median(ordered), p90, within)


def _chat(conversation: Conversation) -> Chat:
    c = conversation
    return Chat(c.queued_at, c.assigned_at, c.first_agent_reply_at, c.ticket, c.closed_at, c.satisfaction)


def _customer(conversation: Conversation) -> tuple[str, str, str]:
    return conversation.channel, conversation.account, conversation.customer_id


def _closed_by_agent(conversation: Conversation) -> bool:
    return conversation.agent_id is not None and conversation.disposition != IDLE_DISPOSITION


def _one_touch(closed: list[Conversation], chats: list[Conversation], moved: set[str]) -> set[str]:
    """Ids of the one-touch resolutions among `closed`."""
    started: dict[tuple, list[datetime]] = defaultdict(list)
    for chat in chats:
        started[_customer(chat)].append(chat.created_at)

    def came_back(c: Conversation) -> bool:
        return any(c.closed_at < at <= c.closed_at + RECONTACT_WINDOW for at in started[_customer(c)])

    return {c.id for c in closed if _closed_by_agent(c) and c.id not in moved and not came_back(c)}


def _one_touch_figures(closed: list[Conversation], ones: set[str]) -> dict:
    by_agents = sum(_closed_by_agent(c) for c in closed)
    return {"closed_by_agents": by_agents, "one_touch": len(ones), "rate": share(len(ones), by_agents)}


def _containment(chats: list[Conversation], start: datetime, end: datetime) -> dict:
    started = [c for c in chats if start <= c.created_at < end]
    contained = sum(c.queue is None for c in started)
    return {"started": len(started), "contained": contained, "rate": share(contained, len(started))}


def _bot_recontact(turns: list[CustomerTurn], chats: list[Conversation], start: datetime, end: datetime) -> dict:
    customer = {c.id: _customer(c) for c in chats}
    last_answer: dict[tuple, datetime] = {}
    wrote: dict[tuple, list[datetime]] = defaultdict(list)
    for turn in turns:
        who = customer.get(turn.conversation_id)
        if who is None:
            continue
        wrote[who].append(turn.at)
        if turn.decided and turn.answered and start <= turn.at < end:
            last_answer[who] = max(turn.at, last_answer.get(who, turn.at))
    again = sum(any(at < t <= at + RECONTACT_WINDOW for t in wrote[who]) for who, at in last_answer.items())
    return {"customers_answered": len(last_answer), "recontacted": again, "rate": share(again, len(last_answer))}


def _satisfaction(closed: list[Conversation]) -> dict:
    ratings = [c.satisfaction for c in closed if c.satisfaction is not None]
    return {
        "count": len(ratings),
        "average": round(sum(ratings) / len(ratings), 2) if ratings else None,
        "distribution": {str(score): ratings.count(score) for score in range(1, 6)},
    }


async def _agents(
    session: AsyncSession, closed: list[Conversation], ones: set[str], start: datetime, end: datetime
) -> list[dict]:
    mine: dict[str, list[Conversation]] = defaultdict(list)
    for conversation in closed:
        if conversation.agent_id is not None:
            mine[conversation.agent_id].append(conversation)
    reviews = await review_averages(session, start, end)
    people = await agents_by_id(session, set(mine) | set(reviews))
    rows = []
    for agent_id in sorted(set(mine) | set(reviews), key=lambda a: people[a].username if a in people else a):
        chats = mine.get(agent_id, [])
        rows.append(
            {
                **(agent_view(people.get(agent_id)) or {"id": agent_id, "username": None, "name": None}),
                "closed": len(chats),
                "one_touch": _one_touch_figures(chats, ones & {c.id for c in chats}),
                "satisfaction": _satisfaction(chats)["average"],
                "reviews": reviews.get(agent_id),
            }
        )
    return rows
