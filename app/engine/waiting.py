"""Reading the waiting line: shared by the assigner and its timers."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.store.tables import Conversation, ConversationState, StateTransition
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
    rows = await session.scalars(select(Conversation).where(Conversation.state == ConversationState.QUEUED))
    return [Waiting(c.id, c.queue or "", c.level or "L1", c.priority or 0, c.queued_at or c.updated_at) for c in rows]
