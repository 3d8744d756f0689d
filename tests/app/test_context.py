"""The history the bot reads before it answers: a batch's conversations in one statement, each only up to
the message being handled."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from app.engine.context import RECENT, recent_messages
from app.store.database import session_factory
from app.store.tables import ConversationState, Message
from tests.utils.store_rows import conversation


def _message(chat, n: int) -> Message:
    direction = "in" if n % 2 == 0 else "out"
    return Message(
        conversation_id=chat.id,
        channel=chat.channel,
        account=chat.account,
        customer_id=chat.customer_id,
        direction=direction,
        sender="customer" if direction == "in" else "bot",
        text=f"{chat.customer_id}-{n}",
        meta={"n": n},
    )


async def test_each_conversation_reads_its_own_latest_messages_before_its_bound(store: AsyncEngine) -> None:
    async with session_factory(store).begin() as session:
        long, short, empty = (conversation(session, c, state=ConversationState.BOT) for c in ("long", "short", "empty"))
        await session.flush()
        rows = {chat.customer_id: [_message(chat, n) for n in range(count)] for chat, count in ((long, 20), (short, 3))}
        for chat_rows in zip(*rows.values(), strict=False):  # interleaved, as customers write at once
            session.add_all(chat_rows)
        session.add_all(rows["long"][3:])
        await session.flush()
        handled = rows["long"][15]  # the message about to be handled: the ones after it are not history
        bounds = {long.id: handled.id, short.id: 10**9, empty.id: 10**9}
        found = await recent_messages(await session.connection(), bounds)

    assert [row.meta["n"] for row in found[long.id]] == list(range(14, 14 - RECENT, -1))
    assert [row.meta["n"] for row in found[short.id]] == [2, 1, 0]
    assert found[empty.id] == []
    assert {(row.direction, row.sender) for row in found[long.id]} == {("in", "customer"), ("out", "bot")}


async def test_no_conversation_reads_nothing(store: AsyncEngine) -> None:
    async with session_factory(store)() as session:
        assert await recent_messages(await session.connection(), {}) == {}


async def test_a_batch_larger_than_one_statement_reads_every_conversation(store: AsyncEngine) -> None:
    async with session_factory(store).begin() as session:
        chats = [conversation(session, f"c{n}", state=ConversationState.BOT) for n in range(120)]
        await session.flush()
        session.add_all([_message(chat, 0) for chat in chats])
        await session.flush()
        found = await recent_messages(await session.connection(), {chat.id: 10**9 for chat in chats})
    assert all(len(found[chat.id]) == 1 for chat in chats)
