"""The intake's batch write on SQLite: the inserts and their COMMIT in one call.

Through a Core statement, a batch costs two rounds of SQLAlchemy's async machinery (the
statement, then COMMIT), and SQLAlchemy builds a multi-row statement and binds all nineteen
columns of each row.
Here SQLAlchemy still writes the statement and converts the values, with the columns' own types,
so the rows are the ones it would store; its transaction is still begun and committed (its events
fire, its pool lends the connection), but the rows go in and are committed in one call, and
SQLAlchemy's COMMIT then finds nothing left to do (app/store/sqlite_statements.py).
benchmarks/results/intake_write.md: about a quarter to a third less CPU a message, all threads
counted (80 → 60 µs at 25 messages a batch, the load benchmark's average while only storing).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.sqlite_statements import SQLiteStatement, commit_in_one_trip
from app.store.tables import Message, new_id, utcnow

MESSAGES = Message.__table__
# What an inbound message sets; the other columns keep their defaults (NULL).
COLUMNS = (
    "public_id",
    "channel",
    "account",
    "customer_id",
    "direction",
    "sender",
    "platform_message_id",
    "text",
    "customer",
    "sent_at",
    "created_at",
)
# An inbound message's platform id, unique per channel and account. Its index covers only the rows
# that have one (replies have none), so ON CONFLICT names that condition too.
PLATFORM_ID = [MESSAGES.c.channel, MESSAGES.c.account, MESSAGES.c.platform_message_id]
HAS_PLATFORM_ID = MESSAGES.c.platform_message_id.is_not(None)


class SQLiteRows:
    """Stores intake rows (dicts with COLUMNS but the two made here) once each: True if stored now."""

    def __init__(self, db: AsyncEngine, make_id: Callable[[], str] = new_id) -> None:
        self._db = db
        self._make_id = make_id  # the column's default; benchmarks/intake_ids.py compares another
        statement = (
            insert(MESSAGES)
            .on_conflict_do_nothing(index_elements=PLATFORM_ID, index_where=HAS_PLATFORM_ID)
            .returning(MESSAGES.c.id)
        )
        self._statement = SQLiteStatement(statement, db.dialect, COLUMNS)

    async def __call__(self, rows: list[dict]) -> list[bool | Exception]:
        outcomes: list[bool | Exception] = []
        values: list[tuple] = []
        for row in rows:  # a value one row cannot convert fails that row alone
            try:
                values.append(self._statement.parameters({**row, "public_id": self._make_id(), "created_at": utcnow()}))
                outcomes.append(True)
            except (TypeError, ValueError) as exc:  # as SQLAlchemy raises a value it cannot bind
                outcomes.append(StatementError(str(exc), self._statement.sql, None, exc))
        async with self._db.begin() as connection:
            # a failure is raised as SQLAlchemy would raise it: the webhook's 503, the batch's retry
            sql = self._statement.sql
            inserted = await commit_in_one_trip(connection, _insert_each, sql, values, statements=[sql])
        stored = iter(inserted)
        return [next(stored) if outcome is True else outcome for outcome in outcomes]


def _insert_each(connection: sqlite3.Connection, sql: str, values: Sequence[tuple]) -> list[bool]:
    """Each row inserted unless its key is stored (a retry, or twice in this batch)."""
    cursor = connection.cursor()
    return [cursor.execute(sql, row).fetchone() is not None for row in values]
