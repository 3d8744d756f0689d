"""Which due replies the outbox sends first when it cannot send them all at once: those customers are
waiting on, before the notices nobody asked for just then (a tick's wait notices, a broadcast)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from app.engine.outbox import UNPROMPTED_YIELDS, Outbox
from app.engine.replies import add_reply
from app.http_client import http_client
from app.platforms import configured_adapters
from app.settings import OutboxSettings, Settings
from app.store.database import session_factory
from app.store.tables import ConversationState, OutboxItem
from tests.utils.callback_server import CallbackServer, running_callback
from tests.utils.store_rows import conversation

SECRET = "outbox-order-secret"


@pytest.fixture
def callback() -> Iterator[CallbackServer]:
    with running_callback(SECRET) as server:
        yield server


async def deliver_one_at_a_time(store: AsyncEngine, callback: CallbackServer, count: int) -> list[str]:
    """Run an outbox that sends one reply at a time until `count` arrived; their texts in arrival order."""
    settings = Settings(web={"secret": SECRET, "callback_url": callback.url})
    http = http_client(5.0)
    outbox = Outbox(store, configured_adapters(settings, http), OutboxSettings(parallel=1, poll_seconds=0.05))
    outbox.start()
    try:
        for _ in range(200):
            if len(callback.delivered) >= count:
                break
            await asyncio.sleep(0.05)
    finally:
        await outbox.drain(5)
        await http.aclose()
    return [body["text"] for body in callback.delivered]


async def store_notices_then_a_reply(sessions: async_sessionmaker) -> OutboxItem:
    """Three waiting customers' place notices, then the bot's answer to another customer's question."""
    async with sessions.begin() as session:
        for n in range(3):
            waiting = conversation(session, f"waiting-{n}", state=ConversationState.QUEUED)
            await add_reply(session, waiting, sender="system", text=f"前面还有{n}位")
        asking = conversation(session, "asking", state=ConversationState.BOT)
        await add_reply(session, asking, sender="bot", text="48小时内发货哦～", in_reply_to="m-1")
    async with sessions() as session:
        return await session.scalar(select(OutboxItem).order_by(OutboxItem.id.desc()).limit(1))


async def test_an_answer_goes_before_wait_notices_stored_earlier(store: AsyncEngine, callback) -> None:
    sessions = session_factory(store)
    await store_notices_then_a_reply(sessions)

    texts = await deliver_one_at_a_time(store, callback, 4)

    assert texts == ["48小时内发货哦～", "前面还有0位", "前面还有1位", "前面还有2位"]


async def test_a_notice_yields_to_a_bounded_number_of_later_replies(store: AsyncEngine, callback) -> None:
    sessions = session_factory(store)
    answer = await store_notices_then_a_reply(sessions)
    async with sessions.begin() as session:  # as if more than UNPROMPTED_YIELDS replies were stored meanwhile
        moved = update(OutboxItem).where(OutboxItem.id == answer.id).values(id=answer.id + UNPROMPTED_YIELDS)
        await session.execute(moved)

    texts = await deliver_one_at_a_time(store, callback, 4)

    assert texts == ["前面还有0位", "前面还有1位", "前面还有2位", "48小时内发货哦～"]
