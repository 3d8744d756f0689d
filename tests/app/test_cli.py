"""The `kefu` command as a newcomer runs it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy

from tests.utils.databases import sync_engine

ROOT = Path(__file__).resolve().parents[2]


def kefu(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=cwd,
        env={**environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
    )


def test_init_writes_a_random_secret_once_and_says_so(tmp_path):
    first = kefu("init", cwd=tmp_path)
    secret_line = (tmp_path / ".env").read_text().splitlines()[1]

    second = kefu("init", cwd=tmp_path)

    assert "Wrote .env" in first.stdout and "KEFU_WEB__SECRET" in first.stdout
    assert secret_line.startswith("KEFU_WEB__SECRET=") and len(secret_line.split("=", 1)[1]) == 64
    assert "leaving it" in second.stdout
    assert (tmp_path / ".env").read_text().splitlines()[1] == secret_line


def test_migrate_creates_the_tables(tmp_path, database_url):
    result = kefu("migrate", cwd=tmp_path, KEFU_DATABASE_URL=database_url)

    assert result.returncode == 0, result.stderr
    tables = set(sqlalchemy.inspect(sync_engine(database_url)).get_table_names())
    assert {"conversations", "messages", "state_transitions", "outbox", "alembic_version"} <= tables


@pytest.mark.sqlite_only
def test_migrate_puts_the_default_sqlite_file_in_wal_mode(tmp_path):
    result = kefu("migrate", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "kefu.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_serve_in_production_without_a_secret_fails_naming_the_setting(tmp_path):
    result = kefu("serve", cwd=tmp_path, KEFU_ENV="production")

    assert result.returncode != 0
    assert "KEFU_WEB__SECRET" in result.stderr
