"""Agents work on a conversation: read it, claim it, reply, transfer it, close it.

Agents act on their own chats; supervisors on any (403 otherwise).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select, update

from app import metrics
from app.api.views import conversation_detail
from app.deps import AgentDep, ServicesDep
from app.engine.canned import search
from app.engine.closing import close
from app.engine.replies import add_reply
from app.engine.suggestions import chat_facts, suggested_replies
from app.engine.waiting import SUPERVISORS
from app.store.tables import Agent, AgentRole, Conversation, ConversationState, StateTransition, utcnow

router = APIRouter(prefix="/api/conversations", tags=["conversations"])


class ReplyBody(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


class TransferBody(BaseModel):
    queue: str | None = None
    agent: str | None = None  # a username

    @model_validator(mode="after")
    def _one_target(self) -> TransferBody:
        if (self.queue is None) == (self.agent is None):
            raise ValueError("give exactly one of queue or agent")
        return self


class CloseBody(BaseModel):
    disposition: str


async def _conversation(conversation_id: str, agent: AgentDep, services: ServicesDep) -> Conversation:
    async with services.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise HTTPException(404, detail="conversation not found")
    if agent.role != AgentRole.SUPERVISOR and conversation.agent_id not in (agent.id, None):
        raise HTTPException(403, detail="this conversation belongs to another agent")
    return conversation


ConversationDep = Annotated[Conversation, Depends(_conversation)]


def _own(conversation: Conversation, agent: Agent) -> None:
    if agent.role != AgentRole.SUPERVISOR and conversation.agent_id != agent.id:
        raise HTTPException(403, detail="claim the conversation first")


@router.get("/{conversation_id}")
async def read_conversation(conversation: ConversationDep, agent: AgentDep, services: ServicesDep) -> dict:
    routing = services.routing_now()
    async with services.sessions() as session:
        suggestions = await suggested_replies(session, conversation, services.faq.current, routing, agent.name)
        return await conversation_detail(session, conversation, suggestions)


@router.get("/{conversation_id}/canned")
async def search_canned_replies(
    conversation: ConversationDep, agent: AgentDep, services: ServicesDep, q: str = ""
) -> list[dict]:
    """快捷回复 for this chat: `/ref` finds shortcuts starting with ref, other text searches the replies."""
    async with services.sessions() as session:
        facts = await chat_facts(session, conversation, agent.name)
    return search(services.routing_now().rules.canned_replies, q, facts)


@router.post("/{conversation_id}/claim")
async def claim_conversation(conversation: ConversationDep, agent: AgentDep, services: ServicesDep) -> dict:
    """Take a waiting chat by hand; of two agents racing, one wins and the other gets 409."""
    if not await services.assigner.claim(conversation.id, agent.id, by="claimed by hand"):
        raise HTTPException(409, detail="the conversation is not waiting any more")
    return {"state": ConversationState.WITH_AGENT, "agent_id": agent.id}


@router.post("/{conversation_id}/messages")
async def create_agent_message(
    body: ReplyBody, conversation: ConversationDep, agent: AgentDep, services: ServicesDep
) -> dict:
    """Delivered to the customer through the outbox, like every message."""
    _own(conversation, agent)
    if conversation.state != ConversationState.WITH_AGENT:
        raise HTTPException(409, detail=f"conversation is {conversation.state}, not with an agent")
    async with services.sessions.begin() as session:
        current = await session.get_one(Conversation, conversation.id)
        if current.first_agent_reply_at is None:
            current.first_agent_reply_at = utcnow()
            if current.queued_at is not None:
                metrics.first_response(
                    current.queue, (current.first_agent_reply_at - current.queued_at).total_seconds()
                )
        message = await add_reply(session, current, sender="agent", text=body.text, meta={"agent": agent.username})
    services.deliver(message)
    return {"message_id": message.message_id}


@router.post("/{conversation_id}/transfer")
async def transfer_conversation(
    body: TransferBody, conversation: ConversationDep, agent: AgentDep, services: ServicesDep
) -> dict:
    """To another queue (waits there, keeping its place) or straight to a named agent."""
    _own(conversation, agent)
    rules = services.routing_now().rules
    async with services.sessions.begin() as session:
        if body.queue is not None:
            if body.queue not in {q.id for q in rules.queues}:
                raise HTTPException(422, detail=f"unknown queue '{body.queue}'")
            values = {"state": ConversationState.QUEUED, "queue": body.queue, "agent_id": None, "assigned_at": None}
            target = body.queue
        else:
            to = await _agent_by_username(session, body.agent)
            values = {"state": ConversationState.WITH_AGENT, "agent_id": to.id, "assigned_at": utcnow()}
            target = to.username
        moved = await session.execute(
            update(Conversation)
            .where(Conversation.id == conversation.id, Conversation.state == conversation.state)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:
            raise HTTPException(409, detail="the conversation changed meanwhile")
        session.add(
            StateTransition(
                conversation_id=conversation.id,
                from_state=conversation.state,
                to_state=values["state"],
                reason=f"transferred by {agent.username} to {target}",
            )
        )
    event = {"type": "transferred", "conversation_id": conversation.id, "from": agent.id, "to": target}
    for key in {conversation.agent_id, values.get("agent_id"), SUPERVISORS} - {None}:
        services.agent_events.publish(key, event)
    services.assigner.poke()
    return {"state": values["state"], "to": target}


@router.post("/{conversation_id}/close")
async def close_conversation(
    body: CloseBody, conversation: ConversationDep, agent: AgentDep, services: ServicesDep
) -> dict:
    """Closed with a reason code; the customer's next message goes to the bot again."""
    _own(conversation, agent)
    rules = services.routing_now().rules
    if body.disposition not in rules.service.dispositions:
        allowed = "、".join(rules.service.dispositions)
        raise HTTPException(422, detail=f"disposition must be one of {allowed}")
    async with services.sessions.begin() as session:
        current = await session.get_one(Conversation, conversation.id)
        if current.state == ConversationState.CLOSED:
            raise HTTPException(409, detail="already closed")
        goodbye = await close(
            session, current, disposition=body.disposition, by=agent.username, templates=rules.templates
        )
    services.deliver(goodbye)
    services.assigner.poke()
    return {"state": ConversationState.CLOSED, "disposition": body.disposition}


async def _agent_by_username(session, username: str) -> Agent:
    agent = await session.scalar(select(Agent).where(Agent.username == username, Agent.disabled.is_(False)))
    if agent is None:
        raise HTTPException(422, detail=f"unknown agent '{username}'")
    return agent
