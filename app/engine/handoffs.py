"""Tell the platform that a chat was handed to people, once the handoff is committed (Adapter.on_handoff).

Only WeCom KF acts on it today: with `handoff_service_state` set it moves the WeCom session to WeCom's
pool or a servicer. Kept simple on purpose: one background task per handoff waits (at most
`settle_seconds`) until the conversation's pending replies have left the outbox, since WeCom stops
accepting API messages once its servicers own the session; then it tries a few times with backoff
(tenacity) and logs the platform's reason if it still fails. Nothing is stored: a handoff under way
at shutdown, or one that failed, is not redone later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import async_sessionmaker
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from adapters.base import Adapter, Address
from adapters.errors import PlatformCallError
from app.store.tables import OutboxItem, OutboxStatus

log = logging.getLogger(__name__)


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, PlatformCallError) and exc.retryable


class PlatformHandoffs:
    def __init__(
        self,
        sessions: async_sessionmaker,
        adapters: Mapping[tuple[str, str], Adapter],
        *,
        attempts: int = 3,
        retry_wait: float = 1.0,
        settle_seconds: float = 30.0,
        poll_seconds: float = 0.2,
    ) -> None:
        self._sessions = sessions
        self._adapters = adapters
        self._attempts = attempts
        self._retry_wait = retry_wait
        self._settle_seconds = settle_seconds
        self._poll_seconds = poll_seconds
        self._tasks: set[asyncio.Task] = set()
        self._closing = False

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    def notify(self, address: Address, conversation_id: str, queue: str) -> None:
        """After the commit that queued `conversation_id`: hand it over on its platform in the background."""
        adapter = self._adapters.get((address.channel, address.account))
        if adapter is None or self._closing or type(adapter).on_handoff is Adapter.on_handoff:
            return  # the base hook does nothing: no need to wait for the outbox
        task = asyncio.create_task(self._hand_over(adapter, address, conversation_id, queue), name="platform handoff")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float) -> None:
        self._closing = True
        if self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()

    async def _hand_over(self, adapter: Adapter, address: Address, conversation_id: str, queue: str) -> None:
        await self._replies_sent(conversation_id)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=self._retry_wait, max=30),
            retry=retry_if_exception(_retryable),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await adapter.on_handoff(address, queue)
        except PlatformCallError as exc:
            log.error("%s could not take over conversation %s: %s", address.channel, conversation_id, exc.reason)
        except Exception:
            log.exception("%s handoff of conversation %s crashed", address.channel, conversation_id)

    async def _replies_sent(self, conversation_id: str) -> None:
        """Wait until no reply of the conversation is pending delivery, or `settle_seconds` passed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settle_seconds
        query = select(func.count()).where(
            OutboxItem.conversation_id == conversation_id, OutboxItem.status == OutboxStatus.PENDING
        )
        while loop.time() < deadline:
            try:
                async with self._sessions() as session:
                    if not await session.scalar(query):
                        return
            except SQLAlchemyError as exc:
                log.warning("cannot see the outbox (%s); handing over without waiting", type(exc).__name__)
                return
            await asyncio.sleep(self._poll_seconds)
        waited = self._settle_seconds
        log.warning("replies of conversation %s still pending after %.0f s; handing over", conversation_id, waited)
