"""The conversation engine's group commit, on a real store: many conversations' next messages in one
transaction, each handled once and in order, and a failing message failing alone."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, make_url, select
from sqlalchemy.exc import IntegrityError

from adapters.base import Address
from app.engine.batch_writes import BatchWrites, OpenConversation
from app.engine.conversations import ConversationEngine, EngineHooks
from app.knowledge import build_knowledge_base, build_routing
from app.settings import DEFAULT_RULES_FILE
from app.store.database import session_factory
from app.store.tables import Conversation, Message, OutboxItem, StateTransition, utcnow
from tests.utils.store_rows import conversation as stored_conversation
from tests.utils.store_rows import unprocessed

FAQ = Path(__file__).parent / "fixtures" / "replay" / "faq_live"
KB = build_knowledge_base(FAQ, {"shop_name": "小店"})
ROUTING = build_routing(DEFAULT_RULES_FILE)


def ignore(*args: object) -> None:
    """Outbox, assigner, consoles and platform: not part of these tests."""


def conversation_engine(store) -> ConversationEngine:
    return ConversationEngine(store, EngineHooks(lambda: KB, lambda: ROUTING, *[ignore] * 4))


async def arrive(store, customer: str, *texts: str, profile: dict | None = None) -> Address:
    """The customer's messages, stored as intake stores them."""
    async with session_factory(store).begin() as session:
        for number, text in enumerate(texts):
            unprocessed(session, customer, f"{customer}-{number}", text, customer=profile)
    return Address("web", "default", customer)


async def replies(store) -> list[tuple[str, str]]:
    """(customer message answered, customer) for every bot reply, in the order stored."""
    async with session_factory(store)() as session:
        rows = await session.execute(
            select(Message.in_reply_to, Message.customer_id)
            .where(Message.direction == "out", Message.in_reply_to.is_not(None))
            .order_by(Message.id)
        )
        return [tuple(row) for row in rows]


async def test_many_conversations_are_processed_once_each_in_few_transactions(store, commits):
    engine = conversation_engine(store)
    addresses = [await arrive(store, f"c{n}", "什么时候发货") for n in range(24)]
    commits.clear()

    outcomes = await asyncio.gather(*(engine.process_next(address) for address in addresses))

    assert outcomes == [False] * 24  # each handled, nothing else waits
    assert sorted(await replies(store)) == sorted((f"c{n}-0", f"c{n}") for n in range(24))
    assert len(commits) < 6  # batched: not one transaction per message


async def test_a_batch_reads_the_pending_messages_of_all_its_conversations_in_one_query(store, commits, statements):
    engine = conversation_engine(store)
    addresses = [await arrive(store, f"c{n}", "什么时候发货", "发什么快递") for n in range(8)]
    commits.clear()
    statements.clear()

    first = await asyncio.gather(*(engine.process_next(address) for address in addresses))
    assert first == [True] * 8  # each conversation's first message handled, and its second seen waiting
    reads = [statement for statement in statements if "row_number" in statement]
    assert len(reads) == len(commits) < 8  # one read per batch, not one per conversation
    second = await asyncio.gather(*(engine.process_next(address) for address in addresses))
    assert second == [False] * 8  # now in the conversations the first messages opened

    answered = await replies(store)
    assert sorted(answered) == sorted((f"c{n}-{m}", f"c{n}") for n in range(8) for m in range(2))
    for n in range(8):
        assert [reply for reply, customer in answered if customer == f"c{n}"] == [f"c{n}-0", f"c{n}-1"]


async def test_a_message_that_fails_fails_alone_and_its_batch_neighbours_are_processed(store):
    engine = conversation_engine(store)
    good = [await arrive(store, f"c{n}", "什么时候发货") for n in range(3)]
    bad = await arrive(store, "broken", "什么时候发货", profile={"tags": 5})  # a profile the engine cannot read

    batch = [good[0], bad, *good[1:]]
    outcomes = await asyncio.gather(*(engine.process_next(a) for a in batch), return_exceptions=True)

    assert outcomes[0] is False and outcomes[2:] == [False, False]
    assert isinstance(outcomes[1], TypeError)
    assert sorted(await replies(store)) == [("c0-0", "c0"), ("c1-0", "c1"), ("c2-0", "c2")]


async def test_one_address_asked_twice_in_a_batch_is_handled_once_per_message_in_order(store):
    engine = conversation_engine(store)
    address = await arrive(store, "c1", "什么时候发货", "发什么快递")

    first = await asyncio.gather(engine.process_next(address), engine.process_next(address))
    assert first == [True, True]  # the first handled, the second told to come back
    assert await engine.process_next(address) is False  # the second message

    assert await replies(store) == [("c1-0", "c1"), ("c1-1", "c1")]


async def test_each_reply_of_a_batch_is_queued_for_delivery_once_in_the_order_written(store):
    engine = conversation_engine(store)
    texts = ("什么时候发货", "转人工", "你们这什么破服务！！我要投诉")  # an answer, a handoff, an angry handoff
    addresses = [await arrive(store, f"c{n}", texts[n % 3]) for n in range(9)]

    await asyncio.gather(*(engine.process_next(address) for address in addresses))

    async with session_factory(store)() as session:
        rows = (
            await session.execute(
                select(OutboxItem.conversation_id, OutboxItem.channel, Message.conversation_id, Message.id)
                .join(Message, Message.id == OutboxItem.message_id)
                .order_by(OutboxItem.id)
            )
        ).all()
        replies_written = await session.scalar(select(func.count()).where(Message.direction == "out"))
    assert len(rows) == replies_written >= 9  # every reply has its one delivery
    assert all(queued == written and channel == "web" for queued, channel, written, _ in rows)
    assert [message_id for *_, message_id in rows] == sorted(message_id for *_, message_id in rows)


async def test_a_batch_stores_each_message_read_its_new_conversation_and_the_transitions(store):
    engine = conversation_engine(store)
    addresses = [await arrive(store, "calm", "什么时候发货"), await arrive(store, "angry", "垃圾店铺，气死我了！！")]

    await asyncio.gather(*(engine.process_next(address) for address in addresses))

    async with session_factory(store)() as session:
        conversations = {c.customer_id: c for c in await session.scalars(select(Conversation))}
        messages = {m.customer_id: m for m in await session.scalars(select(Message).where(Message.direction == "in"))}
        transitions = (await session.execute(select(StateTransition.conversation_id, StateTransition.to_state))).all()
    calm, angry = conversations["calm"], conversations["angry"]
    assert calm.state == "bot" and calm.created_at.tzinfo is not None and calm.ticket is False
    assert angry.state == "queued" and angry.queue and angry.handoff_reasons and angry.queued_at.tzinfo is not None
    for customer, conversation in conversations.items():
        message = messages[customer]
        assert message.conversation_id == conversation.id and message.processed_at.tzinfo is not None
        assert message.meta["reading"]["label"] in ("calm", "angry")
    assert sorted(transitions) == sorted([(calm.id, "bot"), (angry.id, "bot"), (angry.id, "queued")])


@pytest.mark.sqlite_only  # on SQLite the batch's writes and its COMMIT are one trip to its thread
async def test_a_batch_whose_last_write_fails_leaves_nothing_half_written_and_is_redone(store, database_url):
    engine = conversation_engine(store)
    addresses = [await arrive(store, f"c{n}", "什么时候发货") for n in range(3)]
    with sqlite3.connect(make_url(database_url).database) as connection:  # the outbox refuses, as a full disk would
        connection.execute("CREATE TRIGGER refuse BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'refused'); END")

    outcomes = await asyncio.gather(*(engine.process_next(a) for a in addresses), return_exceptions=True)

    assert all(isinstance(outcome, IntegrityError) for outcome in outcomes)
    async with session_factory(store)() as session:
        assert await session.scalar(select(func.count()).select_from(Conversation)) == 0
        assert await session.scalar(select(func.count()).select_from(StateTransition)) == 0
        assert await session.scalar(select(func.count()).where(Message.direction == "out")) == 0
        assert await session.scalar(select(func.count()).where(Message.processed_at.is_(None))) == 3

    with sqlite3.connect(make_url(database_url).database) as connection:
        connection.execute("DROP TRIGGER refuse")
    assert await asyncio.gather(*(engine.process_next(a) for a in addresses)) == [False] * 3
    assert sorted(await replies(store)) == [("c0-0", "c0"), ("c1-0", "c1"), ("c2-0", "c2")]


async def test_a_batch_writes_only_the_columns_it_changed_on_a_conversation_it_read(store):
    async with session_factory(store).begin() as session:
        chat = stored_conversation(session, "c1", state="bot", customer={})
    read = OpenConversation(chat.id, "web", "default", "c1", "bot", customer={})  # as a batch reads it
    noticed = utcnow()
    async with session_factory(store).begin() as session:  # meanwhile the timers notify the customer
        (await session.get_one(Conversation, chat.id)).notified_at = noticed

    writes = BatchWrites()
    writes.change(read, customer={"vip": True})
    writes.transition(read, "queued", "test")
    async with session_factory(store).begin() as session:
        await writes.write(session)

    async with session_factory(store)() as session:
        stored = await session.get_one(Conversation, chat.id)
        transitions = (await session.execute(select(StateTransition.from_state, StateTransition.to_state))).all()
    assert (stored.state, stored.customer, stored.notified_at) == ("queued", {"vip": True}, noticed)
    assert stored.updated_at > stored.created_at
    assert transitions == [("bot", "queued")]
