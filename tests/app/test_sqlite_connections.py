"""SQLite's writing connection is called on the event loop's thread and waits for the write lock
with the loop running; long reads keep a thread of their own."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest
from sqlalchemy import make_url, text

from app.store.database import create_report_engine

pytestmark = pytest.mark.sqlite_only


async def thread_and_busy_timeout(engine) -> tuple[int, int]:
    """The thread SQLite ran a statement on, and the connection's wait for a lock (ms)."""
    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        await driver.create_function("thread_id", 0, threading.get_ident)
        ran_on = (await connection.execute(text("SELECT thread_id()"))).scalar_one()
        busy = (await connection.execute(text("PRAGMA busy_timeout"))).scalar_one()
    return ran_on, busy


async def test_writes_run_on_the_event_loops_thread_and_leave_no_lock_wait_to_sqlite(store):
    ran_on, busy = await thread_and_busy_timeout(store)

    assert ran_on == threading.get_ident()
    assert busy == 0  # SQLite's own wait would stop the loop: the connection waits itself


async def test_a_write_waits_for_another_processs_lock_while_the_loop_runs(store, database_url):
    async with store.begin() as connection:
        await connection.execute(text("CREATE TABLE notes (text TEXT)"))
    other = sqlite3.connect(make_url(database_url).database, isolation_level=None)  # as another process would
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO notes VALUES ('first')")

    async def write() -> None:
        async with store.begin() as connection:
            await connection.execute(text("INSERT INTO notes VALUES ('second')"))

    writing = asyncio.create_task(write())
    turns = 0
    for _ in range(20):  # 100 ms of the lock held elsewhere, the loop free to run anything else
        await asyncio.sleep(0.005)
        turns += 1
    assert turns == 20 and not writing.done()
    other.execute("COMMIT")
    other.close()

    await asyncio.wait_for(writing, timeout=5)
    async with store.connect() as connection:
        assert (await connection.execute(text("SELECT text FROM notes ORDER BY rowid"))).scalars().all() == [
            "first",
            "second",
        ]


async def test_long_reads_run_beside_the_event_loop_and_may_wait_longer(store, database_url):
    reports = create_report_engine(database_url, store)
    try:
        ran_on, busy = await thread_and_busy_timeout(reports)
    finally:
        await reports.dispose()

    assert ran_on != threading.get_ident()
    assert busy == 5000
