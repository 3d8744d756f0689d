"""What the bot should know about a conversation before it answers: read from its recent messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.engine.bot import Turn
from app.store.tables import Conversation, Message
from routing.emotion import Evidence, Reading
from routing.rules import Rules

RECENT = 12
UNHELPFUL = {"suggest", "clarify"}
_RECENT = (  # built once: see _PENDING in app/engine/conversations.py; rows, not entities (read only)
    select(Message.direction, Message.sender, Message.meta)
    .where(Message.conversation_id == bindparam("conversation"), Message.id < bindparam("before"))
    .order_by(Message.id.desc())
    .limit(RECENT)
)


async def turn_for(
    session: AsyncSession, conversation: Conversation, message: Message, rules: Rules, *, new: bool = False
) -> Turn:
    """`new`: the conversation opens with this message, so it has no past to read."""
    recent: Sequence[PastMessage] = ()
    if not new:
        with session.no_autoflush:  # what this transaction staged is not among the earlier messages
            recent = (await session.execute(_RECENT, {"conversation": conversation.id, "before": message.id})).all()
    vip = is_vip(conversation.customer or {}, rules)
    return turn_from(recent, conversation.state, message.text, conversation.channel, vip=vip)


class PastMessage(Protocol):
    direction: str
    sender: str
    meta: dict[str, Any] | None


def turn_from(recent: Sequence[PastMessage], state: str, text: str, channel: str | None, *, vip: bool = False) -> Turn:
    """The pure part of `turn_for` (app/replay.py uses it too): `recent` is newest first, at most RECENT."""
    bot_metas = [m.meta for m in recent if m.direction == "out" and m.sender == "bot" and m.meta]
    readings = [reading_from(m.meta["reading"]) for m in reversed(recent) if m.direction == "in" and m.meta]
    return Turn(
        state=state,
        text=text,
        channel=channel,
        offered=tuple(bot_metas[0].get("offered", ())) if bot_metas else (),
        history=tuple(readings[-3:]),
        unresolved_before=_unhelpful_streak(bot_metas),
        vip=vip,
        first=not recent,
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
