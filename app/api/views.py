"""What agents see of a conversation: a summary for lists, the whole context for the chat view."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.store.tables import Conversation, Message, utcnow
from faq.normalise import normalise


async def conversation_summary(session: AsyncSession, conversation: Conversation) -> dict[str, Any]:
    last_in = await session.scalar(
        select(Message)
        .where(Message.conversation_id == conversation.id, Message.direction == "in")
        .order_by(Message.id.desc())
        .limit(1)
    )
    reading = (last_in.meta or {}).get("reading") if last_in else None
    since = conversation.assigned_at or conversation.queued_at or conversation.created_at
    return {
        "id": conversation.id,
        "state": conversation.state,
        "customer": {"id": conversation.customer_id, **(conversation.customer or {})},
        "channel": conversation.channel,
        "queue": conversation.queue,
        "level": conversation.level,
        "priority": conversation.priority,
        "agent_id": conversation.agent_id,
        "emotion": reading["label"] if reading else None,
        "risk": reading["risk"] if reading else None,
        "last_message": last_in.text if last_in else None,
        "waiting_seconds": int((utcnow() - since).total_seconds()),
        "answered": conversation.first_agent_reply_at is not None,
    }


async def conversation_detail(session: AsyncSession, conversation: Conversation, suggestions: list[str]) -> dict:
    """Transcript, customer, intent, emotion trail, order numbers, handoff reasons, suggested replies."""
    messages = (
        await session.scalars(select(Message).where(Message.conversation_id == conversation.id).order_by(Message.id))
    ).all()
    inbound = [m for m in messages if m.direction == "in"]
    readings = [(m.meta or {}).get("reading") for m in inbound]
    intents = [i for m in inbound if (i := (m.meta or {}).get("intent")) and i.get("name")]
    orders = sorted({number for m in inbound for number in normalise(m.text).order_numbers})
    return {
        **await conversation_summary(session, conversation),
        "transcript": [
            {
                "message_id": m.public_id,
                "sender": m.sender,
                "text": m.text,
                "at": m.created_at.isoformat(),
                "faq_id": m.faq_id,
            }
            for m in messages
        ],
        "intent": intents[-1] if intents else None,
        "emotion_trail": [{"label": r["label"], "intensity": r["intensity"], "risk": r["risk"]} for r in readings if r],
        "order_numbers": orders,
        "handoff_reasons": conversation.handoff_reasons or [],
        "suggested_replies": suggestions,
    }
