"""A reply stored through the ORM (an agent's reply, an assignment's greeting) behind one in backoff
is born waiting with it, as the engine's batched replies are (tests/e2e/test_web_channel.py)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.engine.replies import add_reply
from app.store.database import session_factory
from app.store.tables import ConversationState, OutboxItem, utcnow
from tests.utils.store_rows import conversation


async def test_an_agents_reply_behind_a_failing_one_takes_its_next_try(store: AsyncEngine) -> None:
    sessions, retry_at = session_factory(store), utcnow() + timedelta(minutes=5)
    async with sessions.begin() as session:
        chat = conversation(session, "c", state=ConversationState.WITH_AGENT)
        await add_reply(session, chat, sender="bot", text="亲，在的～")
        other = conversation(session, "d", state=ConversationState.WITH_AGENT)
    async with sessions.begin() as session:
        failing = await session.scalar(select(OutboxItem))
        failing.attempts, failing.next_attempt_at = 1, retry_at  # failed once, in backoff
    async with sessions.begin() as session:
        await add_reply(session, chat, sender="agent", text="您好，我是小王")
        await add_reply(session, other, sender="agent", text="您好")

    async with sessions() as session:
        rows = (await session.execute(select(OutboxItem.conversation_id, OutboxItem.next_attempt_at))).all()
    first_tries = [at for conversation_id, at in rows if conversation_id == chat.id]
    assert first_tries == [retry_at, retry_at]  # behind the failing one: its next try
    [(_, elsewhere)] = [row for row in rows if row[0] == other.id]
    assert elsewhere <= utcnow()  # nothing before it: due at once
