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
it, and while SQLite waits for its file lock (held by the delivery process or a command for a
moment), nothing else runs: BUSY_TIMEOUT_MS bounds that wait, after which the write fails as an
outage (webhooks answer 503, the engine and the outbox retry later). Long reads (ops figures,
reports) keep a connection on a thread of their own (app/store/database.py's report engine).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from app.store.sqlite_thread import OneTripConnection

T = TypeVar("T")

BUSY_TIMEOUT_MS = 1000  # the longest the event loop stands still waiting for SQLite's write lock


class LoopConnection(OneTripConnection):
    """aiosqlite's interface (what SQLAlchemy's dialect drives), each call made at once, in place."""

    async def _execute(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

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
