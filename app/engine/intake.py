"""Accept an inbound message: store it once (unique on channel, account and platform id), then queue it.

Messages are written in batches (app/engine/group_commit.py): under load a transaction per
message, the ack path's main cost, becomes one per batch. Each webhook still answers only after
its own message is committed, so nothing is acknowledged that a crash could lose. On SQLite the
batch is written and committed in one call (app/engine/intake_sqlite.py).

Duplicates (a platform's retry, to this instance or another) are told apart by INSERT … ON
CONFLICT DO NOTHING RETURNING: a message whose row is not returned was stored before. If a batch
fails on one message's value or constraint, its messages are written one by one, so the bad one
fails alone; if the database cannot write at all (down, locked), the whole batch fails at once.
Failed webhooks answer 503 and are retried by their platforms.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.base import Address, InboundMessage
from app import metrics
from app.engine.group_commit import GroupCommit
from app.engine.intake_sqlite import HAS_PLATFORM_ID, PLATFORM_ID, SQLiteRows
from app.store.tables import Message

log = logging.getLogger(__name__)

Key = tuple[str, str, str]  # channel, account, platform message id
MESSAGES = Message.__table__


class Intake:
    def __init__(self, db: AsyncEngine, notify: Callable[[Address], None], *, batch_size: int = 200) -> None:
        self._db = db
        self._notify = notify
        store = SQLiteRows(db) if db.dialect.name == "sqlite" else self._store
        self._writes: GroupCommit[dict, bool] = GroupCommit(
            store, fails_all=lambda exc: not _about_one_row(exc), batch_size=batch_size, name="intake writer"
        )

    async def accept(self, message: InboundMessage) -> bool:
        """True when stored now, False when this platform message id was seen before."""
        stored = await self._writes.submit(_row(message))
        address = message.address
        if not stored:
            log.info("duplicate %s message %s", address.channel, message.platform_message_id)
            return False
        metrics.child(metrics.MESSAGES_IN, address.channel).inc()
        self._notify(address)
        return True

    async def _store(self, rows: list[dict]) -> list[bool]:
        """One transaction, one Core statement (kefu's write on PostgreSQL): each row's outcome, True if
        stored now. A key twice in the batch is stored once."""
        first: dict[Key, int] = {}
        for n, row in enumerate(rows):
            first.setdefault(_key(row), n)
        unique_rows = [rows[n] for n in first.values()]
        # One Core statement: an ORM session around it would only add its own set-up and teardown.
        async with self._db.begin() as connection:
            result = await connection.execute(_INSERT_NEW[self._db.dialect.name], unique_rows)
            inserted = {tuple(r) for r in result}
        return [first[_key(row)] == n and _key(row) in inserted for n, row in enumerate(rows)]


def _about_one_row(exc: Exception) -> bool:
    """A constraint or a value one message broke, as opposed to a database that cannot write at all."""
    if isinstance(exc, IntegrityError | DataError):
        return True
    return isinstance(exc, StatementError) and not isinstance(exc, DBAPIError)  # a value that cannot be bound


# INSERT … ON CONFLICT DO NOTHING RETURNING, which SQLite and PostgreSQL spell the same way; built
# once per dialect: building and keying it cost about as much as running it for a small batch.
_INSERT_NEW = {
    name: insert(MESSAGES)
    .on_conflict_do_nothing(index_elements=PLATFORM_ID, index_where=HAS_PLATFORM_ID)
    .returning(*PLATFORM_ID)
    for name, insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))
}


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
