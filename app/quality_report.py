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

The database does the counting (a promotion day has millions of messages and conversations, and the
API serves the report from the event loop that serves webhooks). Rows come back as the dashboard's
(app/ops_stats.py: one per hour and outcome, a few per hour for the waits and ratings), one per chat
an agent closed in D, and a few counts; nothing else is read one conversation or message at a time.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, case, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.decisions import carried_faq_entry, of_decision, per_customer_message
from app.metrics import FIRST_RESPONSE_TARGET_SECONDS
from app.ops_stats import CHINA, Window, count_by_key, read_turns, read_waits, share, summarise
from app.quality import agent_view, agents_by_id, day_bounds, review_averages
from app.store.sql_functions import epoch_ms
from app.store.tables import Conversation, ConversationState, Message, StateTransition, UTCDateTime, utcnow
from routing.rules import IDLE_DISPOSITION

RECONTACT_WINDOW = timedelta(hours=24)
LEVELS = ("L1", "L2", "L3")


@dataclass(frozen=True)
class AgentClose:
    """A conversation closed in the day with an agent assigned."""

    id: str
    agent_id: str
    disposition: str | None
    satisfaction: int | None
    left_an_agent: bool  # transferred or re-queued away from an agent before the close
    came_back: bool  # its customer started another conversation within 24 h after the close

    @property
    def by_agent(self) -> bool:
        """Closed by the agent, not by the idle timer."""
        return self.disposition != IDLE_DISPOSITION

    @property
    def one_touch(self) -> bool:
        return self.by_agent and not self.left_an_agent and not self.came_back


async def daily_report(session: AsyncSession, day: date, *, now: datetime | None = None) -> dict:
    """The day's KPIs as one JSON-ready dict (see the module docstring for each definition)."""
    start, end = day_bounds(day)
    now = now or utcnow()
    period = {"start": start, "end": end}
    hours = Window(start, timedelta(hours=1), 24, end)
    figures = summarise(hours, await read_turns(session, hours), await read_waits(session, hours))
    totals = figures["totals"]
    closes = [AgentClose(*row) for row in await session.execute(_AGENT_CLOSES, period)]
    closed = (await session.execute(_CLOSED, period)).all()  # (disposition, satisfaction, count)
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
        "one_touch": _one_touch(closes),
        "bot_containment": await _containment(session, period),
        "bot_recontact": await _bot_recontact(session, period),
        "satisfaction": _satisfaction((rating, count) for _, rating, count in closed),
        "complaints": {
            "by_level": {level: figures["handoffs_by_level"].get(level, 0) for level in LEVELS}
            | figures["handoffs_by_level"],
            "by_disposition": count_by_key((disposition or "—", count) for disposition, _, count in closed),
        },
        "agents": await _agents(session, closes, start, end),
    }


def _one_touch(closes: list[AgentClose]) -> dict:
    by_agents = sum(c.by_agent for c in closes)
    ones = sum(c.one_touch for c in closes)
    return {"closed_by_agents": by_agents, "one_touch": ones, "rate": share(ones, by_agents)}


async def _containment(session: AsyncSession, period: dict) -> dict:
    started, handed_off = (await session.execute(_STARTED, period)).one()
    contained = started - handed_off
    return {"started": started, "contained": contained, "rate": share(contained, started)}


async def _bot_recontact(session: AsyncSession, period: dict) -> dict:
    answered, again = (await session.execute(_RECONTACTS, period)).one()
    return {"customers_answered": answered, "recontacted": again or 0, "rate": share(again or 0, answered)}


def _satisfaction(counted: Iterable[tuple[int | None, int]]) -> dict:
    ratings = Counter()
    for rating, count in counted:
        if rating is not None:
            ratings[rating] += count
    total = sum(ratings.values())
    return {
        "count": total,
        "average": round(sum(r * n for r, n in ratings.items()) / total, 2) if total else None,
        "distribution": {str(score): ratings[score] for score in range(1, 6)},
    }


async def _agents(session: AsyncSession, closes: list[AgentClose], start: datetime, end: datetime) -> list[dict]:
    mine: dict[str, list[AgentClose]] = defaultdict(list)
    for close in closes:
        mine[close.agent_id].append(close)
    reviews = await review_averages(session, start, end)
    people = await agents_by_id(session, set(mine) | set(reviews))
    rows = []
    for agent_id in sorted(set(mine) | set(reviews), key=lambda a: people[a].username if a in people else a):
        chats = mine.get(agent_id, [])
        rows.append(
            {
                **(agent_view(people.get(agent_id)) or {"id": agent_id, "username": None, "name": None}),
                "closed": len(chats),
                "one_touch": _one_touch(chats),
                "satisfaction": _satisfaction((c.satisfaction, 1) for c in chats)["average"],
                "reviews": reviews.get(agent_id),
            }
        )
    return rows


# The queries, built once with the period's bounds as parameters.
_START = bindparam("start", type_=UTCDateTime())
_END = bindparam("end", type_=UTCDateTime())
_WINDOW_MS = int(RECONTACT_WINDOW.total_seconds() * 1000)


def _within_window(after: ColumnElement, before: ColumnElement) -> ColumnElement[bool]:
    """`after` in (`before`, `before` + 24 h]: in whole milliseconds, as both databases count them."""
    return and_(after > before, epoch_ms(after) - epoch_ms(before) <= _WINDOW_MS)


def _same_customer(a: Any, b: Any) -> ColumnElement[bool]:
    """Two rows (conversations, messages or a subquery's) of one customer."""
    return and_(a.channel == b.channel, a.account == b.account, a.customer_id == b.customer_id)


def _agent_closes_query() -> Select:
    later = aliased(Conversation)
    left = exists().where(
        StateTransition.conversation_id == Conversation.id,
        StateTransition.from_state == ConversationState.WITH_AGENT,
        StateTransition.to_state != ConversationState.CLOSED,
    )
    came_back = exists().where(
        _same_customer(later, Conversation), _within_window(later.created_at, Conversation.closed_at)
    )
    return select(
        Conversation.id, Conversation.agent_id, Conversation.disposition, Conversation.satisfaction, left, came_back
    ).where(Conversation.closed_at >= _START, Conversation.closed_at < _END, Conversation.agent_id.is_not(None))


def _recontacts_query() -> Select:
    """Customers answered in the day, each with the last answer's time, and how many wrote again within 24 h."""
    reply = aliased(Message)
    decision = of_decision(reply)
    answers = (
        per_customer_message(reply, Message.channel, Message.account, Message.customer_id, Message.created_at)
        .where(Message.conversation_id.is_not(None))
        .having(and_(decision(1) == 1, carried_faq_entry(reply) == 1))
        .subquery()
    )
    last = (
        select(answers.c.channel, answers.c.account, answers.c.customer_id, func.max(answers.c.created_at).label("at"))
        .group_by(answers.c.channel, answers.c.account, answers.c.customer_id)
        .subquery()
    )
    again = aliased(Message)
    wrote_again = exists().where(
        _same_customer(again, last.c),
        again.direction == "in",
        again.sender == "customer",
        again.conversation_id.is_not(None),
        _within_window(again.created_at, last.c.at),
    )
    return select(func.count(), func.sum(case((wrote_again, 1), else_=0))).select_from(last)


_AGENT_CLOSES = _agent_closes_query()
_CLOSED = (
    select(Conversation.disposition, Conversation.satisfaction, func.count())
    .where(Conversation.closed_at >= _START, Conversation.closed_at < _END)
    .group_by(Conversation.disposition, Conversation.satisfaction)
)
_STARTED = select(func.count(), func.count(Conversation.queue)).where(
    Conversation.created_at >= _START, Conversation.created_at < _END
)
_RECONTACTS = _recontacts_query()
