"""The agent's own view: presence, my chats, and a WebSocket of live events."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect, status
from pydantic import BaseModel
from sqlalchemy import select

from app.agents import agent_for_token
from app.api.views import conversation_summary
from app.deps import AgentDep, ServicesDep
from app.engine.waiting import SUPERVISORS
from app.store.tables import Agent, AgentRole, Conversation, ConversationState
from routing.rules import IDLE_DISPOSITION

router = APIRouter(prefix="/api/agents", tags=["agents"])


class StatusChange(BaseModel):
    status: Literal["online", "away", "offline"]


@router.get("/me")
async def read_me(agent: AgentDep) -> dict:
    return {
        "id": agent.id,
        "username": agent.username,
        "name": agent.name,
        "role": agent.role,
        "skills": agent.skills,
        "capacity": agent.capacity,
        "status": agent.status,
    }


@router.get("/me/options")
async def read_my_options(agent: AgentDep, services: ServicesDep) -> dict:
    """What the console offers: queues to transfer to and the close reason codes, from the live rules."""
    rules = services.routing_now().rules
    return {
        "queues": [{"id": q.id, "name": q.name} for q in rules.queues],
        "dispositions": [d for d in rules.service.dispositions if d != IDLE_DISPOSITION],
    }


@router.put("/me/status")
async def update_my_status(body: StatusChange, agent: AgentDep, services: ServicesDep) -> dict:
    """Going online (or freeing capacity) gets waiting chats assigned at once."""
    async with services.sessions.begin() as session:
        (await session.get_one(Agent, agent.id)).status = body.status
    services.assigner.poke()
    return {"status": body.status}


@router.get("/me/conversations")
async def read_my_conversations(agent: AgentDep, services: ServicesDep) -> list[dict]:
    """My open chats, longest waiting for my reply first."""
    async with services.sessions() as session:
        rows = await session.scalars(
            select(Conversation)
            .where(Conversation.agent_id == agent.id, Conversation.state == ConversationState.WITH_AGENT)
            .order_by(Conversation.assigned_at)
        )
        return [await conversation_summary(session, c) for c in rows]


@router.websocket("/me/events")
async def agent_events(websocket: WebSocket, services: ServicesDep, token: str = Query()) -> None:
    """Assignments, customer messages, transfers and re-queues as they happen (token in the query:
    browsers cannot set headers on a WebSocket)."""
    async with services.sessions() as session:
        agent = await agent_for_token(session, token)
    if agent is None:
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="agent token unknown or disabled")
        return
    await websocket.accept()
    keys = (agent.id, SUPERVISORS) if agent.role == AgentRole.SUPERVISOR else (agent.id,)
    with services.agent_events.subscribe(*keys) as events:
        sender = asyncio.create_task(_forward(events, websocket))
        try:
            while True:
                await websocket.receive_text()  # pings from the console; nothing else is expected
        except WebSocketDisconnect:
            pass
        finally:
            sender.cancel()


async def _forward(events: asyncio.Queue, websocket: WebSocket) -> None:
    while True:
        await websocket.send_json(await events.get())
