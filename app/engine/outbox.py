"""Deliver every outbound message, in order per conversation, retrying with backoff until it lands.

Rows live in the `outbox` table, so pending deliveries survive a restart. Only the oldest
pending row of a conversation is eligible, so a failing reply holds back the ones after it
instead of letting them overtake it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, and_, bindparam, case, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import aliased

from adapters.base import Adapter, Address, OutboundMessage
from adapters.errors import DeliveryError
from app import metrics
from app.engine.outage import OutageLog
from app.settings import OutboxSettings
from app.store.database import session_factory
from app.store.sqlite_statements import write_and_commit
from app.store.tables import Message, OutboxItem, OutboxStatus, UTCDateTime, utcnow

log = logging.getLogger(__name__)


def backoff_delay(attempts: int, policy: OutboxSettings, retry_after: float | None = None) -> float:
    """Seconds before the next try: exponential with ±20% jitter, never sooner than Retry-After."""
    delay = min(policy.base_delay_seconds * 2 ** (attempts - 1), policy.max_delay_seconds)
    delay *= random.uniform(0.8, 1.2)
    return max(delay, retry_after or 0.0)


class Outbox:
    def __init__(self, db: AsyncEngine, adapters: Mapping[tuple[str, str], Adapter], policy: OutboxSettings) -> None:
        self._db = db  # a pass reads and writes rows, no objects: a Core connection (120 µs empty, 185 in a session)
        self._sessions = session_factory(db)  # a failure's bookkeeping
        self._adapters = adapters
        self._policy = policy
        self._wake = asyncio.Event()
        self._in_flight: dict[str, asyncio.Task] = {}  # conversation id -> delivery task, until its outcome is stored
        self._sent: dict[int, tuple[str, str, datetime]] = {}  # item id -> (conversation id, status, when): to store
        self._closing = False
        self._outage = OutageLog(log, "outbox scan")  # one traceback per database outage, not one per poll
        self._loop_task: asyncio.Task | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._run(), name="outbox")

    async def drain(self, timeout: float) -> None:
        """Finish the deliveries under way and store their outcome; what is still pending is sent after restart."""
        self._closing = True
        self._wake.set()
        tasks = [t for t in (self._loop_task, *self._in_flight.values()) if t]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()

    async def _run(self) -> None:
        while not (self._closing and not self._in_flight):
            self._wake.clear()
            try:
                for item_id, message in await self._store_sent_and_scan():
                    self._in_flight[message.conversation_id] = asyncio.create_task(self._deliver(item_id, message))
                self._outage.worked()
            except Exception:
                self._outage.failed()
            if self._closing and not self._in_flight:
                break
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._policy.poll_seconds)
            except TimeoutError:
                pass

    async def _store_sent_and_scan(self) -> list[tuple[int, OutboundMessage]]:
        """Store what was sent since the last pass, then find what is due, in one transaction.

        A sent row is stored here rather than by its delivery task, so a burst of replies costs one
        transaction per pass, not one per reply; its conversation counts as in flight until then.
        On PostgreSQL several instances may scan at once: the due rows are locked with SKIP LOCKED
        and leased (their next attempt moved past the send timeout) in the same transaction, so two
        instances never send the same reply; a lease whose instance died simply expires.
        """
        sent = dict(self._sent)
        stored = {conversation_id for conversation_id, _, _ in sent.values()}
        busy = {c for c, task in self._in_flight.items() if c not in stored or not task.done()}
        room = 0 if self._closing else self._policy.parallel - len(busy)
        scan = {"now": utcnow(), "limit": room + len(busy)} if room > 0 else None
        stores = [{"item": i, "to": s, "at": at} for i, (_, s, at) in sent.items()]
        releases = [{"conversation": c, "at": at} for c, _, at in sent.values()]
        async with self._db.begin() as connection:
            rows = await _store_and_scan(connection, stores, releases, scan)
            due = [(row[0], _outbound(*row[1:])) for row in rows]
            due = [(item_id, message) for item_id, message in due if message.conversation_id not in busy][:room]
            if due and connection.dialect.name == "postgresql":
                lease = utcnow() + timedelta(seconds=self._policy.send_timeout_seconds * 2 + 5)
                await connection.execute(_LEASE, {"ids": [item_id for item_id, _ in due], "until": lease})
        for item_id, (conversation_id, _, _) in sent.items():
            del self._sent[item_id]
            if conversation_id not in busy:
                self._in_flight.pop(conversation_id, None)
        return due

    async def _deliver(self, item_id: int, message: OutboundMessage) -> None:
        sent = False
        try:
            try:
                address = message.address
                delivered = await self._adapters[(address.channel, address.account)].send_text(message)
            except DeliveryError as exc:
                gave_up = await self._record_failure(item_id, exc)
                metrics.DELIVERY_FAILURES.labels(address.channel, str(gave_up).lower()).inc()
            else:
                status = OutboxStatus.DELIVERED if delivered else OutboxStatus.NO_ROUTE
                self._sent[item_id] = (message.conversation_id, status, utcnow())
                sent = True
                if delivered:
                    metrics.MESSAGES_OUT.labels(address.channel, message.sender).inc()
        except Exception:
            log.exception("outbox delivery of item %s crashed", item_id)
        finally:
            if not sent:  # a sent one stays in flight until the loop has stored it
                self._in_flight.pop(message.conversation_id, None)
            self._wake.set()

    async def _record_failure(self, item_id: int, error: DeliveryError) -> bool:
        """Schedule the next try, or give up; True when given up."""
        now = utcnow()
        async with self._sessions.begin() as session:
            item = await session.get_one(OutboxItem, item_id)
            item.attempts += 1
            item.last_error = error.reason
            if not error.retryable or _expired(item.created_at, now, self._policy):
                item.status = OutboxStatus.FAILED
                log.error("outbox gave up on item %s after %d attempts: %s", item_id, item.attempts, error)
                return True
            delay = backoff_delay(item.attempts, self._policy, error.retry_after)
            item.next_attempt_at = now + timedelta(seconds=delay)
            hold_back = {"conversation": item.conversation_id, "after": item_id, "until": item.next_attempt_at}
            await session.execute(_HOLD_BACK, hold_back)
        log.warning("delivery of item %s failed (%s); retry in %.1f s", item_id, error.reason, delay)
        return False


_SENT_COLUMNS = (
    Message.public_id,
    Message.sender,
    Message.text,
    Message.in_reply_to,
    OutboxItem.conversation_id,
    Message.channel,
    Message.account,
    Message.customer_id,
)  # what an adapter needs; the message row carries the address, so no join with its conversation


async def _store_and_scan(
    connection: AsyncConnection, stores: list[dict], releases: list[dict], scan: dict | None
) -> Sequence[tuple]:
    """Mark the sent rows, then read the due ones (`scan`: the query's parameters; None reads none).

    On SQLite both run in one call with the COMMIT (app/store/sqlite_statements.py): a pass runs
    after every burst of deliveries.
    """
    if connection.dialect.name == "sqlite":
        read = (_DUE[False], scan) if scan else None
        return await write_and_commit(connection, [(_STORE_SENT, stores), (_RELEASE, releases)], then_read=read)
    if stores:
        await connection.execute(_STORE_SENT, stores)
        await connection.execute(_RELEASE, releases)
    return (await connection.execute(_DUE[True], scan)).all() if scan else []


# A system message nobody asked for just now (a wait notice, a broadcast, a greeting) lets replies
# that customers are waiting on go first, but only up to this many rows stored after it, so it is
# never held back for long: a tick tells up to 200 waiting customers their place at once, and the
# answers to questions asked meanwhile queued behind all of them.
UNPROMPTED_YIELDS = 1000
_UNPROMPTED = and_(Message.sender == "system", Message.in_reply_to.is_(None))


def _due_query(*, shared: bool) -> Select:
    """Pending rows due by `now` with no earlier pending row in their conversation, at most `limit`:
    oldest first, unprompted system messages after `UNPROMPTED_YIELDS` more recent rows.

    `shared` (PostgreSQL, where several instances may scan at once): the rows are locked, SKIP LOCKED."""
    earlier = aliased(OutboxItem)
    blocked = exists().where(
        and_(
            earlier.conversation_id == OutboxItem.conversation_id,
            earlier.status == OutboxStatus.PENDING,
            earlier.id < OutboxItem.id,
        )
    )
    query = (
        select(OutboxItem.id, *_SENT_COLUMNS)
        .join(Message, Message.id == OutboxItem.message_id)
        .where(OutboxItem.status == OutboxStatus.PENDING, OutboxItem.next_attempt_at <= bindparam("now"), ~blocked)
        .order_by(OutboxItem.id + case((_UNPROMPTED, UNPROMPTED_YIELDS), else_=0))
        .limit(bindparam("limit", type_=Integer))
    )
    return query.with_for_update(skip_locked=True, of=OutboxItem) if shared else query


_OUTBOX = OutboxItem.__table__
# Built once, with placeholders: building and keying this query for SQLAlchemy's compiled-SQL cache
# cost more than running it, and the outbox runs it after every burst of replies.
_DUE = {shared: _due_query(shared=shared) for shared in (False, True)}  # by "is the store PostgreSQL"
_LEASE = (
    update(_OUTBOX).where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True))).values(next_attempt_at=bindparam("until"))
)
_STORE_SENT = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("item"))
    .values(attempts=_OUTBOX.c.attempts + 1, status=bindparam("to"), delivered_at=bindparam("at"))
)

# A reply behind one in backoff cannot go before it, so it waits with it: moved to its next try
# when it fails (_HOLD_BACK), born there when it is stored behind it (held_back_until), and due as
# soon as the one before it is sent (_RELEASE). Otherwise every scan would walk past all of them:
# after a platform's outage, tens of thousands of due but blocked rows, 17 ms of SQLite per scan
# with 20,000 conversations backed up, and a scan runs after every burst of deliveries.
_HOLD_BACK = (
    update(_OUTBOX)
    .where(
        _OUTBOX.c.conversation_id == bindparam("conversation"),
        _OUTBOX.c.status == OutboxStatus.PENDING,
        _OUTBOX.c.id > bindparam("after"),
        _OUTBOX.c.next_attempt_at < bindparam("until", type_=UTCDateTime()),
    )
    .values(next_attempt_at=bindparam("until", type_=UTCDateTime()))
)
_RELEASE = (
    update(_OUTBOX)
    .where(
        _OUTBOX.c.conversation_id == bindparam("conversation"),
        _OUTBOX.c.status == OutboxStatus.PENDING,
        _OUTBOX.c.next_attempt_at > bindparam("at", type_=UTCDateTime()),
    )
    .values(next_attempt_at=bindparam("at", type_=UTCDateTime()))
)


def held_back_until(conversation_id: Any, now: Any) -> ColumnElement[datetime]:
    """A new outbox row's first try: the next try of a reply before it that failed and waits in
    backoff, else `now` (values, or bound parameters of a statement run for many rows)."""
    return func.coalesce(
        select(func.max(_OUTBOX.c.next_attempt_at))
        .where(
            _OUTBOX.c.conversation_id == conversation_id,
            _OUTBOX.c.status == OutboxStatus.PENDING,
            _OUTBOX.c.attempts > 0,
            _OUTBOX.c.next_attempt_at > now,
        )
        .scalar_subquery(),
        now,
    )


def _outbound(public_id, sender, text, in_reply_to, conversation_id, channel, account, customer) -> OutboundMessage:
    return OutboundMessage(public_id, conversation_id, Address(channel, account, customer), sender, text, in_reply_to)


def _expired(created_at: datetime, now: datetime, policy: OutboxSettings) -> bool:
    return (now - created_at).total_seconds() > policy.give_up_after_seconds
