"""Reading the waiting line and who is online to serve it: shared by the assigner and its timers."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.store.tables import Agent, Conversation, ConversationState, StateTransition, UTCDateTime
from routing.assignment import AgentLoad
from routing.queues import Waiting
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
    """Read every second by the assigner and its timers: the columns they need, not whole conversations.

    In a promotion thousands of chats wait, and every tick read them all: so the rows come through
    the Core connection (no ORM loading context per row) with one time each, and `where` narrows
    the read in SQL when the caller wants only some."""
    connection = await session.connection()
    query = _WAITING if where is None else _WAITING.where(where)
    return [
        Waiting(i, queue or "", level or "L1", priority or 0, since)
        for i, queue, level, priority, since in await connection.execute(query)
    ]


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
