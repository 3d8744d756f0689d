"""Read messages from platforms whose callbacks only say "pull" (WeCom KF's sync_msg), once each.

One sync at a time per (channel, account, stream). A request during a sync marks the stream to
pass once more, so a callback is never left behind and any number of overlapping callbacks cost
one extra pass. With several instances (scale-out mode) a Redis lease per stream extends that
across them: an instance whose callback arrives during another's pass waits for it to end, then
passes once itself. If Redis cannot tell, the pass goes ahead: the platform's message ids keep
a message from being accepted twice.

A pass reads pages until `has_more` is false; each page's messages go through Intake
(deduplicated on the platform's id) before its cursor is saved, so a crash re-reads a page
and never skips one. Cursors live in `sync_cursors`: a restart resumes every stream from where it
stopped instead of replaying the platform's history.

Failures (platform or storage) are retried a few times with backoff, then logged; the cursor
stays put, so the next callback or restart picks the messages up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from adapters.base import InboundMessage, PullAdapter, SyncHint
from adapters.errors import PlatformCallError
from app.cluster import Lease
from app.engine.intake import Intake
from app.store.tables import SyncCursor, utcnow

log = logging.getLogger(__name__)

StreamKey = tuple[str, str, str]  # (channel, account, stream)
MAX_PAGES_PER_PASS = 100  # a platform that keeps saying has_more gets a break; the next pass goes on
FIRST_SYNC_MAX_AGE = timedelta(minutes=30)  # a stream's first pull ever skips older messages
LEASE_SECONDS = 30.0  # renewed after every page; a dead instance's lease frees the stream this long after


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, SQLAlchemyError) or (isinstance(exc, PlatformCallError) and exc.retryable)


class Puller:
    def __init__(
        self,
        sessions: async_sessionmaker,
        adapters: Mapping[tuple[str, str], PullAdapter],
        intake: Intake,
        *,
        attempts: int = 4,
        retry_wait: float = 1.0,
        first_sync_max_age: timedelta = FIRST_SYNC_MAX_AGE,
        clock: Callable[[], datetime] = utcnow,
        leases: Callable[[str, float], Lease | None] = lambda key, seconds: None,
        lease_wait: float = 0.2,
    ) -> None:
        self._sessions = sessions
        self._adapters = adapters
        self._intake = intake
        self._attempts = attempts
        self._retry_wait = retry_wait
        self._first_sync_max_age = first_sync_max_age
        self._clock = clock
        self._leases = leases
        self._lease_wait = lease_wait
        self._running: dict[StreamKey, asyncio.Task] = {}
        self._again: dict[StreamKey, str | None] = {}  # stream -> the newest callback token for one more pass
        self._closing = False

    @property
    def busy(self) -> bool:
        return bool(self._running)

    def request(self, channel: str, account: str, hint: SyncHint) -> None:
        """Pull `hint.stream` now, or once more after the pass under way."""
        key = (channel, account, hint.stream)
        if self._closing or (channel, account) not in self._adapters:
            return
        if key in self._running:
            self._again[key] = hint.token or self._again.get(key)
            return
        self._running[key] = asyncio.create_task(self._work(key, hint.token), name=f"pull {key}")

    async def resume(self) -> None:
        """After a restart, pull every stream that has a cursor (no callback token: WeCom allows that, slower)."""
        async with self._sessions() as session:
            rows = (await session.execute(select(SyncCursor.channel, SyncCursor.account, SyncCursor.stream))).all()
        keys = [(c, a, s) for c, a, s in rows if (c, a) in self._adapters]
        for channel, account, stream in keys:
            self.request(channel, account, SyncHint(stream))
        if keys:
            log.info("resuming pulls of %d streams from their stored cursors", len(keys))

    async def drain(self, timeout: float) -> None:
        """Stop after the page under way; the rest resumes from the stored cursors on restart."""
        self._closing = True
        tasks = list(self._running.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()

    async def _work(self, key: StreamKey, token: str | None) -> None:
        lease = self._leases("kefu:pull:" + ":".join(key), LEASE_SECONDS)
        try:
            while not self._closing:
                if await self._exclusive(lease):
                    try:
                        await self._pass_with_retries(key, token, lease)
                    finally:
                        if lease is not None:
                            await lease.release()
                if key not in self._again:
                    break
                token = self._again.pop(key)
        finally:
            self._running.pop(key, None)
            self._again.pop(key, None)

    async def _exclusive(self, lease: Lease | None) -> bool:
        """Wait until no other instance pulls the stream; False if this one is closing meanwhile."""
        while lease is not None and not self._closing:
            try:
                if await lease.take():
                    return True
            except RedisError as exc:
                log.warning("pull lease %s unknown (%s): pulling anyway", lease.key, type(exc).__name__)
                return True
            await asyncio.sleep(self._lease_wait)
        return not self._closing

    async def _pass_with_retries(self, key: StreamKey, token: str | None, lease: Lease | None) -> None:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=self._retry_wait, max=30),
            retry=retry_if_exception(_retryable),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._pass(key, token, lease)
        except (PlatformCallError, SQLAlchemyError) as exc:
            log.error("pull of %s/%s stream %s failed; the next callback retries: %s", *key, _describe(exc))
        except Exception:
            log.exception("pull of %s/%s stream %s crashed", *key)

    async def _pass(self, key: StreamKey, token: str | None, lease: Lease | None) -> None:
        """Read pages until the platform has no more, storing each page's messages before its cursor."""
        adapter = self._adapters[key[:2]]
        cursor = await self._cursor(key)
        oldest = self._clock() - self._first_sync_max_age if cursor is None else None
        for _ in range(MAX_PAGES_PER_PASS):
            page = await adapter.pull(key[2], cursor, token)
            await self._store(key, page.messages, oldest)
            if page.next_cursor and page.next_cursor != cursor:
                cursor = page.next_cursor
                await self._save_cursor(key, cursor)
            elif page.has_more:
                log.warning("%s/%s stream %s says has_more without a new cursor; stopping this pass", *key)
                return
            if not page.has_more or self._closing:
                return
            if lease is not None:
                with contextlib.suppress(RedisError):
                    await lease.take()  # a long pass keeps the stream
        log.warning("%s/%s stream %s still has more after %d pages; the next pass goes on", *key, MAX_PAGES_PER_PASS)

    async def _store(self, key: StreamKey, messages: list[InboundMessage], oldest: datetime | None) -> None:
        """Accept each message once; on a stream's first pull ever, only those sent after `oldest`."""
        fresh = [m for m in messages if oldest is None or m.sent_at is None or m.sent_at >= oldest]
        if len(fresh) < len(messages):
            skipped, age = len(messages) - len(fresh), self._first_sync_max_age
            log.info("first pull of %s/%s stream %s: skipped %d messages older than %s", *key, skipped, age)
        for message in fresh:
            await self._intake.accept(message)

    async def _cursor(self, key: StreamKey) -> str | None:
        async with self._sessions() as session:
            return await session.scalar(
                select(SyncCursor.cursor).where(
                    SyncCursor.channel == key[0], SyncCursor.account == key[1], SyncCursor.stream == key[2]
                )
            )

    async def _save_cursor(self, key: StreamKey, cursor: str) -> None:
        async with self._sessions.begin() as session:
            await _upsert_cursor(session, key, cursor)


async def _upsert_cursor(session: AsyncSession, key: StreamKey, cursor: str) -> None:
    """INSERT … ON CONFLICT DO UPDATE, which SQLite and PostgreSQL spell the same way."""
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    channel, account, stream = key
    values = {"channel": channel, "account": account, "stream": stream, "cursor": cursor, "updated_at": utcnow()}
    statement = insert(SyncCursor).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["channel", "account", "stream"], set_={"cursor": cursor, "updated_at": values["updated_at"]}
    )
    await session.execute(statement)


def _describe(exc: BaseException) -> str:
    return exc.reason if isinstance(exc, PlatformCallError) else f"storage unavailable ({type(exc).__name__})"
