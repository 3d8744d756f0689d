"""The daily quality report from a store of scripted conversations with known figures (China time)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.quality_report import daily_report
from app.quality_report_html import render_html
from app.store.database import create_engine, session_factory
from app.store.migrate import upgrade
from app.store.tables import Agent, Conversation, QualityReview, StateTransition
from tests.utils.store_rows import conversation, turn

CHINA = ZoneInfo("Asia/Shanghai")
DAY = date(2024, 5, 12)
LATER = datetime(2024, 5, 14, 10, tzinfo=CHINA)  # D+1 is over: the report is complete


def at(hour: int, minute: int = 0, second: int = 0, *, days: int = 0) -> datetime:
    return datetime(2024, 5, 12, hour, minute, second, tzinfo=CHINA) + timedelta(days=days)


@pytest.fixture
def migrated(database_url: str) -> str:
    upgrade(database_url)
    return database_url


@pytest.fixture
async def sessions(migrated: str) -> AsyncIterator:
    engine = create_engine(migrated)
    yield session_factory(engine)
    await engine.dispose()


NONE = ("faq:none: …",)


def person(s, username: str, name: str, role: str = "agent") -> Agent:
    row = Agent(id=uuid.uuid4().hex, username=username, name=name, role=role, token_hash=uuid.uuid4().hex * 2)
    s.add(row)
    return row


def bot_chat(s, customer: str, start: datetime, text: str = "什么时候发货") -> Conversation:
    """A chat the bot answered with an FAQ entry at `start` and never handed off."""
    chat = conversation(s, customer, state="bot", created_at=start)
    turn(s, chat, text, start, action="answer", reasons=("faq:answer: … 1.00",), faq_id="ship")
    return chat


def handed(s, customer: str, start: datetime, level: str, agent: Agent | None, **fields) -> Conversation:
    """A chat the bot handed off at `start` (level L1-L3), then served by `agent` (None: a 留言 nobody took)."""
    agent_id = agent.id if agent else None
    chat = conversation(
        s, customer, created_at=start, queued_at=start, queue="q", level=level, agent_id=agent_id, **fields
    )
    turn(s, chat, "转人工", start, action="handoff", reasons=("human_request: 转人工",), handoff=("q", level))
    return chat


def served(start: datetime, reply_after: int | None, closed: datetime, disposition: str, rating: int | None = None):
    """Assigned 2 s after the handoff, first reply `reply_after` seconds after it (None: never), closed."""
    reply = None if reply_after is None else start + timedelta(seconds=reply_after)
    return {
        "assigned_at": start + timedelta(seconds=2),
        "first_agent_reply_at": reply,
        "closed_at": closed,
        "disposition": disposition,
        "satisfaction": rating,
    }


def moved(s, chat: Conversation, to_state: str, reason: str) -> None:
    s.add(StateTransition(conversation_id=chat.id, from_state="with_agent", to_state=to_state, reason=reason))


def review(s, chat: Conversation, agent: Agent, reviewer: Agent, scores: tuple[int, int, int]) -> None:
    politeness, accuracy, resolution = scores
    s.add(
        QualityReview(
            conversation_id=chat.id,
            agent_id=agent.id,
            reviewer_id=reviewer.id,
            politeness=politeness,
            accuracy=accuracy,
            resolution=resolution,
        )
    )


@pytest.fixture
async def store(sessions):
    """On 2024-05-12 (D):

    bot only: a, b, c answered (b writes again 22 h later, c 25 h later); e's second chat answered at 20:00.
    with agents: e (L2, zhang, 40 s, 服务态度, 4; e starts again at 20:00), f (L1, zhang, 25 s, 物流, 5),
    g (L1, li then zhang by transfer, 60 s, 退换货, 2), h (L3, li, 12 s, 质量), i (L1, li, no reply,
    closed idle 超时关闭), t (a 留言, never assigned); k handed off on D-1 23:50, closed by li on D (咨询, 3).
    Reviews: f 5/4/5 and g 3/4/2 of zhang, h 4/4/4 of li; an older chat of li's closed on D-1 scored 1/1/1.
    """
    async with sessions.begin() as s:
        zhang, li, boss = person(s, "zhang", "张三"), person(s, "li", "李四"), person(s, "boss", "王主管", "supervisor")
        await s.flush()
        b, c = bot_chat(s, "b", at(10)), bot_chat(s, "c", at(11))
        bot_chat(s, "a", at(9))
        turn(s, b, "还是没收到", at(8, days=1), action="clarify", reasons=NONE)
        turn(s, c, "在吗", at(12, days=1), action="clarify", reasons=NONE)
        handed(s, "e", at(12), "L2", zhang, **served(at(12), 40, at(12, 30), "服务态度", 4))
        bot_chat(s, "e", at(20), "能开发票吗")
        f = handed(s, "f", at(11), "L1", zhang, **served(at(11), 25, at(11, 40), "物流", 5))
        g = handed(s, "g", at(13), "L1", zhang, **served(at(13), 60, at(13, 30), "退换货", 2))
        moved(s, g, "with_agent", "transferred by li to zhang")
        h = handed(s, "h", at(14), "L3", li, **served(at(14), 12, at(14, 20), "质量"))
        moved(s, h, "closed", "closed by li: 质量")
        handed(s, "i", at(15), "L1", li, **served(at(15), None, at(16), "超时关闭"))
        handed(s, "t", at(22), "L1", None, ticket=True)
        k_start = at(23, 50, days=-1)
        handed(s, "k", k_start, "L1", li, **served(k_start, 60, at(0, 30), "咨询", 3))
        old = handed(s, "old", at(9, days=-1), "L1", li, **served(at(9, days=-1), 5, at(10, days=-1), "物流"))
        await s.flush()
        for chat, agent, scores in ((f, zhang, (5, 4, 5)), (g, zhang, (3, 4, 2)), (h, li, (4, 4, 4))):
            review(s, chat, agent, boss, scores)
        review(s, old, li, boss, (1, 1, 1))
    return sessions


async def report(sessions, day: date = DAY, now: datetime = LATER) -> dict:
    async with sessions() as session:
        return await daily_report(session, day, now=now)


async def test_first_response_is_the_dashboards_without_tickets(store):
    figures = await report(store)

    first = figures["first_response"]
    assert (first["count"], first["median"], first["p90"]) == (4, 32.5, 60.0)  # e 40, f 25, g 60, h 12; i unanswered
    assert (first["within_target"], first["target_share"]) == (2, 0.5)
    assert figures["first_response_target_seconds"] == 30
    assert (figures["date"], figures["start"], figures["complete"]) == ("2024-05-12", "2024-05-12T00:00:00+08:00", True)


async def test_one_touch_leaves_out_transfers_recontacts_and_idle_closes(store):
    figures = await report(store)

    # closed by agents: e, f, g, h, k (i closed idle); e's customer came back at 20:00, g was transferred
    assert figures["one_touch"] == {"closed_by_agents": 5, "one_touch": 3, "rate": 0.6}


async def test_bot_containment_and_recontact_after_an_answer(store):
    figures = await report(store)

    # started on D: a, b, c, e's second chat (never handed off) and e, f, g, h, i, t
    assert figures["bot_containment"] == {"started": 10, "contained": 4, "rate": 0.4}
    # answered: a, b, c, e (at 20:00); only b wrote again within 24 h (c after 25 h)
    assert figures["bot_recontact"] == {"customers_answered": 4, "recontacted": 1, "rate": 0.25}


async def test_satisfaction_and_complaints(store):
    figures = await report(store)

    assert figures["satisfaction"] == {
        "count": 4,
        "average": 3.5,
        "distribution": {"1": 0, "2": 1, "3": 1, "4": 1, "5": 1},
    }
    assert figures["complaints"]["by_level"] == {"L1": 4, "L2": 1, "L3": 1}  # k was handed off the day before
    assert figures["complaints"]["by_disposition"] == {
        "服务态度": 1,
        "物流": 1,
        "退换货": 1,
        "质量": 1,
        "超时关闭": 1,
        "咨询": 1,
    }


async def test_per_agent_figures_and_review_averages_of_the_days_chats(store):
    li, zhang = (await report(store))["agents"]  # by username

    assert (li["username"], li["closed"], li["one_touch"]["rate"], li["satisfaction"]) == ("li", 3, 1.0, 3.0)
    assert li["reviews"] == {"count": 1, "politeness": 4.0, "accuracy": 4.0, "resolution": 4.0, "overall": 4.0}
    assert (zhang["name"], zhang["closed"], zhang["one_touch"]["one_touch"], zhang["satisfaction"]) == (
        "张三",
        3,
        1,
        3.67,
    )
    assert zhang["reviews"] == {"count": 2, "politeness": 4.0, "accuracy": 4.0, "resolution": 3.5, "overall": 3.83}


async def test_a_report_before_the_next_day_ends_is_provisional(store):
    figures = await report(store, now=at(23))

    assert figures["complete"] is False
    assert figures["generated_at"] == "2024-05-12T23:00:00+08:00"


async def test_an_empty_day_has_no_rates(store):
    figures = await report(store, day=date(2024, 4, 1))

    assert figures["one_touch"]["rate"] is None and figures["bot_containment"]["rate"] is None
    assert figures["first_response"]["median"] is None and figures["agents"] == []
    assert "客服日报 2024-04-01" in render_html(figures)


async def test_the_html_page_is_self_contained_and_escapes_names(store):
    async with store.begin() as s:
        (await s.scalar(select(Agent).where(Agent.username == "li"))).name = "<script>alert(1)</script>"
    page = render_html(await report(store))

    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "一次解决率" in page and "60.0%" in page and "机器人拦截率" in page and "40.0%" in page
    assert "http" not in page  # nothing fetched from elsewhere


async def test_coming_back_counts_up_to_24_hours_to_the_second(sessions):
    async with sessions.begin() as s:
        zhang = person(s, "zhang", "张三")
        await s.flush()
        for customer, hour in (("on-time", 9), ("late", 10)):
            chat = bot_chat(s, customer, at(hour))
            turn(
                s,
                chat,
                "还有问题",
                at(hour, days=1, second=1 if customer == "late" else 0),
                action="clarify",
                reasons=NONE,
            )
        for customer, hour in (("back", 11), ("gone", 12)):
            handed(s, customer, at(hour), "L1", zhang, **served(at(hour), 10, at(hour, 30), "咨询"))
            later = at(hour, 30, days=1, second=0 if customer == "back" else 1)
            conversation(s, customer, state="bot", created_at=later)

    figures = await report(sessions)

    assert figures["bot_recontact"] == {"customers_answered": 2, "recontacted": 1, "rate": 0.5}
    assert figures["one_touch"] == {"closed_by_agents": 2, "one_touch": 1, "rate": 0.5}
