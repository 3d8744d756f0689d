"""Accept an inbound message: store it once (unique on channel, account and platform id), then queue it.

Messages are written in batches (group commit): the first webhook starts a write at once, and
those arriving while it runs wait for the next, which takes them all in one transaction. Under
load that turns a transaction per message into one per batch (the ack path's main cost); alone, a
message is written as soon as it comes. Each webhook still answers only after its own message is
committed, so nothing is acknowledged that a crash could lose.

Duplicates (a platform's retry, to this instance or another) are told apart by INSERT … ON
CONFLICT DO NOTHING RETURNING: a message whose row is not returned was stored before. If a batch
fails on one message's value or constraint, its messages are written one by one, so the bad one
fails alone; if the database cannot write at all (down, locked), the whole batch fails at once.
Failed webhooks answer 503 and are retried by their platforms.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import asdict

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.base import Address, InboundMessage
from app import metrics
from app.store.tables import Message

log = logging.getLogger(__name__)

Key = tuple[str, str, str]  # channel, account, platform message id
MESSAGES = Message.__table__
UNIQUE = [MESSAGES.c.channel, MESSAGES.c.account, MESSAGES.c.platform_message_id]


class Intake:
    def __init__(
        self, sessions: async_sessionmaker, notify: Callable[[Address], None], *, batch_size: int = 200
    ) -> None:
        self._sessions = sessions
        self._notify = notify
        self._batch_size = batch_size
        self._waiting: list[tuple[dict, asyncio.Future[bool]]] = []
        self._writer: asyncio.Task | None = None

    async def accept(self, message: InboundMessage) -> bool:
        """True when stored now, False when this platform message id was seen before."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((_row(message), future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="intake writer")
        stored = await asyncio.shield(future)  # a webhook that gives up does not undo its neighbours' batch
        address = message.address
        if not stored:
            log.info("duplicate %s message %s", address.channel, message.platform_message_id)
            return False
        metrics.MESSAGES_IN.labels(address.channel).inc()
        self._notify(address)
        return True

    async def _write(self) -> None:
        batch: list[tuple[dict, asyncio.Future[bool]]] = []
        try:
            while self._waiting:
                batch = self._waiting[: self._batch_size]
                del self._waiting[: self._batch_size]
                outcomes = await self._outcomes([row for row, _ in batch])
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if isinstance(outcome, Exception):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:  # cancelled (shutdown): nobody waits forever for a write that will not happen
            for _, future in batch + self._waiting:
                if not future.done():
                    future.set_exception(ConnectionError("kefu is stopping"))
            self._waiting.clear()

    async def _outcomes(self, rows: list[dict]) -> list[bool | Exception]:
        try:
            return list(await self._store(rows))
        except Exception as exc:
            if len(rows) == 1 or not _about_one_row(exc):
                return [exc] * len(rows)  # the database is down or locked: every webhook answers 503 now
            return [await self._store_alone(row) for row in rows]  # find the bad one, store the others

    async def _store_alone(self, row: dict) -> bool | Exception:
        try:
            return (await self._store([row]))[0]
        except Exception as exc:
            return exc

    async def _store(self, rows: list[dict]) -> list[bool]:
        """One transaction: each row's outcome, True if stored now. A key twice in the batch is stored once."""
        first: dict[Key, int] = {}
        for n, row in enumerate(rows):
            first.setdefault(_key(row), n)
        unique_rows = [rows[n] for n in first.values()]
        async with self._sessions.begin() as session:
            result = await session.execute(_insert_new(session).returning(*UNIQUE), unique_rows)
            inserted = {tuple(r) for r in result}
        return [first[_key(row)] == n and _key(row) in inserted for n, row in enumerate(rows)]


def _about_one_row(exc: Exception) -> bool:
    """A constraint or a value one message broke, as opposed to a database that cannot write at all."""
    if isinstance(exc, IntegrityError | DataError):
        return True
    return isinstance(exc, StatementError) and not isinstance(exc, DBAPIError)  # a value that cannot be bound


def _insert_new(session: AsyncSession):
    """INSERT … ON CONFLICT DO NOTHING, which SQLite and PostgreSQL spell the same way."""
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    return insert(MESSAGES).on_conflict_do_nothing(index_elements=UNIQUE)


def _key(row: dict) -> Key:
    return row["channel"], row["account"], row["platform_message_id"]


def _row(message: InboundMessage) -> dict:
    address = message.address
    return {
        "channel": address.channel,
        "account": address.account,
        "customer_id": address.customer_id,
        "direction": "in",
        "sender": "customer",
        "platform_message_id": message.platform_message_id,
        "text": message.text,
        "sent_at": message.sent_at,
        "customer": asdict(message.customer) if message.customer else None,
    }
