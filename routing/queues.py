"""A waiting chat, the rank of each level, and the ETA a waiting customer is told.

The serving order itself (level, then priority grown by the wait, then the longest wait) is kept
by the database, so a pass reads only the head of a long line: app/engine/waiting.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

LEVEL_RANK = {"L3": 3, "L2": 2, "L1": 1}  # a higher level is never overtaken


@dataclass(frozen=True, slots=True)
class Waiting:
    conversation_id: str
    queue: str
    level: str
    priority: int
    queued_at: datetime


def eta_minutes(position: int, served_per_minute: float, *, fallback_minutes_per_chat: float) -> int:
    """Minutes until served: the chats ahead over the queue's recent throughput (or the fallback)."""
    per_chat = 1 / served_per_minute if served_per_minute > 0 else fallback_minutes_per_chat
    return max(1, math.ceil(position * per_chat))
