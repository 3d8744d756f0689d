"""The daily quality report (日报): the figures service teams run on, for one day D in China time.

D is [00:00, 24:00) Asia/Shanghai. Figures that look 24 hours past an event reach into D+1, so a report
is `complete` only once D+1 has ended; before that it is provisional.

- first_response, queue_wait: exactly as the ops dashboard (app/ops_stats.py, whose `summarise` computes
  them): first_agent_reply_at - queued_at and assigned_at - queued_at of the chats handed off in D, 留言
  tickets left out; median, p90 (nearest rank), and the share of first responses within 30 s.
- one_touch: of the conversations closed by an agent in D (closed_at in D, an agent assigned, not closed
  by the idle timer with 超时关闭), those that
    1. never left an agent before the close: no transfer to a queue or another agent and no re-queue for
       want of a reply (no state transition out of `with_agent` except to `closed`), and
    2. whose customer (same channel, account and customer id) started no other conversation within 24 h
       after the close (a 1-5 rating is stored on the closed chat and is not a re-contact).
  rate = one_touch / closed_by_agents.
- bot_containment: of the conversations started in D, those never handed off (no queue, as read when the
  report is made: a chat handed off on D+1 is not contained). rate = contained / started.
- bot_recontact: customers who got an FAQ answer from the bot in D (an answer, or a suggestion picked by
  number, as app/decisions.py reads it), and of them those who sent any message within 24 h after the
  last such answer of D. rate = recontacted / customers_answered.
- satisfaction: the 1-5 ratings of the conversations closed in D: count, average, distribution.
- complaints: the bot's handoffs in D by level (L1, L2, L3; by the customer message's time, as the
  dashboard) and the conversations closed in D by disposition (the closing reason code).
- agents: per agent with conversations closed in D: closed (all, idle closes too), one-touch count and
  rate (as above), the average rating of those chats and the 质检 scores (app/quality.py) of them:
  reviews of conversations closed in D, whenever the review was made.

Reads: the customer messages of D and D+1 with their replies (one scan, app/decisions.py), the
conversations started in D or D+1, handed off or closed in D, or written in then; the transitions of
the chats closed in D; the reviews of those chats.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.decisions import CustomerTurn, customer_turns
from app.metrics import FIRST_RESPONSE_TARGET_SECONDS
from app.ops_stats import CHINA, Chat, Window, _share, count_turns, summarise
from app.quality import agent_view, agents_by_id, day_bounds, review_averages
from app.store.tables import Conversation, ConversationState, Message, StateTransition, utcnow
from routing.rules import IDLE_DISPOSITION

RECONTACT_WINDOW = timedelta(hours=24)
LEVELS = ("L1", "L2", "L3")


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
    figures = summarise(hours, count_turns(hours, turns), [_chat(c) for c in chats])
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
    return {"closed_by_agents": by_agents, "one_touch": len(ones), "rate": _share(len(ones), by_agents)}


def _containment(chats: list[Conversation], start: datetime, end: datetime) -> dict:
    started = [c for c in chats if start <= c.created_at < end]
    contained = sum(c.queue is None for c in started)
    return {"started": len(started), "contained": contained, "rate": _share(contained, len(started))}


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
    return {"customers_answered": len(last_answer), "recontacted": again, "rate": _share(again, len(last_answer))}


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
