"""Replies an agent may send with one click: a calming line for upset customers, FAQ answers that fit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.knowledge import Routing
from app.store.tables import Conversation, Message
from faq.knowledge_base import KnowledgeBase
from faq.matcher import match

MAX_SUGGESTIONS = 3


async def suggested_replies(
    session: AsyncSession, conversation: Conversation, kb: KnowledgeBase | None, routing: Routing
) -> list[str]:
    last = await session.scalar(
        select(Message)
        .where(Message.conversation_id == conversation.id, Message.direction == "in")
        .order_by(Message.id.desc())
        .limit(1)
    )
    if last is None:
        return []
    replies = []
    reading = (last.meta or {}).get("reading") or {}
    if reading.get("label") in ("angry", "aggrieved") or reading.get("risk") in ("threat", "safety"):
        replies.append(routing.rules.templates.empathy.format(queue_name="我们"))
    if kb is not None:
        result = match(last.text, kb, channel=conversation.channel)
        replies += [c.entry.render(kb.variables) for c in result.candidates if c.score >= 0.2]
    return replies[:MAX_SUGGESTIONS]
