"""SQLite's writing connection called on the event loop's own thread, not through aiosqlite's.

kefu's statements on this connection are short: index lookups, a batch's inserts, a COMMIT
(WAL, synchronous=NORMAL: no fsync but at checkpoints), mostly well under a millisecond of
SQLite's own time. Through aiosqlite's thread each one waited far longer than it ran: the hand-off
to the thread, Python's interpreter lock to win back from the busy event loop after every row,
and a turn of that loop to see the result. At 1,000 msg/s a batch's write spent about 3 ms in
those trips, and each webhook waited for the intake's and each reply for the engine's; called in
place, the medians of five alternating rounds went from e2e p50 / p99 73 / 165 to 30 / 107 ms
(benchmarks/results/load_revisions_sqlite_loop.md), and the process's CPU per message from 1,053
to 853 µs (cpu_budget.md). The cost: SQLite's work no longer runs beside the event loop but on
it. Long reads (ops figures, reports) keep a connection on a thread of their own
(app/store/database.py's report engine).

SQLite's write lock is waited for without stopping the loop. Other processes write too (the
engine and delivery processes, a command) and hold the lock for a moment; SQLite's own busy
handler would sleep on the loop's thread meanwhile, in steps of 1, 2, 5, 10 ms and more, and every
webhook of the process would wait with it. So the connection's busy timeout is 0: a call that
begins a transaction and finds the lock taken fails at once with SQLITE_BUSY before it has done
anything, its transaction (if it opened one) is rolled back, and the call is made again after
BUSY_POLL_SECONDS, the loop running meanwhile, for up to BUSY_TIMEOUT_SECONDS; past that the
write fails as an outage (webhooks answer 503, the engine and the outbox retry later). A call
made inside a transaction already holds the lock (sqlite3 begins one only before a write), so it
is made once.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from app.store.sqlite_thread import OneTripConnection

T = TypeVar("T")

BUSY_TIMEOUT_SECONDS = 2.0  # the longest a write waits for the lock: webhooks answer well within platforms' 5 s
BUSY_POLL_SECONDS = 0.001  # another process holds it for about a millisecond or a few


class LoopConnection(OneTripConnection):
    """aiosqlite's interface (what SQLAlchemy's dialect drives), each call made at once, in place;
    the write lock waited for with the loop running (see above)."""

    async def _execute(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        connection = self._connection
        if not self._running or connection is None:
            raise ValueError("Connection closed")
        if connection.in_transaction:  # it holds the write lock: nothing to wait for
            return fn(*args, **kwargs)
        deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
        while True:
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                    raise
                if connection.in_transaction:  # sqlite3 began one before the write that found the lock taken
                    connection.rollback()
            await asyncio.sleep(BUSY_POLL_SECONDS)

    async def _connect(self) -> LoopConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self):  # aiosqlite's starts its thread here
        return self._connect().__await__()

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        self.stop()


def connect(*args: Any, **kwargs: Any) -> LoopConnection:
    """`sqlite3.connect(*args, **kwargs)` once SQLAlchemy awaits this (create_async_engine's `async_creator`)."""
    return LoopConnection(partial(sqlite3.connect, *args, **kwargs), iter_chunk_size=64)
