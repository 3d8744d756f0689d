"""The supervisor's view of every queue: who waits, for how long, and who is there to serve."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import func, select

from app.api.views import conversation_summary
from app.deps import AgentDep, ServicesDep
from app.services import Services
from app.store.tables import Agent, AgentRole, Conversation, ConversationState, utcnow

router = APIRouter(prefix="/api/queues", tags=["queues"])


@router.get("")
async def read_queues(agent: AgentDep, services: ServicesDep) -> list[dict]:
    """Per queue: chats waiting, the oldest wait in seconds, chats being served, agents online with its skills."""
    if agent.role not in (AgentRole.SUPERVISOR, AgentRole.OPS):
        raise HTTPException(403, detail="supervisors and ops only")
    return await queue_views(services)


async def queue_views(services: Services) -> list[dict]:
    """The live queues as the supervisors' tab and the /ops page show them."""
    rules = services.routing_now().rules
    now = utcnow()
    async with services.sessions() as session:
        rows = await session.execute(
            select(Conversation.queue, func.count(), func.min(Conversation.queued_at))
            .where(Conversation.state == ConversationState.QUEUED)
            .group_by(Conversation.queue)
        )
        waiting = {queue: (count, oldest) for queue, count, oldest in rows.all()}
        serving = dict(
            (
                await session.execute(
                    select(Conversation.queue, func.count())
                    .where(Conversation.state == ConversationState.WITH_AGENT)
                    .group_by(Conversation.queue)
                )
            ).all()
        )
        online = (await session.scalars(select(Agent).where(Agent.status == "online", Agent.disabled.is_(False)))).all()
    views = []
    for queue in rules.queues:
        count, oldest = waiting.get(queue.id, (0, None))
        views.append(
            {
                "id": queue.id,
                "name": queue.name,
                "level": queue.level,
                "waiting": count,
                "oldest_wait_seconds": int((now - oldest).total_seconds()) if oldest else 0,
                "serving": serving.get(queue.id, 0),
                "agents_online": sum(1 for a in online if not queue.skills or set(a.skills) & set(queue.skills)),
            }
        )
    return views


@router.get("/tickets")
async def read_tickets(
    agent: AgentDep, services: ServicesDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[dict]:
    """Messages customers left outside service hours (留言), oldest first, at most `limit` (a promotion
    night leaves thousands); agents see their skills' queues, supervisors and ops every queue."""
    tickets = (
        select(Conversation)
        .where(Conversation.state == ConversationState.QUEUED, Conversation.ticket.is_(True))
        .order_by(Conversation.queued_at)
        .limit(limit)
    )
    if agent.role not in (AgentRole.SUPERVISOR, AgentRole.OPS):
        rules = services.routing_now().rules
        visible = [q.id for q in rules.queues if not q.skills or set(q.skills) & set(agent.skills)]
        tickets = tickets.where(Conversation.queue.in_(visible))
    async with services.sessions() as session:
        return [await conversation_summary(session, c) for c in await session.scalars(tickets)]
