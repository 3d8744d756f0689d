"""The Puller against a real store (SQLite, or PostgreSQL under make test-pg) and Intake, scripted platform."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from adapters.base import (
    Address,
    InboundMessage,
    OutboundMessage,
    PullAdapter,
    PulledPage,
    SyncHint,
    WebhookReply,
    WebhookRequest,
)
from adapters.errors import PlatformCallError
from app.cluster import Leadership
from app.engine.intake import Intake
from app.engine.pull import Puller
from app.store.database import create_engine, session_factory
from app.store.tables import Base, Message, SyncCursor
from tests.utils.kefu_process import free_port

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
KEY = ("kf", "shop")


def message(msgid: str, *, sent_at: datetime = NOW) -> InboundMessage:
    return InboundMessage(Address("kf", "shop", "wk1:wm1"), msgid, f"text {msgid}", sent_at=sent_at)


class ScriptedPlatform(PullAdapter):
    """Pages keyed by the cursor they follow; `gate`, when set, holds every pull until opened."""

    name = "kf"
    account = "shop"

    def __init__(self, pages: dict[str | None, PulledPage]) -> None:
        self.pages = pages
        self.pulls: list[tuple[str, str | None, str | None]] = []
        self.gate: asyncio.Event | None = None
        self.failures: list[PlatformCallError] = []

    async def pull(self, stream: str, cursor: str | None, token: str | None) -> PulledPage:
        self.pulls.append((stream, cursor, token))
        if self.gate is not None:
            await self.gate.wait()
        if self.failures:
            raise self.failures.pop(0)
        return self.pages.get(cursor, PulledPage([], cursor, False))

    def sync_hints(self, request: WebhookRequest) -> list[SyncHint]:
        return []

    def verify(self, request: WebhookRequest) -> None: ...

    def parse(self, request: WebhookRequest) -> list[InboundMessage]:
        return []

    def acknowledge(self, *, accepted: int, duplicates: int) -> WebhookReply:
        return WebhookReply()

    async def send_text(self, message: OutboundMessage) -> bool:
        return True


class FlakyIntake(Intake):
    """Storage that fails once on the message ids in `fail_once`."""

    def __init__(self, sessions, fail_once: set[str]) -> None:
        super().__init__(sessions.kw["bind"], lambda address: None)
        self.fail_once = fail_once

    async def accept(self, message: InboundMessage) -> bool:
        if message.platform_message_id in self.fail_once:
            self.fail_once.discard(message.platform_message_id)
            raise OperationalError("INSERT", {}, Exception("disk I/O error"))
        return await super().accept(message)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield session_factory(engine)
    await engine.dispose()


def puller(sessions, platform: ScriptedPlatform, intake: Intake | None = None, **kwargs) -> Puller:
    intake = intake or Intake(sessions.kw["bind"], lambda address: None)
    return Puller(sessions, {KEY: platform}, intake, retry_wait=0, clock=lambda: NOW, **kwargs)


async def settle(pull: Puller, timeout: float = 5) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while pull.busy:
        assert asyncio.get_running_loop().time() < deadline, "the puller never went idle"
        await asyncio.sleep(0.01)


async def stored_ids(sessions) -> list[str]:
    async with sessions() as session:
        return list(await session.scalars(select(Message.platform_message_id).order_by(Message.id)))


async def stored_cursor(sessions) -> str | None:
    async with sessions() as session:
        return await session.scalar(select(SyncCursor.cursor))


async def test_a_pass_reads_every_page_and_keeps_the_last_cursor(sessions):
    platform = ScriptedPlatform(
        {None: PulledPage([message("m1"), message("m2")], "c1", True), "c1": PulledPage([message("m3")], "c2", False)}
    )
    pull = puller(sessions, platform)

    pull.request(*KEY, SyncHint("wk1", "tok"))
    await settle(pull)

    assert platform.pulls == [("wk1", None, "tok"), ("wk1", "c1", "tok")]
    assert await stored_ids(sessions) == ["m1", "m2", "m3"]
    assert await stored_cursor(sessions) == "c2"


async def test_requests_during_a_pass_cause_exactly_one_more_pass(sessions):
    platform = ScriptedPlatform({None: PulledPage([message("m1")], "c1", False)})
    platform.gate = asyncio.Event()
    pull = puller(sessions, platform)

    pull.request(*KEY, SyncHint("wk1", "tok-1"))
    await asyncio.sleep(0.01)
    for n in range(2, 6):
        pull.request(*KEY, SyncHint("wk1", f"tok-{n}"))
    platform.gate.set()
    await settle(pull)

    assert platform.pulls == [("wk1", None, "tok-1"), ("wk1", "c1", "tok-5")]
    assert await stored_ids(sessions) == ["m1"]


async def test_streams_are_pulled_independently(sessions):
    platform = ScriptedPlatform({})
    pull = puller(sessions, platform)

    pull.request(*KEY, SyncHint("wk1"))
    pull.request(*KEY, SyncHint("wk2"))
    await settle(pull)

    assert sorted(stream for stream, _, _ in platform.pulls) == ["wk1", "wk2"]


async def test_storage_failure_keeps_the_cursor_and_the_retry_rereads_the_page_once_each(sessions):
    platform = ScriptedPlatform({None: PulledPage([message("m1"), message("m2")], "c1", False)})
    pull = puller(sessions, platform, FlakyIntake(sessions, {"m2"}))

    pull.request(*KEY, SyncHint("wk1"))
    await settle(pull)

    assert [cursor for _, cursor, _ in platform.pulls] == [None, None]  # the page again, not skipped
    assert await stored_ids(sessions) == ["m1", "m2"]  # m1 deduplicated on the second read
    assert await stored_cursor(sessions) == "c1"


async def test_retryable_platform_errors_are_retried_then_given_up(sessions, caplog):
    platform = ScriptedPlatform({})
    platform.failures = [PlatformCallError("kf", "system busy") for _ in range(5)]
    pull = puller(sessions, platform, attempts=3)

    pull.request(*KEY, SyncHint("wk1"))
    await settle(pull)

    assert len(platform.pulls) == 3
    assert "system busy" in caplog.text
    assert await stored_cursor(sessions) is None


async def test_permanent_platform_errors_are_not_retried(sessions):
    platform = ScriptedPlatform({})
    platform.failures = [PlatformCallError("kf", "errcode 95000: bad open_kfid", retryable=False)]
    pull = puller(sessions, platform)

    pull.request(*KEY, SyncHint("wk1"))
    await settle(pull)

    assert len(platform.pulls) == 1


async def test_resume_pulls_every_stored_stream_from_its_cursor_without_a_token(sessions):
    async with sessions.begin() as session:
        session.add(SyncCursor(channel="kf", account="shop", stream="wk1", cursor="c7"))
        session.add(SyncCursor(channel="gone", account="shop", stream="wk9", cursor="c1"))  # no longer configured
    platform = ScriptedPlatform({"c7": PulledPage([message("m8")], "c8", False)})
    pull = puller(sessions, platform)

    await pull.resume()
    await settle(pull)

    assert platform.pulls == [("wk1", "c7", None)]
    assert await stored_ids(sessions) == ["m8"]


async def test_first_pull_ever_skips_old_history(sessions):
    old = NOW - timedelta(days=2)
    platform = ScriptedPlatform({None: PulledPage([message("old", sent_at=old), message("new")], "c1", False)})
    pull = puller(sessions, platform)

    pull.request(*KEY, SyncHint("wk1"))
    await settle(pull)

    assert await stored_ids(sessions) == ["new"]


async def test_has_more_without_a_new_cursor_ends_the_pass(sessions):
    platform = ScriptedPlatform({"c1": PulledPage([message("m1")], "c1", True)})
    async with sessions.begin() as session:
        session.add(SyncCursor(channel="kf", account="shop", stream="wk1", cursor="c1"))
    pull = puller(sessions, platform)

    pull.request(*KEY, SyncHint("wk1"))
    await settle(pull)

    assert len(platform.pulls) == 1


async def test_cursor_rows_are_updated_in_place(sessions):
    platform = ScriptedPlatform({None: PulledPage([], "c1", False), "c1": PulledPage([], "c2", False)})
    pull = puller(sessions, platform)
    pull.request(*KEY, SyncHint("wk1"))
    await asyncio.sleep(0.05)
    pull.request(*KEY, SyncHint("wk1"))
    await settle(pull)

    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(SyncCursor)) == 1
    assert await stored_cursor(sessions) == "c2"


async def test_two_instances_take_turns_on_a_stream_and_neither_callback_is_left_behind(sessions, redis_url):
    if redis_url is None:
        pytest.skip("instances share their pull leases through Redis: run with `make test-pg`")
    platform = ScriptedPlatform({None: PulledPage([message("m1")], "c1", False)})
    platform.gate = asyncio.Event()
    first, second = (
        puller(sessions, platform, leases=Leadership(Redis.from_url(redis_url)).lease, lease_wait=0.01)
        for _ in range(2)
    )

    first.request(*KEY, SyncHint("wk1", "tok-1"))
    await asyncio.sleep(0.05)
    second.request(*KEY, SyncHint("wk1", "tok-2"))
    await asyncio.sleep(0.1)
    assert platform.pulls == [("wk1", None, "tok-1")]  # the second instance waits for the first's pass
    platform.gate.set()
    await settle(first)
    await settle(second)

    assert platform.pulls == [("wk1", None, "tok-1"), ("wk1", "c1", "tok-2")]  # then passes once from its cursor
    assert await stored_ids(sessions) == ["m1"]


async def test_pulls_go_ahead_when_redis_cannot_say_who_holds_the_stream(sessions, caplog):
    platform = ScriptedPlatform({None: PulledPage([message("m1")], "c1", False)})
    unreachable = Redis.from_url(f"redis://127.0.0.1:{free_port()}", socket_connect_timeout=0.2)
    pull = puller(sessions, platform, leases=Leadership(unreachable).lease)

    pull.request(*KEY, SyncHint("wk1"))
    await settle(pull)

    assert await stored_ids(sessions) == ["m1"]
    assert "pulling anyway" in caplog.text
