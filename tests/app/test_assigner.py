"""An assignment pass in a long line: it reads the line only when someone has room, only the queues
they can take, from the head, and ends when the room is used."""

from __future__ import annotations

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.engine.assigner import ASSIGN_PAGE, Assigner
from app.knowledge import build_routing
from app.live import LiveHub
from app.settings import DEFAULT_RULES_FILE
from app.store.database import session_factory
from app.store.tables import Agent, Conversation, ConversationState
from tests.app.conftest import WaitingLine

ROUTING = build_routing(DEFAULT_RULES_FILE)


async def agents(store: AsyncEngine, **rooms: tuple[str, int]) -> None:
    """Online agents by name: (their one skill, how many more chats they can take)."""
    async with session_factory(store).begin() as session:
        for name, (skill, room) in rooms.items():
            session.add(Agent(id=name, username=name, name=name, skills=[skill], capacity=room, status="online",
                              token_hash=name))  # fmt: skip


async def given(store: AsyncEngine, names: dict[str, str]) -> dict[str, str]:
    """Customer id -> the agent who has their chat now."""
    async with session_factory(store)() as session:
        rows = await session.execute(select(Conversation.id, Conversation.agent_id).where(
            Conversation.state == ConversationState.WITH_AGENT))  # fmt: skip
    return {names[conversation_id]: agent_id for conversation_id, agent_id in rows}


def assigner(store: AsyncEngine) -> Assigner:
    return Assigner(session_factory(store), lambda: ROUTING, LiveHub(), lambda notice: None)


async def test_with_every_agent_full_the_line_is_not_read(store: AsyncEngine, waiting_line: WaitingLine) -> None:
    await waiting_line(*((f"c{n}", {"minutes": n}) for n in range(5)))
    await agents(store, full=("presale", 0))
    statements: list[str] = []
    event.listen(store.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    assert await assigner(store).assign_waiting() == 0

    assert len(statements) == 1 and "agents" in statements[0]  # who is online and how busy: nothing else


async def test_the_head_of_the_line_goes_first_and_the_pass_ends_when_the_room_is_used(
    store: AsyncEngine, waiting_line: WaitingLine
) -> None:
    names = await waiting_line(
        ("waited-longest", {"minutes": 5}),
        ("angry", {"level": "L3", "minutes": 1}),
        ("newest", {"minutes": 0}),
        ("second-longest", {"minutes": 4}),
    )
    await agents(store, wang=("presale", 2))

    assert await assigner(store).assign_waiting() == 2

    assert await given(store, names) == {"angry": "wang", "waited-longest": "wang"}


async def test_room_for_a_queue_deep_in_the_line_is_found_past_the_first_page(
    store: AsyncEngine, waiting_line: WaitingLine
) -> None:
    presale = ((f"presale-{n}", {"minutes": 60 + n}) for n in range(ASSIGN_PAGE + 20))  # ahead of all aftersale
    aftersale = ((f"aftersale-{n}", {"minutes": n, "queue": "aftersale"}) for n in range(3))
    names = await waiting_line(*presale, *aftersale)
    await agents(store, li=("presale", 1), zhao=("aftersale", 2))

    assert await assigner(store).assign_waiting() == 3

    assert await given(store, names) == {
        f"presale-{ASSIGN_PAGE + 19}": "li",  # the first page is presale's, and li has room for one
        "aftersale-2": "zhao",  # then the queue with room left, from its head
        "aftersale-1": "zhao",
    }
