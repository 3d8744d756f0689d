"""Who is served next: waiting chats ordered by level, then priority grown by waiting time.

Aging adds `aging_per_minute` priority points for every minute waited, so an ordinary chat
eventually passes a newer chat of a higher priority: nobody starves. Level (L3 > L2 > L1) is
never overtaken.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

LEVEL_RANK = {"L3": 3, "L2": 2, "L1": 1}


@dataclass(frozen=True, slots=True)
class Waiting:
    conversation_id: str
    queue: str
    level: str
    priority: int
    queued_at: datetime


def effective_priority(chat: Waiting, now: datetime, aging_per_minute: float) -> float:
    return chat.priority + aging_per_minute * max((now - chat.queued_at).total_seconds(), 0) / 60


def ordered(chats: Iterable[Waiting], *, now: datetime, aging_per_minute: float = 1.0) -> list[Waiting]:
    """Serving order: level first, then aged priority, then who has waited longest."""
    return sorted(
        chats,
        key=lambda c: (-LEVEL_RANK.get(c.level, 0), -effective_priority(c, now, aging_per_minute), c.queued_at),
    )


def positions(chats: Iterable[Waiting], *, now: datetime, aging_per_minute: float = 1.0) -> dict[str, int]:
    """1-based place of each chat within its own queue."""
    seen: dict[str, int] = {}
    places = {}
    for chat in ordered(chats, now=now, aging_per_minute=aging_per_minute):
        seen[chat.queue] = seen.get(chat.queue, 0) + 1
        places[chat.conversation_id] = seen[chat.queue]
    return places


def eta_minutes(position: int, served_per_minute: float, *, fallback_minutes_per_chat: float) -> int:
    """Minutes until served: the chats ahead over the queue's recent throughput (or the fallback)."""
    per_chat = 1 / served_per_minute if served_per_minute > 0 else fallback_minutes_per_chat
    return max(1, math.ceil(position * per_chat))
