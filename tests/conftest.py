"""Every test starts from a clean environment: no KEFU_* variables and no .env of the developer's.

A test that needs a database takes `database_url`: a SQLite file of its own, or under `make test-pg`
a fresh PostgreSQL database. Tests about SQLite itself are marked `sqlite_only` and skipped there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.utils.databases import ENVIRONMENT_VARIABLE, REDIS_VARIABLE, fresh_postgres_database, sqlite_url

# Read once, before `clean_environment` removes every KEFU_* variable from the tests' sight.
POSTGRES_SERVER = os.environ.get(ENVIRONMENT_VARIABLE)
REDIS_SERVER = os.environ.get(REDIS_VARIABLE)


def pytest_report_header() -> str:
    database = f"PostgreSQL at {POSTGRES_SERVER}" if POSTGRES_SERVER else "SQLite"
    return f"database: {database}; " + (f"Redis at {REDIS_SERVER}" if REDIS_SERVER else "no Redis (embedded)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not POSTGRES_SERVER:
        return
    skip = pytest.mark.skip(reason="SQLite-only: about SQLite itself, not the store (make test-pg)")
    for item in items:
        if item.get_closest_marker("sqlite_only"):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in list(os.environ):
        if name.startswith("KEFU_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def redis_url() -> str | None:
    """The shared Redis under `make test-pg`, emptied for this test (leases, counters); None embedded."""
    if REDIS_SERVER:
        redis.Redis.from_url(REDIS_SERVER).flushall()
    return REDIS_SERVER


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """kefu's URL of an empty database for this test alone, dropped afterwards on PostgreSQL."""
    if not POSTGRES_SERVER:
        yield sqlite_url(tmp_path)
        return
    with fresh_postgres_database(POSTGRES_SERVER) as url:
        yield url
