"""Reading the waiting line and who is online to serve it: shared by the assigner and its timers."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.store.tables import Agent, Conversation, ConversationState, StateTransition
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


async def waiting_chats(session: AsyncSession) -> list[Waiting]:
    """Read every second by the assigner and its timers: the columns it needs, not whole conversations."""
    return [
        Waiting(i, queue or "", level or "L1", priority or 0, queued_at or updated_at)
        for i, queue, level, priority, queued_at, updated_at in await session.execute(_WAITING)
    ]


async def online_agents(session: AsyncSession) -> list[AgentLoad]:
    """Online agents with the number of chats each owns, in one query."""
    owned = (
        select(Conversation.agent_id, func.count().label("active"))
        .where(Conversation.state == ConversationState.WITH_AGENT)
        .group_by(Conversation.agent_id)
        .subquery()
    )
    rows = await session.execute(
        select(Agent.id, Agent.skills, Agent.capacity, Agent.status, func.coalesce(owned.c.active, 0), Agent.name)
        .outerjoin(owned, owned.c.agent_id == Agent.id)
        .where(Agent.status == "online", Agent.disabled.is_(False))
    )
    return [
        AgentLoad(i, frozenset(skills), capacity, active, status, name=name)
        for i, skills, capacity, status, active, name in rows
    ]


_WAITING = select(
    Conversation.id,
    Conversation.queue,
    Conversation.level,
    Conversation.priority,
    Conversation.queued_at,
    Conversation.updated_at,
).where(Conversation.state == ConversationState.QUEUED)
