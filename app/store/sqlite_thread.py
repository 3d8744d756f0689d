"""aiosqlite with one trip to its thread per statement, for SQLAlchemy's `sqlite+aiosqlite` dialect.

The report engine's connection, for long reads, runs here; the writing connection makes the
same calls on the event loop's thread (app/store/sqlite_loop.py's LoopConnection, a subclass).

aiosqlite runs the sqlite3 connection in a thread and SQLAlchemy's adapter asks it four times
per statement (make a cursor, execute, fetch the rows, close); every trip is a queue hand-off
and a wake-up of the event loop, several times what SQLite itself spends on kefu's statements.
Here the cursor executes and fetches in one trip and closes with none, and a commit or rollback
with no transaction open (after reads only; the pool's rollback of every connection it gets
back) makes none: same thread, same connection, same transactions; only fewer trips.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any, TypeVar

import aiosqlite
from aiosqlite.context import contextmanager

T = TypeVar("T")


class OneTripCursor(aiosqlite.Cursor):
    """Runs `execute` and the fetch of all its rows together on the connection's thread."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        super().__init__(conn, None)  # the sqlite3 cursor is made on the thread, by the first execute
        self._rows: list[Any] = []

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> OneTripCursor:
        self._cursor, self._rows = await self._execute(_execute, self._conn, self._cursor, sql, parameters or ())
        return self

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> OneTripCursor:
        self._cursor, self._rows = await self._execute(_executemany, self._conn, self._cursor, sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        size = size or self.arraysize
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    async def fetchall(self) -> Sequence[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def close(self) -> None:
        self._rows = []  # the sqlite3 cursor holds no lock once fetched; it is freed with this object

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize if self._cursor is not None else 1

    @property
    def description(self) -> Any:
        return self._cursor.description if self._cursor is not None else None


class OneTripConnection(aiosqlite.Connection):
    @contextmanager
    async def cursor(self) -> OneTripCursor:
        return OneTripCursor(self)

    async def commit(self) -> None:
        if self._conn.in_transaction:  # reads alone open none (sqlite3 begins before a write)
            await super().commit()

    async def rollback(self) -> None:
        if self._conn.in_transaction:  # the pool rolls back every connection it gets back
            await super().rollback()

    async def commit_in_one_trip(self, write: Callable[..., T], *args: Any) -> T:
        """`write(sqlite3_connection, *args)` then COMMIT (ROLLBACK if it raises), in one trip to the
        thread; the caller's COMMIT, made after, then finds no transaction open and makes no trip."""
        return await self._execute(_committed, self._conn, write, args)

    async def read_in_one_trip(self, read: Callable[..., T], *args: Any) -> T:
        """`read(sqlite3_connection, *args)` in one trip, in the transaction open (if any)."""
        return await self._execute(read, self._conn, *args)


def connect(*args: Any, **kwargs: Any) -> OneTripConnection:
    """`sqlite3.connect(*args, **kwargs)` on the connection's thread once SQLAlchemy awaits this
    (create_async_engine's `async_creator`), as aiosqlite.connect does."""
    connection = OneTripConnection(partial(sqlite3.connect, *args, **kwargs), iter_chunk_size=64)
    connection._thread.daemon = True  # as SQLAlchemy sets for aiosqlite's own connections
    return connection


def _committed(conn: sqlite3.Connection, write: Callable[..., T], args: tuple) -> T:
    with conn:  # sqlite3: commit on success, roll back on an exception
        return write(conn, *args)


def _execute(conn: aiosqlite.Connection, cursor: sqlite3.Cursor | None, sql: str, parameters: Any) -> tuple:
    cursor = cursor or conn._conn.cursor()
    cursor.execute(sql, parameters)
    return cursor, cursor.fetchall() if cursor.description else []


def _executemany(conn: aiosqlite.Connection, cursor: sqlite3.Cursor | None, sql: str, parameters: Any) -> tuple:
    cursor = cursor or conn._conn.cursor()
    cursor.executemany(sql, parameters)
    return cursor, cursor.fetchall() if cursor.description else []
