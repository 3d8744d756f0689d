"""What the bot should know about a conversation before it answers: read from its recent messages."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.engine.bot import Turn
from app.store.tables import Conversation, Message
from routing.emotion import Evidence, Reading
from routing.rules import Rules

RECENT = 12
UNHELPFUL = {"suggest", "clarify"}


async def turn_for(session: AsyncSession, conversation: Conversation, message: Message, rules: Rules) -> Turn:
    recent = (
        await session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation.id, Message.id < message.id)
            .order_by(Message.id.desc())
            .limit(RECENT)
        )
    ).all()
    bot_metas = [m.meta for m in recent if m.direction == "out" and m.sender == "bot" and m.meta]
    readings = [reading_from(m.meta["reading"]) for m in reversed(recent) if m.direction == "in" and m.meta]
    return Turn(
        state=conversation.state,
        text=message.text,
        channel=conversation.channel,
        offered=tuple(bot_metas[0].get("offered", ())) if bot_metas else (),
        history=tuple(readings[-3:]),
        unresolved_before=_unhelpful_streak(bot_metas),
        vip=is_vip(conversation.customer or {}, rules),
    )


def is_vip(customer: dict[str, Any], rules: Rules) -> bool:
    tags = set(customer.get("tags") or ())
    return bool(customer.get("vip")) or bool(tags & set(rules.vip.tags))


def reading_to_dict(reading: Reading) -> dict[str, Any]:
    return asdict(reading)


def reading_from(data: dict[str, Any]) -> Reading:
    evidence = tuple(Evidence(**e) for e in data.get("evidence", ()))
    return Reading(data["label"], data["intensity"], data["risk"], evidence, data.get("trend", 0.0))


def _unhelpful_streak(bot_metas: list[dict[str, Any]]) -> int:
    """Bot replies in a row, newest first, that only suggested or asked again."""
    streak = 0
    for meta in bot_metas:
        if meta.get("action") not in UNHELPFUL:
            break
        streak += 1
    return streak
