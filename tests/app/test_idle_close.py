"""A chat with a person closes once nobody wrote for `idle_close_minutes`: its last message decides,
however old the ones before it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.engine.timers import QueueTimers
from app.knowledge import build_routing
from app.live import LiveHub
from app.settings import DEFAULT_RULES_FILE
from app.store.database import session_factory
from app.store.tables import Agent, Conversation, ConversationState, utcnow
from tests.utils.store_rows import conversation, turn

ROUTING = build_routing(DEFAULT_RULES_FILE)


async def test_only_the_chat_whose_last_message_is_old_closes(store: AsyncEngine) -> None:
    sessions, now = session_factory(store), utcnow()
    quiet = timedelta(minutes=ROUTING.rules.service.idle_close_minutes)
    async with sessions.begin() as session:
        session.add(Agent(id="wang", username="wang", name="小王", status="online", token_hash="wang"))
        for name, ages in (("went-quiet", (quiet * 3, quiet * 2)), ("wrote-again", (quiet * 3, quiet / 2))):
            chat = conversation(session, name, state=ConversationState.WITH_AGENT, agent_id="wang", assigned_at=now)
            for age in ages:  # oldest first, as messages arrive
                turn(session, chat, "在吗", now - age)
    sent = []
    timers = QueueTimers(sessions, lambda: ROUTING, LiveHub(), sent.append, lambda: None, clock=lambda: now)

    await timers.run()

    async with sessions() as session:
        states = dict((await session.execute(select(Conversation.customer_id, Conversation.state))).all())
    assert states == {"went-quiet": ConversationState.CLOSED, "wrote-again": ConversationState.WITH_AGENT}
    assert [notice.address.customer_id for notice in sent] == ["went-quiet"]  # asked for a rating
