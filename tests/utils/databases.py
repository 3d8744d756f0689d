"""One empty database per test: a SQLite file by default, a fresh PostgreSQL database under `make test-pg`.

`make test-pg` sets KEFU_TEST_DATABASE to a PostgreSQL server's URL (see tests/utils/postgres_server.py);
each test then gets `CREATE DATABASE test_<uuid>` there, dropped when it ends. `query` reads either kind
with plain SQL, so assertions on stored rows read the same against both.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import sqlalchemy
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

ENVIRONMENT_VARIABLE = "KEFU_TEST_DATABASE"
REDIS_VARIABLE = "KEFU_TEST_REDIS"  # with it, every kefu the tests start shares work through this Redis


def sqlite_url(folder: Path) -> str:
    return f"sqlite+aiosqlite:///{folder / 'kefu.db'}"


@contextmanager
def fresh_postgres_database(server_url: str) -> Iterator[str]:
    """Create an empty database on the server; yield kefu's (asyncpg) URL for it; drop it afterwards."""
    name = f"test_{uuid.uuid4().hex}"
    admin = sync_engine(server_url)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server_url).set(drivername="postgresql+asyncpg", database=name).render_as_string(False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def query(database_url: str, sql: str) -> list[tuple]:
    """Run one statement on a fresh connection (it sees what kefu committed); rows as plain tuples."""
    with sync_engine(database_url).connect() as connection:
        return [tuple(row) for row in connection.exec_driver_sql(sql)]


@lru_cache
def sync_engine(url: str) -> sqlalchemy.Engine:
    """A blocking engine on the same database as kefu's async URL (psycopg for PostgreSQL)."""
    sync = _sync_driver(make_url(url))
    return sqlalchemy.create_engine(sync, poolclass=NullPool, isolation_level="AUTOCOMMIT")


def _sync_driver(url: URL) -> URL:
    if url.get_backend_name() == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    return url.set(drivername=url.get_backend_name())
