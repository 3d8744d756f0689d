"""SQLite's writing connection is called on the event loop's thread; long reads keep a thread of their own."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from app.store.database import create_report_engine
from app.store.sqlite_loop import BUSY_TIMEOUT_MS

pytestmark = pytest.mark.sqlite_only


async def thread_and_busy_timeout(engine) -> tuple[int, int]:
    """The thread SQLite ran a statement on, and the connection's wait for a lock (ms)."""
    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        await driver.create_function("thread_id", 0, threading.get_ident)
        ran_on = (await connection.execute(text("SELECT thread_id()"))).scalar_one()
        busy = (await connection.execute(text("PRAGMA busy_timeout"))).scalar_one()
    return ran_on, busy


async def test_writes_run_on_the_event_loops_thread_and_wait_for_a_lock_only_briefly(store):
    ran_on, busy = await thread_and_busy_timeout(store)

    assert ran_on == threading.get_ident()
    assert busy == BUSY_TIMEOUT_MS  # past it, another process's lock is an outage: 503, retried later


async def test_long_reads_run_beside_the_event_loop_and_may_wait_longer(store, database_url):
    reports = create_report_engine(database_url, store)
    try:
        ran_on, busy = await thread_and_busy_timeout(reports)
    finally:
        await reports.dispose()

    assert ran_on != threading.get_ident()
    assert busy == 5000
