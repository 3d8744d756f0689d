"""Rows written in one trip to SQLite's thread are the rows SQLAlchemy would have written, all or none."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, insert, make_url, select
from sqlalchemy.exc import IntegrityError

from app.store.sqlite_statements import write_and_commit
from app.store.tables import Conversation, OutboxItem, StateTransition

pytestmark = pytest.mark.sqlite_only

CONVERSATIONS = insert(Conversation.__table__)
TRANSITIONS = insert(StateTransition.__table__)
AT = datetime(2026, 11, 11, 0, 0, 0, 123456, tzinfo=UTC)


def conversation(id: str, **columns) -> dict:
    return {"id": id, "channel": "web", "account": "default", "customer_id": id, **columns}


def raw_rows(database_url: str, sql: str) -> list[tuple]:
    """As SQLite holds them: the text of times and JSON, with each value's storage class."""
    with sqlite3.connect(make_url(database_url).database) as connection:
        return connection.execute(sql).fetchall()


async def test_rows_are_stored_exactly_as_sqlalchemy_stores_them(store, database_url):
    row = {"customer": {"name": "小王"}, "queue": "presale", "handoff_reasons": ["angry: 气死"]}
    row |= {"queued_at": AT, "created_at": AT, "updated_at": AT}
    async with store.begin() as connection:
        await connection.execute(CONVERSATIONS, [conversation("by-sqlalchemy", **row)])
    async with store.begin() as connection:
        await write_and_commit(connection, [(CONVERSATIONS, [conversation("one-trip", **row)])])

    columns = ", ".join(
        f"{c.name}, typeof({c.name})" for c in Conversation.__table__.columns if c.name not in ("id", "customer_id")
    )
    by_sqlalchemy, one_trip = raw_rows(database_url, f"SELECT {columns} FROM conversations ORDER BY customer_id")
    assert one_trip == by_sqlalchemy
    assert "2026-11-11 00:00:00.123456" in one_trip  # SQLAlchemy's text for a time, not sqlite3's own


async def test_columns_left_out_get_their_defaults(store, database_url):
    async with store.begin() as connection:
        await write_and_commit(connection, [(CONVERSATIONS, [conversation("c1"), conversation("c2")])])

    rows = raw_rows(database_url, "SELECT state, ticket, customer, created_at, updated_at FROM conversations")
    assert [row[:3] for row in rows] == [("bot", 0, "{}"), ("bot", 0, "{}")]
    assert all(row[3] and row[4] for row in rows)  # stamped when written


async def test_a_failing_statement_rolls_back_everything_before_it_and_raises_as_sqlalchemy_does(store, database_url):
    with sqlite3.connect(make_url(database_url).database) as connection:
        connection.execute("CREATE TRIGGER refuse BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'refused'); END")
    delivery = {"message_id": 1, "conversation_id": "c1", "channel": "web"}
    transition = {"conversation_id": "c1", "from_state": None, "to_state": "bot", "reason": "customer wrote first"}

    async with store.connect() as connection:
        with pytest.raises(IntegrityError, match="refused"):
            await write_and_commit(
                connection,
                [(CONVERSATIONS, [conversation("c1")]), (TRANSITIONS, [transition]), (insert(OutboxItem), [delivery])],
            )

    assert raw_rows(database_url, "SELECT count(*) FROM conversations") == [(0,)]
    assert raw_rows(database_url, "SELECT count(*) FROM state_transitions") == [(0,)]


async def test_a_query_after_the_writes_reads_them_converted_as_sqlalchemy_reads_them(store):
    transition = {"conversation_id": "c1", "from_state": None, "to_state": "bot", "reason": "customer wrote first"}
    query = select(StateTransition.conversation_id, StateTransition.at).where(
        StateTransition.to_state == "bot", StateTransition.conversation_id == bindparam("conversation")
    )
    async with store.begin() as connection:
        await write_and_commit(connection, [(CONVERSATIONS, [conversation("c1")])])
    async with store.begin() as connection:
        rows = await write_and_commit(
            connection, [(TRANSITIONS, [transition | {"at": AT}])], then_read=(query, {"conversation": "c1"})
        )

    assert rows == [("c1", AT)]  # a UTC datetime again, not SQLite's text
