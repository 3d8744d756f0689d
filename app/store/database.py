"""The async engine and session factory; SQLite gets WAL and a single shared connection.

SQLite's writing connection is called on the event loop's thread (app/store/sqlite_loop.py);
the report engine's, for long reads, on aiosqlite's thread with one trip per statement instead
of four (app/store/sqlite_thread.py).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from app.store import sqlite_loop, sqlite_thread


def create_engine(url: str, *, checkpoint_on_commit: bool = True) -> AsyncEngine:
    """`checkpoint_on_commit=False` in kefu serve's processes: the service checkpoints SQLite's log
    on a thread of its own (app/store/wal_checkpoints.py), so no COMMIT on an event loop does."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url, checkpoint_on_commit=checkpoint_on_commit)
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def create_report_engine(url: str, db: AsyncEngine) -> AsyncEngine:
    """Where long reads go (the ops figures, unanswered questions, daily reports).

    On SQLite, a second connection of its own, read-only: a day of a promotion is millions of
    messages, and a read of them through the one connection the intake and the engine write
    through would hold every webhook and reply for seconds (WAL lets it read beside the writer).
    On PostgreSQL the pool has connections enough: `db` itself."""
    return _sqlite_engine(url, read_only=True) if url.startswith("sqlite") else db


def _sqlite_engine(url: str, *, read_only: bool = False, checkpoint_on_commit: bool = True) -> AsyncEngine:
    # One connection: SQLite has one writer anyway, and a read that upgrades to a write in a
    # second connection fails with SQLITE_BUSY at once instead of waiting.
    args, kwargs = sqlite_connect_args(url)
    engine = create_async_engine(
        url,
        async_creator=partial((sqlite_thread if read_only else sqlite_loop).connect, *args, **kwargs),
        poolclass=AsyncAdaptedQueuePool,
        pool_size=1,
        max_overflow=0,
        pool_timeout=60,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        busy = 5000 if read_only else 0  # the writer waits for the lock itself, the event loop running
        pragmas = ("journal_mode=WAL", "synchronous=NORMAL", f"busy_timeout={busy}", "foreign_keys=ON")
        if read_only:
            pragmas += ("query_only=ON",)
        elif not checkpoint_on_commit:
            pragmas += ("wal_autocheckpoint=0",)
        for pragma in pragmas:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    return engine


def sqlite_connect_args(url: str) -> tuple[list, dict]:
    """What sqlite3.connect gets for a SQLite URL, as aiosqlite would get it from SQLAlchemy."""
    address = make_url(url)
    return address.get_dialect()().create_connect_args(address)


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)
