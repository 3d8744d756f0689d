"""Intake against a real store (SQLite, or PostgreSQL under make test-pg): once per platform id, in batches."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import event, func, make_url, select
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError

from adapters.base import Address, CustomerProfile, InboundMessage
from app.engine.intake import Intake
from app.store.database import session_factory
from app.store.tables import Message


def message(msgid: str, customer: str | None = "c1") -> InboundMessage:
    return InboundMessage(Address("web", "default", customer), msgid, f"text {msgid}")


async def stored(sessions) -> list[str]:
    async with sessions() as session:
        return list(await session.scalars(select(Message.platform_message_id).order_by(Message.id)))


async def test_concurrent_messages_are_stored_once_each_in_few_transactions(store, commits):
    sessions, notified = session_factory(store), []
    intake = Intake(store, notified.append)
    ids = [f"m{n}" for n in range(60)]
    retries = ["m3", "m3", "m40"]  # a platform retrying while the first delivery is being stored

    outcomes = await asyncio.gather(*(intake.accept(message(i)) for i in ids + retries))

    assert outcomes == [True] * 60 + [False] * 3
    assert await stored(sessions) == ids
    assert len(notified) == 60
    assert len(commits) < 10  # batched: not one transaction per message


async def test_a_message_seen_before_is_a_duplicate(store):
    intake = Intake(store, lambda address: None)

    assert await intake.accept(message("m1")) is True
    assert await intake.accept(message("m1")) is False


async def test_a_message_is_stored_with_all_it_carries(store):
    sessions = session_factory(store)
    sent_at = datetime(2026, 11, 11, 0, 0, 1, 250, tzinfo=timezone(timedelta(hours=8)))  # 双十一, Beijing time
    profile = CustomerProfile(name="小王", vip=True, tags=("复购",))
    before = datetime.now(UTC)

    await Intake(store, lambda address: None).accept(
        InboundMessage(Address("web", "shop2", "c9"), "m9", "还有货吗？", sent_at=sent_at, customer=profile)
    )

    async with sessions() as session:
        row = await session.scalar(select(Message))
    assert (row.channel, row.account, row.customer_id, row.platform_message_id) == ("web", "shop2", "c9", "m9")
    assert (row.direction, row.sender, row.text) == ("in", "customer", "还有货吗？")
    assert row.sent_at == sent_at and row.sent_at.tzinfo == UTC
    assert row.customer == {"name": "小王", "vip": True, "tags": ["复购"]}
    assert before <= row.created_at <= datetime.now(UTC)
    assert len(row.public_id) == 32 and row.conversation_id is None and row.processed_at is None


async def test_a_message_the_store_refuses_fails_alone_and_its_batch_neighbours_are_stored(store):
    sessions = session_factory(store)
    intake = Intake(store, lambda address: None)

    outcomes = await asyncio.gather(
        intake.accept(message("m1")),
        intake.accept(message("bad", customer=None)),  # violates NOT NULL: the whole batch fails first
        intake.accept(message("m2")),
        return_exceptions=True,
    )

    assert outcomes[0] is True and outcomes[2] is True
    assert isinstance(outcomes[1], IntegrityError)
    assert sorted(await stored(sessions)) == ["m1", "m2"]
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 2


async def test_a_value_that_cannot_be_stored_fails_alone(store):
    sessions = session_factory(store)
    intake = Intake(store, lambda address: None)
    naive = InboundMessage(Address("web", "default", "c1"), "bad", "text", sent_at=datetime(2026, 11, 11))

    outcomes = await asyncio.gather(
        intake.accept(message("m1")), intake.accept(naive), intake.accept(message("m2")), return_exceptions=True
    )

    assert outcomes[0] is True and outcomes[2] is True
    assert isinstance(outcomes[1], StatementError) and "naive datetime" in str(outcomes[1])
    assert sorted(await stored(sessions)) == ["m1", "m2"]


@pytest.mark.sqlite_only
async def test_a_database_that_cannot_write_fails_the_whole_batch_at_once(store, database_url):
    writes: list[int] = []
    event.listen(store.sync_engine, "begin", lambda connection: writes.append(1))
    intake = Intake(store, lambda address: None)
    blocker = sqlite3.connect(make_url(database_url).database, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another writer holds the file past the busy timeout
    try:
        outcomes = await asyncio.gather(*(intake.accept(message(f"m{n}")) for n in range(20)), return_exceptions=True)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    assert all(isinstance(outcome, OperationalError) for outcome in outcomes)
    assert len(writes) == 1  # one failed write for the batch of twenty, not twenty more one by one


@pytest.mark.sqlite_only
async def test_times_are_stored_as_sqlalchemy_writes_them_like_every_other_row(store, database_url):
    sent = datetime(2026, 11, 11, 0, 0, 1, 500, tzinfo=UTC)
    intake = Intake(store, lambda address: None)
    await intake.accept(InboundMessage(Address("web", "default", "c1"), "m1", "在吗", sent))

    with sqlite3.connect(make_url(database_url).database) as connection:
        sent_at, created_at = connection.execute("SELECT sent_at, created_at FROM messages").fetchone()
    assert sent_at == "2026-11-11 00:00:01.000500"  # not sqlite3's own "…+00:00"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", created_at)
