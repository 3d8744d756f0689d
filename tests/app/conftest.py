"""A real store for the engine's parts: kefu's tables on SQLite, or PostgreSQL under make test-pg."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.database import create_engine, session_factory
from app.store.tables import Base, ConversationState, utcnow
from tests.utils.store_rows import conversation

WaitingLine = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
def commits(store: AsyncEngine) -> list[int]:
    """One item per committed transaction, counted by SQLAlchemy's own event."""
    seen: list[int] = []
    event.listen(store.sync_engine, "commit", lambda connection: seen.append(1))
    return seen


@pytest.fixture
async def statements(store: AsyncEngine) -> list[str]:
    """Every SQL statement the store runs from now on. On SQLite as sqlite3 traces them: the
    engine's batches run theirs on the driver's connection directly (app/store/sqlite_statements.py)."""
    seen: list[str] = []
    if store.dialect.name != "sqlite":
        event.listen(store.sync_engine, "before_cursor_execute", lambda _c, _cu, statement, *_: seen.append(statement))
        return seen
    async with store.connect() as connection:  # the store's one connection
        driver = (await connection.get_raw_connection()).driver_connection
    driver._conn.set_trace_callback(seen.append)
    return seen


@pytest.fixture
def waiting_line(store: AsyncEngine) -> WaitingLine:
    """Stores waiting chats, each (customer id, its fields; `minutes` waited so far; presale L1
    priority 10 unless told); returns conversation id -> customer id."""

    async def add(*chats: tuple[str, dict]) -> dict[str, str]:
        now, names = utcnow(), {}
        async with session_factory(store).begin() as session:
            for customer_id, fields in chats:
                fields = {"queue": "presale", "level": "L1", "priority": 10, **fields}
                queued_at = now - timedelta(minutes=fields.pop("minutes", 0))
                row = conversation(session, customer_id, state=ConversationState.QUEUED, queued_at=queued_at, **fields)
                names[row.id] = customer_id
        return names

    return add
