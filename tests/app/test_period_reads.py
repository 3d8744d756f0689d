"""The ops views read a period's messages and conversations through their time indexes, never the whole table.

A store keeps months of history: a query that scans every message to count the last 24 hours
slows down, every minute the dashboard asks, as the store grows. SQLite has no statistics to go
on (no ANALYZE), so its plan is fixed by the query's shape; these tests pin it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event

from app.gaps import find_gaps
from app.ops_stats import read_stats
from app.quality_report import daily_report
from app.store.database import session_factory

NOW = datetime(2026, 11, 12, 8, tzinfo=UTC)


def no_reader(text: str) -> list[str]:
    return [text]


async def plans_of(store, read) -> list[str]:
    """The query plan of every SELECT `read` runs: one line per step."""
    steps: list[str] = []

    def explain(connection, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().startswith("SELECT"):
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            steps.extend(row[-1] for row in cursor.fetchall())

    event.listen(store.sync_engine, "before_cursor_execute", explain)
    try:
        async with session_factory(store)() as session:
            await read(session)
    finally:
        event.remove(store.sync_engine, "before_cursor_execute", explain)
    return steps


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    "read",
    [
        pytest.param(lambda s: read_stats(s, "24h", now=NOW), id="dashboard, 24 hours"),
        pytest.param(lambda s: read_stats(s, "7d", now=NOW), id="dashboard, 7 days"),
        pytest.param(lambda s: find_gaps(s, NOW - timedelta(days=7), NOW, no_reader), id="unanswered questions"),
        pytest.param(lambda s: daily_report(s, date(2026, 11, 11), now=NOW), id="daily report"),
    ],
)
async def test_no_view_scans_the_messages_or_conversations(store, read):
    steps = await plans_of(store, read)

    assert any("ix_messages_created_at" in step for step in steps)
    scans = [s for s in steps if s.startswith(("SCAN messages", "SCAN conversations"))]
    assert scans == []
