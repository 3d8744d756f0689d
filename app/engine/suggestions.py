"""Replies an agent may send with one click: canned replies fitting the chat, FAQ answers that fit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.engine.canned import ChatFacts, fitting
from app.knowledge import Routing
from app.store.tables import Conversation, Message
from faq.knowledge_base import KnowledgeBase
from faq.matcher import match
from faq.normalise import normalise

MAX_SUGGESTIONS = 4


async def chat_facts(session: AsyncSession, conversation: Conversation, agent_name: str) -> ChatFacts:
    """Who the customer is, the order they named, what they want and how they feel, from the chat so far."""
    inbound = (
        await session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation.id, Message.direction == "in")
            .order_by(Message.id.desc())
        )
    ).all()
    metas = [m.meta or {} for m in inbound]
    intent = next((m["intent"]["name"] for m in metas if (m.get("intent") or {}).get("name")), None)
    reading = next((m["reading"] for m in metas if m.get("reading")), None) or {}
    emotion = "angry" if reading.get("risk") == "threat" else reading.get("label")
    order = next((n for m in inbound for n in normalise(m.text).order_numbers), None)
    return ChatFacts((conversation.customer or {}).get("name"), order, agent_name, intent, emotion)


async def suggested_replies(
    session: AsyncSession, conversation: Conversation, kb: KnowledgeBase | None, routing: Routing, agent_name: str
) -> list[str]:
    facts = await chat_facts(session, conversation, agent_name)
    replies = fitting(routing.rules.canned_replies, facts)
    last = await session.scalar(
        select(Message.text)
        .where(Message.conversation_id == conversation.id, Message.direction == "in")
        .order_by(Message.id.desc())
        .limit(1)
    )
    if kb is not None and last:
        result = match(last, kb, channel=conversation.channel)
        replies += [c.entry.render(kb.variables) for c in result.candidates if c.score >= 0.2]
    return replies[:MAX_SUGGESTIONS]
