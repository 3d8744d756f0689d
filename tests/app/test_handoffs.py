"""Telling the platform of a handoff: after the replies, retried a few times, failures logged."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import update

from adapters.base import Adapter, Address, InboundMessage, OutboundMessage, WebhookReply, WebhookRequest
from adapters.errors import PlatformCallError
from adapters.web import WebAdapter
from app.engine.handoffs import PlatformHandoffs
from app.store.database import create_engine, session_factory
from app.store.tables import Base, Message, OutboxItem, OutboxStatus

ADDRESS = Address("kf", "shop", "wk1:wm1")


class HandingPlatform(Adapter):
    name = "kf"
    account = "shop"

    def __init__(self, failures: list[PlatformCallError] | None = None) -> None:
        self.failures = failures or []
        self.handoffs: list[tuple[Address, str]] = []

    async def on_handoff(self, address: Address, queue: str) -> None:
        self.handoffs.append((address, queue))
        if self.failures:
            raise self.failures.pop(0)

    def verify(self, request: WebhookRequest) -> None: ...

    def parse(self, request: WebhookRequest) -> list[InboundMessage]:
        return []

    def acknowledge(self, *, accepted: int, duplicates: int) -> WebhookReply:
        return WebhookReply()

    async def send_text(self, message: OutboundMessage) -> bool:
        return True


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield session_factory(engine)
    await engine.dispose()


def handoffs(sessions, platform) -> PlatformHandoffs:
    return PlatformHandoffs(sessions, {("kf", "shop"): platform}, retry_wait=0, poll_seconds=0.01)


async def test_retryable_refusals_are_retried_until_the_platform_takes_it(sessions):
    platform = HandingPlatform([PlatformCallError("kf", "system busy"), PlatformCallError("kf", "system busy")])
    hub = handoffs(sessions, platform)

    hub.notify(ADDRESS, "conv-1", "presale")
    await hub.drain(5)

    assert platform.handoffs == [(ADDRESS, "presale")] * 3


async def test_a_permanent_refusal_is_logged_with_its_reason(sessions, caplog):
    platform = HandingPlatform([PlatformCallError("kf", "errcode 95016: bad transition", retryable=False)])
    hub = handoffs(sessions, platform)

    hub.notify(ADDRESS, "conv-1", "presale")
    await hub.drain(5)

    assert len(platform.handoffs) == 1
    assert "could not take over conversation conv-1: errcode 95016: bad transition" in caplog.text


async def test_the_handoff_waits_for_the_conversations_pending_replies(sessions):
    async with sessions.begin() as session:
        reply = Message(
            channel="kf", account="shop", customer_id="wk1:wm1", direction="out", sender="system", text="转接中"
        )
        session.add(reply)
        await session.flush()
        session.add(OutboxItem(message_id=reply.id, conversation_id="conv-1", channel="kf"))
    platform = HandingPlatform()
    hub = handoffs(sessions, platform)

    hub.notify(ADDRESS, "conv-1", "presale")
    await asyncio.sleep(0.1)
    assert platform.handoffs == []
    async with sessions.begin() as session:
        await session.execute(update(OutboxItem).values(status=OutboxStatus.DELIVERED))
    await hub.drain(5)

    assert platform.handoffs == [(ADDRESS, "presale")]


async def test_platforms_without_a_handoff_hook_are_left_alone(sessions):
    web = WebAdapter(secret=None, callback_url=None, client=None, account="shop")
    hub = PlatformHandoffs(sessions, {("web", "shop"): web})

    hub.notify(Address("web", "shop", "c-1"), "conv-1", "presale")

    assert not hub.busy
