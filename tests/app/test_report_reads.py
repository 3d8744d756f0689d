"""Long reads (ops figures, unanswered questions, daily reports) never hold the connection kefu writes through."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app.services import Services
from app.settings import Settings
from app.store.migrate import upgrade
from app.store.tables import SyncCursor


async def test_on_sqlite_they_have_a_read_only_connection_of_their_own(database_url: str) -> None:
    await asyncio.to_thread(upgrade, database_url)
    services = Services.build(Settings(database_url=database_url))
    try:
        async with services.sessions.begin() as session:
            session.add(SyncCursor(channel="wecom_kf", account="shop", stream="kf1", cursor="x"))
        async with services.reports() as session:
            seen = await session.scalar(text("SELECT cursor FROM sync_cursors"))
        assert seen == "x"  # committed writes are seen
        if services.settings.database_url.startswith("sqlite"):
            assert services.report_db is not services.db
            with pytest.raises(OperationalError, match="readonly"):
                async with services.reports.begin() as session:
                    await session.execute(text("DELETE FROM sync_cursors"))
        else:  # PostgreSQL's pool has connections enough
            assert services.report_db is services.db
    finally:
        await services.report_db.dispose()
        await services.db.dispose()
