"""What the bot should know about a conversation before it answers: read from its recent messages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, NamedTuple, Protocol

from sqlalchemy import CompoundSelect, bindparam, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from app.engine.bot import NOBODY_ONLINE, Turn
from app.store.sqlite_statements import read_rows
from app.store.tables import Conversation, Message
from routing.emotion import Evidence, Reading
from routing.rules import Rules

RECENT = 12
UNHELPFUL = {"suggest", "clarify"}
_PER_STATEMENT = 50  # conversations read by one statement (SQLite allows 500 SELECTs in a compound one)


async def recent_messages(connection: AsyncConnection, before: Mapping[str, int]) -> dict[str, list[PastMessage]]:
    """Each conversation's messages older than the given message id, newest first, at most RECENT.

    `before`: conversation id -> the id of the message about to be handled. One statement for a
    whole batch of conversations (each statement is a trip to the database and SQLAlchemy's own
    work around it, more than reading a dozen rows costs); each conversation is still read along
    its own index range, however long its history.
    """
    found: dict[str, list[PastMessage]] = {conversation_id: [] for conversation_id in before}
    pairs = list(before.items())
    for start in range(0, len(pairs), _PER_STATEMENT):
        chunk = pairs[start : start + _PER_STATEMENT]
        params: dict[str, Any] = {}
        for n, (conversation_id, message_id) in enumerate(chunk):
            params[f"conversation_{n}"], params[f"before_{n}"] = conversation_id, message_id
        for row in await read_rows(connection, _recent_of(len(chunk)), params):
            past = _Past(*row)
            found[past.conversation_id].append(past)
    for rows in found.values():
        rows.sort(key=lambda row: row.id, reverse=True)
    return found


@cache
def _recent_of(count: int) -> CompoundSelect:
    """RECENT rows before `before_<n>` of each `conversation_<n>`, n < count (built once per count:
    see _PENDING in app/engine/conversations.py). Rows, not entities: read only."""
    ranges = [
        select(Message.conversation_id, Message.id, Message.direction, Message.sender, Message.meta)
        .where(Message.conversation_id == bindparam(f"conversation_{n}"), Message.id < bindparam(f"before_{n}"))
        .order_by(Message.id.desc())
        .limit(RECENT)
        .subquery(f"recent_{n}")
        for n in range(count)
    ]
    return union_all(*(select(rows) for rows in ranges))


def turn_for(conversation: Conversation, text: str, recent: Sequence[PastMessage], rules: Rules) -> Turn:
    """`recent`: the conversation's messages before this one, newest first (none if it opens with it)."""
    vip = is_vip(conversation.customer or {}, rules)
    return turn_from(recent, conversation.state, text, conversation.channel, vip=vip)


class PastMessage(Protocol):
    direction: str
    sender: str
    meta: dict[str, Any] | None


class _Past(NamedTuple):
    """A row `_recent_of` reads."""

    conversation_id: str
    id: int
    direction: str
    sender: str
    meta: dict[str, Any] | None


def turn_from(recent: Sequence[PastMessage], state: str, text: str, channel: str | None, *, vip: bool = False) -> Turn:
    """The pure part of `turn_for` (app/replay.py uses it too): `recent` is newest first, at most RECENT."""
    bot_metas = [m.meta for m in recent if m.direction == "out" and m.sender == "bot" and m.meta]
    notices = [m.meta for m in recent if m.direction == "out" and m.sender == "system" and m.meta]
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
        topic=_answered_topic(bot_metas[0]) if bot_metas else None,
        unstaffed=bool(notices and notices[0].get(NOBODY_ONLINE)),  # see app/engine/timers.py
    )


def is_vip(customer: dict[str, Any], rules: Rules) -> bool:
    tags = set(customer.get("tags") or ())
    return bool(customer.get("vip")) or bool(tags & set(rules.vip.tags))


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


def _answered_topic(meta: dict[str, Any]) -> str | None:
    """The intent of the bot's latest reply when that reply answered (not suggested or asked again)."""
    return (meta.get("intent") or {}).get("name") if meta.get("action") == "answer" else None
