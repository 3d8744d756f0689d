"""Reading the waiting line and who is online to serve it: shared by the assigner and its timers.

The line is kept in serving order by the database: level first (L3 > L2 > L1, never overtaken),
then priority grown by the minutes waited (`aging_per_minute` points a minute, so an ordinary chat
eventually passes a newer chat of a higher priority: nobody starves), then who has waited longest.
Two chats' aged priorities at any moment differ by (p1 − aging × since1) − (p2 − aging × since2):
the clock cancels out, so the line sorts on `priority − aging × since` in SQL, and a pass reads
the head it needs and the places of the chats it tells, not the whole line (thousands of chats
in a promotion, on every handoff and every second).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Float, Integer, Select, String, bindparam, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.store.sql_functions import epoch_minutes
from app.store.tables import Agent, Conversation, ConversationState, StateTransition, UTCDateTime
from routing.assignment import AgentLoad
from routing.queues import LEVEL_RANK, Waiting
from routing.rules import Queue, Rules

SUPERVISORS = "supervisors"  # the event key every supervisor console listens to


def queue_of(rules: Rules, queue_id: str | None) -> Queue:
    """The chat's queue, or the default one if the rules no longer have it."""
    known = {q.id: q for q in rules.queues}
    return known.get(queue_id or "", known[rules.default_queue])


def transition_row(conversation: Conversation, from_state: str, reason: str) -> StateTransition:
    return StateTransition(
        conversation_id=conversation.id, from_state=from_state, to_state=conversation.state, reason=reason
    )


async def waiting_chats(session: AsyncSession, *, where: ColumnElement[bool] | None = None) -> list[Waiting]:
    """The waiting chats `where` picks (all without it), in no particular order."""
    return await _read(session, _WAITING if where is None else _WAITING.where(where))


async def head_of_line(session: AsyncSession, rules: Rules, queue_ids: set[str], *, limit: int) -> list[Waiting]:
    """The first `limit` chats, in serving order, of the given queues (as `queue_of` maps them)."""
    return await _read(session, _HEAD, {**_line_parameters(rules), "queues": sorted(queue_ids), "limit": limit})


async def _read(session: AsyncSession, query: Select, parameters: dict[str, Any] | None = None) -> list[Waiting]:
    """Through the Core connection, with one time per row: no ORM loading context for each of thousands."""
    connection = await session.connection()
    return [
        Waiting(i, queue or "", level or "L1", priority or 0, since)
        for i, queue, level, priority, since in await connection.execute(query, parameters)
    ]


async def places_in_line(session: AsyncSession, rules: Rules, conversation_ids: set[str]) -> dict[str, int]:
    """The 1-based place of each given waiting chat within its own queue; the database ranks the line."""
    connection = await session.connection()
    parameters = {**_line_parameters(rules), "ids": sorted(conversation_ids)}
    return {conversation_id: place for conversation_id, place in await connection.execute(_PLACES, parameters)}


def _line_parameters(rules: Rules) -> dict[str, Any]:
    known = [queue.id for queue in rules.queues]
    return {"aging": rules.service.aging_per_minute, "known": known, "default_queue": rules.default_queue}


async def online_agents(session: AsyncSession) -> list[AgentLoad]:
    """Online agents with the number of chats each owns, in one query (built once: it runs on every
    handoff, and with nobody online building it cost more than running it)."""
    return [
        AgentLoad(i, frozenset(skills), capacity, active, status, name=name)
        for i, skills, capacity, status, active, name in await session.execute(_ONLINE)
    ]


# Since when a chat waits: one time per row read, however many chats wait.
WAITING_SINCE = func.coalesce(Conversation.queued_at, Conversation.updated_at, type_=UTCDateTime())
_WAITING = select(
    Conversation.id,
    Conversation.queue,
    Conversation.level,
    Conversation.priority,
    WAITING_SINCE,
).where(Conversation.state == ConversationState.QUEUED)
# A chat's queue as `queue_of` reads it: one the rules no longer have counts as the default queue.
_QUEUE = case(
    (Conversation.queue.in_(bindparam("known", expanding=True)), Conversation.queue),
    else_=bindparam("default_queue", type_=String()),
)
# Serving order (see the module's docstring); the id last, so equal chats keep one order.
_SERVING_ORDER = (
    case(LEVEL_RANK, value=func.coalesce(Conversation.level, "L1"), else_=0).desc(),
    (func.coalesce(Conversation.priority, 0) - bindparam("aging", type_=Float()) * epoch_minutes(WAITING_SINCE)).desc(),
    WAITING_SINCE,
    Conversation.id,
)
# Built once with their parameters bound per call: building them cost more than running them.
_HEAD = (
    _WAITING.where(_QUEUE.in_(bindparam("queues", expanding=True)))
    .order_by(*_SERVING_ORDER)
    .limit(bindparam("limit", type_=Integer()))
)
_RANKED = (
    select(Conversation.id, func.row_number().over(partition_by=_QUEUE, order_by=_SERVING_ORDER).label("place"))
    .where(Conversation.state == ConversationState.QUEUED)
    .subquery()
)
_PLACES = select(_RANKED.c.id, _RANKED.c.place).where(_RANKED.c.id.in_(bindparam("ids", expanding=True)))
_OWNED = (
    select(Conversation.agent_id, func.count().label("active"))
    .where(Conversation.state == ConversationState.WITH_AGENT)
    .group_by(Conversation.agent_id)
    .subquery()
)
_ONLINE = (
    select(Agent.id, Agent.skills, Agent.capacity, Agent.status, func.coalesce(_OWNED.c.active, 0), Agent.name)
    .outerjoin(_OWNED, _OWNED.c.agent_id == Agent.id)
    .where(Agent.status == "online", Agent.disabled.is_(False))
)
