"""Deliver every outbound message, in order per conversation, retrying with backoff until it lands.

Rows live in the `outbox` table, so pending deliveries survive a restart. Only the oldest
pending row of a conversation is eligible, so a failing reply holds back the ones after it
instead of letting them overtake it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import aliased

from adapters.base import Adapter, Address, OutboundMessage
from adapters.errors import DeliveryError
from app.settings import OutboxSettings
from app.store.tables import Conversation, Message, OutboxItem, OutboxStatus, utcnow

log = logging.getLogger(__name__)


def backoff_delay(attempts: int, policy: OutboxSettings, retry_after: float | None = None) -> float:
    """Seconds before the next try: exponential with ±20% jitter, never sooner than Retry-After."""
    delay = min(policy.base_delay_seconds * 2 ** (attempts - 1), policy.max_delay_seconds)
    delay *= random.uniform(0.8, 1.2)
    return max(delay, retry_after or 0.0)


class Outbox:
    def __init__(
        self, sessions: async_sessionmaker, adapters: Mapping[tuple[str, str], Adapter], policy: OutboxSettings
    ) -> None:
        self._sessions = sessions
        self._adapters = adapters
        self._policy = policy
        self._wake = asyncio.Event()
        self._in_flight: dict[str, asyncio.Task] = {}  # conversation id -> delivery task
        self._closing = False
        self._loop_task: asyncio.Task | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._run(), name="outbox")

    async def drain(self, timeout: float) -> None:
        """Finish the deliveries under way; what is still pending is sent after restart."""
        self._closing = True
        self._wake.set()
        tasks = [t for t in (self._loop_task, *self._in_flight.values()) if t]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()

    async def _run(self) -> None:
        while not self._closing:
            self._wake.clear()
            try:
                for item_id, message in await self._due():
                    self._in_flight[message.conversation_id] = asyncio.create_task(self._deliver(item_id, message))
            except Exception:
                log.exception("outbox scan failed")
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._policy.poll_seconds)
            except TimeoutError:
                pass

    async def _due(self) -> list[tuple[int, OutboundMessage]]:
        """The head of each conversation's pending replies, due now, with what to send (one query)."""
        room = self._policy.parallel - len(self._in_flight)
        if room <= 0:
            return []
        earlier = aliased(OutboxItem)
        blocked = exists().where(
            and_(
                earlier.conversation_id == OutboxItem.conversation_id,
                earlier.status == OutboxStatus.PENDING,
                earlier.id < OutboxItem.id,
            )
        )
        query = (
            select(OutboxItem.id, Message, Conversation)
            .join(Message, Message.id == OutboxItem.message_id)
            .join(Conversation, Conversation.id == OutboxItem.conversation_id)
            .where(OutboxItem.status == OutboxStatus.PENDING, OutboxItem.next_attempt_at <= utcnow(), ~blocked)
            .order_by(OutboxItem.id)
            .limit(room + len(self._in_flight))
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        due = [(item_id, outbound_message(m, c)) for item_id, m, c in rows if c.id not in self._in_flight]
        return due[:room]

    async def _deliver(self, item_id: int, message: OutboundMessage) -> None:
        try:
            try:
                address = message.address
                delivered = await self._adapters[(address.channel, address.account)].send_text(message)
            except DeliveryError as exc:
                await self._record_failure(item_id, exc)
            else:
                await self._record_success(item_id, delivered)
        except Exception:
            log.exception("outbox delivery of item %s crashed", item_id)
        finally:
            self._in_flight.pop(message.conversation_id, None)
            self._wake.set()

    async def _record_success(self, item_id: int, delivered: bool) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item_id)
                .values(
                    attempts=OutboxItem.attempts + 1,
                    status=OutboxStatus.DELIVERED if delivered else OutboxStatus.NO_ROUTE,
                    delivered_at=utcnow(),
                )
            )

    async def _record_failure(self, item_id: int, error: DeliveryError) -> None:
        now = utcnow()
        async with self._sessions.begin() as session:
            item = await session.get_one(OutboxItem, item_id)
            item.attempts += 1
            item.last_error = error.reason
            if not error.retryable or _expired(item.created_at, now, self._policy):
                item.status = OutboxStatus.FAILED
                log.error("outbox gave up on item %s after %d attempts: %s", item_id, item.attempts, error)
                return
            delay = backoff_delay(item.attempts, self._policy, error.retry_after)
            item.next_attempt_at = now + timedelta(seconds=delay)
        log.warning("delivery of item %s failed (%s); retry in %.1f s", item_id, error.reason, delay)


def outbound_message(message: Message, conversation: Conversation) -> OutboundMessage:
    """The adapter's view of a stored outbound message."""
    return OutboundMessage(
        message_id=message.public_id,
        conversation_id=conversation.id,
        address=Address(conversation.channel, conversation.account, conversation.customer_id),
        sender=message.sender,
        text=message.text,
        in_reply_to=message.in_reply_to,
    )


def _expired(created_at: datetime, now: datetime, policy: OutboxSettings) -> bool:
    return (now - created_at).total_seconds() > policy.give_up_after_seconds
