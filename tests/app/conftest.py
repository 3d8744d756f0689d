"""A real store for the engine's parts: kefu's tables on SQLite, or PostgreSQL under make test-pg."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.database import create_engine
from app.store.tables import Base


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
