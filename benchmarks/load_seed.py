"""Returning customers and online agents for the load benchmarks: rows written through kefu's own table models.

At the rates one instance sustains, a few minutes of traffic would never reach 100k customers, so
the 100k phase starts from a store that already holds them: one open conversation (state `bot`)
and one earlier, processed message each, with the ids the traffic then draws from. Agents are
written the same way, online (as if each had logged in to the console) and never replying.
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import create_engine, insert

from app.knowledge import build_routing
from app.settings import DEFAULT_RULES_FILE
from app.store.tables import Agent, Conversation, ConversationState, Message, new_id, utcnow


def seed_customers(db: Path, prefix: str, count: int, *, batch: int = 10_000) -> float:
    """Customers `<prefix>-c0` … `<prefix>-c<count-1>` on the web channel; seconds it took.

    Written in short transactions while kefu runs idle (one writer at a time; SQLite's busy timeout
    makes kefu's timers wait a moment rather than fail)."""
    start, engine = time.perf_counter(), create_engine(f"sqlite:///{db}", connect_args={"timeout": 30})
    try:
        for first in range(0, count, batch):
            customers = [f"{prefix}-c{n}" for n in range(first, min(first + batch, count))]
            ids = [new_id() for _ in customers]
            with engine.begin() as conn:
                conn.execute(insert(Conversation), [_conversation(i, c) for i, c in zip(ids, customers, strict=True)])
                conn.execute(insert(Message), [_message(i, c) for i, c in zip(ids, customers, strict=True)])
    finally:
        engine.dispose()
    return time.perf_counter() - start


def seed_agents(db: Path, count: int, *, capacity: int = 5) -> None:
    """Agents `load-a0` … online, each with every skill of the shipped rules' queues."""
    rules = build_routing(DEFAULT_RULES_FILE).rules
    skills = sorted({skill for queue in rules.queues for skill in queue.skills})
    agents = [
        {
            "username": f"load-a{n}",
            "name": f"客服{n}",
            "skills": skills,
            "capacity": capacity,
            "token_hash": new_id(),
            "status": "online",
        }  # fmt: skip
        for n in range(count)
    ]
    engine = create_engine(f"sqlite:///{db}", connect_args={"timeout": 30})
    try:
        with engine.begin() as conn:
            conn.execute(insert(Agent), agents)
    finally:
        engine.dispose()


def _conversation(conversation_id: str, customer: str) -> dict:
    return {"id": conversation_id, "channel": "web", "account": "default", "customer_id": customer,
            "state": ConversationState.BOT}  # fmt: skip


def _message(conversation_id: str, customer: str) -> dict:
    return {"conversation_id": conversation_id, "channel": "web", "account": "default", "customer_id": customer,
            "direction": "in", "sender": "customer", "platform_message_id": f"seed-{customer}", "text": "你好",
            "processed_at": utcnow()}  # fmt: skip
