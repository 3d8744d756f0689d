"""Place-in-queue notices: each waiting customer is told their place once per interval, a share of them per
transaction; with nobody online who could take the queue, they are offered 留言 instead of an ETA."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.engine.timers import QueueTimers
from app.knowledge import build_routing
from app.live import LiveHub
from app.settings import DEFAULT_RULES_FILE
from app.store.database import create_report_engine, session_factory
from app.store.tables import Agent, Conversation, ConversationState, Message, utcnow
from tests.utils.store_rows import conversation

ROUTING = build_routing(DEFAULT_RULES_FILE)


def busy_agent(session, skill: str = "presale", status: str = "online") -> None:
    """Online (unless told otherwise) with the skill, and no room: chats stay in the line."""
    session.add(Agent(username=f"{skill}-{status}", name="小王", skills=[skill], capacity=0, status=status,
                      token_hash=f"{skill}-{status}"))  # fmt: skip


async def two_waiting(sessions, now) -> None:
    """waiting-0 and waiting-1 in the presale line, queued 10 and 9 minutes ago, its agent busy."""
    async with sessions.begin() as session:
        busy_agent(session)
        for n in range(2):
            conversation(session, f"waiting-{n}", state=ConversationState.QUEUED, queue="presale", level="L1",
                         queued_at=now - timedelta(minutes=10 - n))  # fmt: skip


async def test_every_due_customer_is_told_their_place_in_one_transaction(store: AsyncEngine, commits) -> None:
    sessions, now = session_factory(store), utcnow()
    async with sessions.begin() as session:
        busy_agent(session)
        for n in range(3):  # queued 10, 9 and 8 minutes ago
            conversation(session, f"waiting-{n}", state=ConversationState.QUEUED, queue="presale", level="L1",
                         queued_at=now - timedelta(minutes=10 - n))  # fmt: skip
        conversation(session, "left-a-message", state=ConversationState.QUEUED, queue="presale", ticket=True,
                     queued_at=now - timedelta(minutes=20))  # fmt: skip
        conversation(session, "told-just-now", state=ConversationState.QUEUED, queue="presale", notified_at=now,
                     queued_at=now - timedelta(minutes=30))  # fmt: skip
    sent = []
    timers = QueueTimers(sessions, lambda: ROUTING, LiveHub(), sent.append, lambda: None, clock=lambda: now)
    commits.clear()

    await timers.run()

    assert [notice.address.customer_id for notice in sent] == ["waiting-0", "waiting-1", "waiting-2"]
    assert len(commits) == 2  # the notices together, and the idle-close pass (one per notice before)
    async with sessions() as session:
        notices = (await session.scalars(select(Message).order_by(Message.id))).all()
        told = set(await session.scalars(select(Conversation.customer_id).where(Conversation.notified_at == now)))
    assert [m.meta["position"] for m in notices] == [3, 4, 5]  # behind the two who waited longer
    assert told == {"waiting-0", "waiting-1", "waiting-2", "told-just-now"}


async def test_a_long_line_is_told_in_shares_in_its_order(store: AsyncEngine, commits) -> None:
    sessions, now = session_factory(store), utcnow()
    async with sessions.begin() as session:
        busy_agent(session)
        for n in range(5):
            conversation(session, f"waiting-{n}", state=ConversationState.QUEUED, queue="presale", level="L1",
                         queued_at=now - timedelta(minutes=10 - n))  # fmt: skip
    sent = []
    timers = QueueTimers(sessions, lambda: ROUTING, LiveHub(), sent.append, lambda: None, clock=lambda: now,
                         notices_per_share=2)  # fmt: skip
    commits.clear()

    await timers.run()

    assert [notice.address.customer_id for notice in sent] == [f"waiting-{n}" for n in range(5)]
    assert len(commits) == 4  # shares of 2, 2 and 1, and the idle-close pass
    async with sessions() as session:
        told = await session.scalars(select(Conversation.notified_at).where(Conversation.notified_at.is_not(None)))
        assert told.all() == [now] * 5


async def test_a_tick_tells_at_most_its_limit_those_never_told_or_told_longest_ago_first(store: AsyncEngine) -> None:
    sessions, now = session_factory(store), utcnow()
    async with sessions.begin() as session:
        busy_agent(session)
        for name, told in (("told-3-min-ago", 3), ("never-told", None), ("told-5-min-ago", 5)):
            notified = None if told is None else now - timedelta(minutes=told)
            conversation(session, name, state=ConversationState.QUEUED, queue="presale", notified_at=notified,
                         queued_at=now - timedelta(minutes=10))  # fmt: skip
    sent = []
    timers = QueueTimers(sessions, lambda: ROUTING, LiveHub(), sent.append, lambda: None, clock=lambda: now,
                         notices_per_tick=2)  # fmt: skip

    await timers.run()
    first = sorted(notice.address.customer_id for notice in sent)
    await timers.run()

    assert first == ["never-told", "told-5-min-ago"]
    assert [notice.address.customer_id for notice in sent[2:]] == ["told-3-min-ago"]  # the next tick


async def test_the_first_in_line_hears_they_are_next(store: AsyncEngine) -> None:
    sessions, now = session_factory(store), utcnow()
    await two_waiting(sessions, now)
    sent = []
    timers = QueueTimers(sessions, lambda: ROUTING, LiveHub(), sent.append, lambda: None, clock=lambda: now)

    await timers.run()

    first, second = (notice.text for notice in sent)
    assert ROUTING.rules.service.minutes_per_chat == 3  # nobody was served lately: the ETA's fallback pace
    assert first == "您是下一位，预计等待约3分钟，请耐心稍候～"
    assert second.startswith("您前面还有1位顾客")


async def test_with_nobody_online_for_the_queue_a_customer_is_offered_to_leave_a_message_once(
    store: AsyncEngine,
) -> None:
    sessions, now = session_factory(store), utcnow()
    async with sessions.begin() as session:
        busy_agent(session, skill="aftersale")  # online, but not for presale
        busy_agent(session, status="away")  # presale, but not online
        conversation(session, "waiting", state=ConversationState.QUEUED, queue="presale", level="L1",
                     queued_at=now - timedelta(minutes=1))  # fmt: skip
    sent, clock = [], [now]
    timers = QueueTimers(sessions, lambda: ROUTING, LiveHub(), sent.append, lambda: None, clock=lambda: clock[0])

    await timers.run()
    assert [notice.text for notice in sent] == [ROUTING.rules.templates.nobody_online]
    assert "回复「留言」" in sent[0].text and "预计等待" not in sent[0].text

    clock[0] += timedelta(minutes=ROUTING.rules.notice_minutes + 1)
    await timers.run()
    assert len(sent) == 1, "said once: repeating it every interval would only nag"

    async with sessions.begin() as session:
        busy_agent(session)  # someone for presale comes online (busy for now)
    clock[0] += timedelta(minutes=ROUTING.rules.notice_minutes + 1)
    await timers.run()
    assert sent[-1].text.startswith("您是下一位，预计等待约")


async def test_only_chats_past_their_queues_limit_overflow_and_keep_their_wait(store: AsyncEngine) -> None:
    sessions, now = session_factory(store), utcnow()
    async with sessions.begin() as session:
        for customer, queue, waited in (("vip-3m", "vip", 3), ("vip-1m", "vip", 1), ("order-4m", "order", 4),
                                        ("order-6m", "order", 6), ("presale-60m", "presale", 60)):  # fmt: skip
            conversation(session, customer, state=ConversationState.QUEUED, queue=queue, level="L1",
                         queued_at=now - timedelta(minutes=waited), notified_at=now)  # fmt: skip
        # no queued_at: waits since its last change
        conversation(session, "order-no-queued-at", state=ConversationState.QUEUED, queue="order", level="L1",
                     updated_at=now - timedelta(minutes=7), notified_at=now)  # fmt: skip
    timers = QueueTimers(sessions, lambda: ROUTING, LiveHub(), lambda message: None, lambda: None, clock=lambda: now)

    await timers.run()

    async with sessions() as session:
        queues = dict((await session.execute(select(Conversation.customer_id, Conversation.queue))).all())
        kept = await session.scalar(select(Conversation.queued_at).where(Conversation.customer_id == "vip-3m"))
    assert queues == {  # vip overflows after 2 minutes, order after the default 5, presale never
        "vip-3m": "presale",
        "vip-1m": "vip",
        "order-4m": "order",
        "order-6m": "presale",
        "presale-60m": "presale",
        "order-no-queued-at": "presale",
    }
    assert kept == now - timedelta(minutes=3)


async def test_the_line_read_through_a_connection_that_cannot_write_is_told_as_well(store: AsyncEngine, database_url):
    """The service reads the line through its report connection (on SQLite read-only, on its own thread)."""
    sessions, now = session_factory(store), utcnow()
    await two_waiting(sessions, now)
    reports = create_report_engine(database_url, store)
    sent = []
    timers = QueueTimers(sessions, lambda: ROUTING, LiveHub(), sent.append, lambda: None, clock=lambda: now,
                         reads=session_factory(reports))  # fmt: skip
    try:
        await timers.run()
    finally:
        await reports.dispose()

    assert [(n.address.customer_id, n.sender) for n in sent] == [("waiting-0", "system"), ("waiting-1", "system")]
    async with sessions() as session:
        told = set(await session.scalars(select(Conversation.customer_id).where(Conversation.notified_at == now)))
    assert told == {"waiting-0", "waiting-1"}
