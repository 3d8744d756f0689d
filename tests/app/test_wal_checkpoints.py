"""kefu serve's SQLite connections leave checkpoints to a thread of the service's: no COMMIT on an
event loop copies the write-ahead log back into the database file."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import make_url, text

from app.main import create_app
from app.settings import Settings
from app.store.database import create_engine
from app.store.migrate import upgrade
from app.store.wal_checkpoints import WalCheckpoints

pytestmark = pytest.mark.sqlite_only

PAGE = 4096
ROWS = 1500  # each a page of its own: past the 1,000 pages at which SQLite would checkpoint on COMMIT


async def write_pages(database_url: str, *, checkpoint_on_commit: bool) -> None:
    engine = create_engine(database_url, checkpoint_on_commit=checkpoint_on_commit)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE notes (body BLOB)"))
        for start in range(0, ROWS, 100):  # many commits, as kefu makes them
            async with engine.begin() as connection:
                rows = [{"body": bytes(PAGE)} for _ in range(start, start + 100)]
                await connection.execute(text("INSERT INTO notes VALUES (:body)"), rows)
    finally:
        await engine.dispose()


def files(database_url: str) -> tuple[Path, Path]:
    db = Path(make_url(database_url).database)
    return db, db.with_name(db.name + "-wal")


def hold_open(database_url: str) -> sqlite3.Connection:
    """Another process's connection: while one is open, closing kefu's does not checkpoint the log."""
    connection = sqlite3.connect(files(database_url)[0])
    connection.execute("PRAGMA journal_mode=WAL")  # and its read opens the log's index, as kefu's would
    connection.execute("SELECT count(*) FROM sqlite_master").fetchall()
    return connection


@pytest.mark.parametrize("checkpoint_on_commit", [True, False])
async def test_a_commit_checkpoints_only_where_asked(database_url, checkpoint_on_commit):
    other = hold_open(database_url)
    await write_pages(database_url, checkpoint_on_commit=checkpoint_on_commit)

    db, wal = files(database_url)
    if checkpoint_on_commit:  # SQLite's default: copied back once the log passed 1,000 pages, then reused
        assert db.stat().st_size > 1000 * PAGE
        assert wal.stat().st_size < 1100 * PAGE
    else:  # everything still in the log, the database file as the schema left it
        assert db.stat().st_size < 10 * PAGE
        assert wal.stat().st_size > ROWS * PAGE
    other.close()


async def test_the_thread_copies_the_log_back_into_the_database_file(database_url):
    other = hold_open(database_url)
    await write_pages(database_url, checkpoint_on_commit=False)
    db, _ = files(database_url)
    checkpoints = WalCheckpoints.for_url(database_url)
    assert checkpoints is not None

    checkpoints.start()
    try:
        deadline = time.monotonic() + 10
        while db.stat().st_size < ROWS * PAGE and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        checkpoints.stop()

    assert db.stat().st_size > ROWS * PAGE
    assert checkpoints.checkpoint() == 0  # nothing left in the log
    count = sqlite3.connect(db).execute("SELECT count(*) FROM notes").fetchone()[0]
    assert count == ROWS
    other.close()


def test_a_failing_checkpoint_is_logged_once_and_tried_again_until_it_works(tmp_path, caplog):
    attempts = []

    def connect() -> sqlite3.Connection:
        attempts.append(1)
        folder = tmp_path if len(attempts) > 5 else tmp_path / "missing"  # the first five cannot open the file
        return sqlite3.connect(folder / "kefu.db", isolation_level=None)

    checkpoints = WalCheckpoints(connect, every=0.005)
    with caplog.at_level(logging.WARNING, logger="app.store.wal_checkpoints"):
        checkpoints.start()
        deadline = time.monotonic() + 10
        while len(caplog.records) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        checkpoints.stop()

    said = [(record.levelname, record.getMessage()) for record in caplog.records]
    assert said == [
        ("ERROR", "SQLite checkpoint failed; retrying quietly until it works again"),
        ("WARNING", "SQLite checkpoint works again after 5 failed passes"),
    ]


@pytest.mark.parametrize(
    "url", ["postgresql+asyncpg://kefu@db/kefu", "sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:"]
)
def test_no_thread_where_there_is_no_log_to_look_after(url):
    assert WalCheckpoints.for_url(url) is None


def test_the_service_runs_the_thread_while_it_serves(database_url):
    upgrade(database_url)
    app = create_app(Settings(env="test", database_url=database_url))
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        thread = app.state.services.checkpoints._thread
        assert thread.is_alive()
    assert not thread.is_alive()
