"""The waiting line as the database keeps it: serving order (level, priority grown by the wait, then
the longest wait), each chat's place in its own queue, and the head an assignment pass reads."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from app.engine.waiting import head_of_line, places_in_line
from app.knowledge import build_routing
from app.settings import DEFAULT_RULES_FILE
from app.store.database import session_factory
from routing.rules import Rules
from tests.app.conftest import WaitingLine

RULES = build_routing(DEFAULT_RULES_FILE).rules
ALL_QUEUES = {queue.id for queue in RULES.queues}


def without_aging(rules: Rules) -> Rules:
    return rules.model_copy(update={"service": rules.service.model_copy(update={"aging_per_minute": 0})})


async def head(store: AsyncEngine, names: dict[str, str], *, rules: Rules = RULES, queues=ALL_QUEUES) -> list[str]:
    async with session_factory(store)() as session:
        chats = await head_of_line(session, rules, set(queues), limit=100)
    return [names[chat.conversation_id] for chat in chats]


async def test_higher_levels_go_first_whatever_their_wait(store: AsyncEngine, waiting_line: WaitingLine) -> None:
    names = await waiting_line(("old-l1", {"minutes": 60}), ("new-l3", {"level": "L3", "priority": 100}))
    assert await head(store, names) == ["new-l3", "old-l1"]


async def test_within_a_level_priority_then_the_longest_wait(store: AsyncEngine, waiting_line: WaitingLine) -> None:
    names = await waiting_line(("a", {"minutes": 1}), ("vip", {"priority": 30}), ("b", {"minutes": 2}))
    assert await head(store, names) == ["vip", "b", "a"]


async def test_aging_lets_a_long_wait_pass_a_newer_higher_priority(
    store: AsyncEngine, waiting_line: WaitingLine
) -> None:
    names = await waiting_line(("vip-new", {"priority": 30}), ("waited-25-min", {"priority": 10, "minutes": 25}))
    assert await head(store, names) == ["waited-25-min", "vip-new"]  # 10 + 25 points of aging > 30
    assert await head(store, names, rules=without_aging(RULES)) == ["vip-new", "waited-25-min"]


async def test_a_chat_without_level_or_priority_waits_as_an_ordinary_one(
    store: AsyncEngine, waiting_line: WaitingLine
) -> None:
    names = await waiting_line(("bare", {"level": None, "priority": None, "minutes": 2}), ("l1", {"minutes": 1}))
    assert await head(store, names, rules=without_aging(RULES)) == ["l1", "bare"]  # priority 10 before 0


async def test_places_count_within_each_queue(store: AsyncEngine, waiting_line: WaitingLine) -> None:
    names = await waiting_line(
        ("a", {"minutes": 3}),
        ("b", {"minutes": 2}),
        ("c", {"minutes": 1, "queue": "aftersale"}),
        ("gone-queue", {"minutes": 1, "queue": "no-longer-in-the-rules"}),  # counts as the default queue's
        ("not-asked", {"minutes": 9}),
    )
    asked = {conversation_id for conversation_id, name in names.items() if name != "not-asked"}
    async with session_factory(store)() as session:
        places = await places_in_line(session, RULES, asked)
    assert RULES.default_queue == "presale"
    assert {names[i]: place for i, place in places.items()} == {"a": 2, "b": 3, "gone-queue": 4, "c": 1}


async def test_the_head_holds_only_the_queues_asked_for(store: AsyncEngine, waiting_line: WaitingLine) -> None:
    names = await waiting_line(
        ("presale", {"minutes": 9}),
        ("aftersale", {"minutes": 1, "queue": "aftersale"}),
        ("gone-queue", {"minutes": 2, "queue": "no-longer-in-the-rules"}),
    )
    assert await head(store, names, queues={"aftersale"}) == ["aftersale"]
    assert await head(store, names, queues={"presale"}) == ["presale", "gone-queue"]
