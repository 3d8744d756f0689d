"""The ops dashboard's figures from a store of scripted conversations, with a frozen clock (China time)."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.ops_stats import Window, read_stats
from app.store.database import create_engine, session_factory
from app.store.migrate import upgrade
from tests.utils.store_rows import conversation, reply, turn

CHINA = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 5, 12, 14, 30, tzinfo=CHINA)


def at(hour: int, minute: int = 0, second: int = 0, *, days_ago: int = 0) -> datetime:
    return NOW.replace(hour=hour, minute=minute, second=second) - timedelta(days=days_ago)


@pytest.fixture
def migrated(database_url: str) -> str:
    upgrade(database_url)
    return database_url


@pytest.fixture
async def sessions(migrated: str) -> AsyncIterator:
    engine = create_engine(migrated)
    yield session_factory(engine)
    await engine.dispose()


ANSWER, NONE = ("faq:answer: … 1.00",), ("faq:none: …",)
ANGRY, PERSON = ("emotion:angry: 垃圾",), ("human_request: 转人工",)


@pytest.fixture
async def store(sessions):
    """Today: 2 answers, a suggestion picked by number, a clarify, 3 handoffs (one a 留言), a rating.

    Yesterday evening a clarify; five days ago an answer.
    """
    async with sessions.begin() as s:
        turn(s, conversation(s, "a"), "什么时候发货", at(14, 5), action="answer", reasons=ANSWER, faq_id="ship")
        turn(s, conversation(s, "b"), "能开发票吗", at(14, 10), action="answer", reasons=ANSWER, faq_id="invoice")
        turn(s, conversation(s, "c"), "实体店在哪里", at(13, 20), action="clarify", reasons=NONE)
        d = conversation(s, "d")
        turn(s, d, "退款要多久", at(13, 25), action="suggest", reasons=("faq:suggest: refund_card、refund_huabei",))
        turn(s, d, "1", at(13, 26), action="answer", reasons=("picked suggestion",), faq_id="refund_card")
        angry = conversation(
            s, "e", queued_at=at(12, 0, 1), assigned_at=at(12, 0, 21), first_agent_reply_at=at(12, 0, 41),
            closed_at=at(12, 30), satisfaction=4,
        )  # fmt: skip
        turn(s, angry, "垃圾服务", at(12), action="handoff", reasons=ANGRY, handoff=("complaints", "L2"))
        person = conversation(
            s, "f", queued_at=at(11), assigned_at=at(11, 0, 5), first_agent_reply_at=at(11, 0, 25),
            closed_at=at(11, 40), satisfaction=2,
        )  # fmt: skip
        turn(s, person, "转人工", at(11), action="handoff", reasons=PERSON, handoff=("presale", "L1"))
        ticket = conversation(s, "t", queued_at=at(13), assigned_at=at(13, 15), ticket=True)
        reasons = (*PERSON, "out_of_hours: 09:00-12:00")
        turn(s, ticket, "人工", at(13), action="handoff", reasons=reasons, handoff=("presale", "L1"))
        reply(s, angry, turn(s, angry, "5", at(14, 20)), text="感谢您的评价")  # a rating: no decision
        turn(s, conversation(s, "g"), "在吗", at(20, days_ago=1), action="clarify", reasons=NONE)
        turn(s, conversation(s, "h"), "包邮吗", at(10, days_ago=5), action="answer", reasons=ANSWER, faq_id="free")
    return sessions


async def stats(sessions, range_: str) -> dict:
    async with sessions() as session:
        return await read_stats(session, range_, now=NOW)


async def test_the_last_24_hours_count_messages_answers_and_handoffs(store):
    figures = await stats(store, "24h")

    totals = figures["totals"]
    assert (totals["messages"], totals["decided"], totals["answered"]) == (10, 9, 3)
    assert totals["answer_rate"] == round(3 / 9, 4)
    assert totals["handoffs"] == 3
    assert figures["handoffs_by_reason"] == {"human_request": 2, "emotion:angry": 1}
    assert figures["handoffs_by_queue"] == {"presale": 2, "complaints": 1}
    assert figures["handoffs_by_level"] == {"L1": 2, "L2": 1}
    assert figures["scanned"] == {"messages": 10, "conversations": 3}


async def test_waits_and_first_responses_leave_out_tickets(store):
    totals = (await stats(store, "24h"))["totals"]

    assert totals["queue_wait"] == {"count": 2, "average": 12.5, "median": 12.5, "p90": 20.0}
    first = totals["first_response"]
    assert (first["count"], first["median"], first["p90"]) == (2, 32.5, 40.0)
    assert (first["within_target"], first["target_share"]) == (1, 0.5)
    assert totals["satisfaction"] == {"count": 2, "average": 3.0}


async def test_today_starts_at_midnight_china_time(store):
    today = (await stats(store, "24h"))["today"]

    assert (today["messages"], today["decided"], today["answered"], today["answer_rate"]) == (9, 8, 3, 0.375)


async def test_hourly_buckets_end_with_the_current_hour(store):
    buckets = (await stats(store, "24h"))["buckets"]

    assert len(buckets) == 24
    assert (buckets[0]["label"], buckets[-1]["label"]) == ("15:00", "14:00")
    assert buckets[0]["start"] == "2024-05-11T15:00:00+08:00"
    last = buckets[-1]
    assert (last["messages"], last["decided"], last["answered"]) == (3, 2, 2)
    noon = buckets[-3]
    assert (noon["label"], noon["handoffs"], noon["queue_wait"]["median"]) == ("12:00", 1, 20.0)
    assert noon["first_response"]["target_share"] == 0.0
    assert buckets[5]["messages"] == 1  # yesterday 20:00
    assert buckets[1]["answer_rate"] is None and buckets[1]["queue_wait"]["median"] is None


async def test_the_last_7_days_are_counted_per_day(store):
    figures = await stats(store, "7d")

    assert [b["label"] for b in figures["buckets"]] == ["05-06", "05-07", "05-08", "05-09", "05-10", "05-11", "05-12"]
    assert [b["messages"] for b in figures["buckets"]] == [0, 1, 0, 0, 0, 1, 9]
    totals = figures["totals"]
    assert (totals["messages"], totals["decided"], totals["answered"], totals["answer_rate"]) == (11, 10, 4, 0.4)


async def test_an_empty_store_has_no_rates(sessions):
    figures = await stats(sessions, "24h")

    assert figures["totals"]["messages"] == 0
    assert figures["totals"]["answer_rate"] is None
    assert figures["today"]["first_response"]["target_share"] is None


def test_the_window_is_china_time_whatever_the_clock_zone():
    window = Window.of("24h", datetime(2024, 5, 11, 16, 30, tzinfo=ZoneInfo("UTC")))  # 00:30 on 5-12 in China

    assert window.first.isoformat() == "2024-05-11T01:00:00+08:00"
    assert window.label(23) == "00:00"
    assert window.index(datetime(2024, 5, 11, 16, 59, tzinfo=ZoneInfo("UTC"))) == 23
    assert window.index(datetime(2024, 5, 10, 16, 59, tzinfo=ZoneInfo("UTC"))) is None


def nearest_rank_p90(values: list[float]) -> float:
    return sorted(values)[math.ceil(0.9 * len(values)) - 1]


@pytest.mark.parametrize("chats", [1, 2, 10, 11, 37])
async def test_waits_are_the_mean_median_and_nearest_rank_p90_of_each_group(sessions, chats):
    """The database ranks the waits; the figures are those Python's statistics give on the same waits."""
    rng = random.Random(chats)
    waits, firsts, today = [], [], []
    async with sessions.begin() as s:
        for number in range(chats):
            days_ago = rng.choice((0, 0, 1))  # in the window: yesterday from 15:00, today to 14:30
            queued = at(
                rng.choice((16, 20) if days_ago else (9, 13)), rng.randrange(60), rng.randrange(60), days_ago=days_ago
            )
            wait, first = rng.randrange(500, 90_000) / 1000, rng.randrange(1_000, 120_000) / 1000  # whole ms
            assigned, replied = queued + timedelta(seconds=wait), queued + timedelta(seconds=wait + first)
            conversation(s, f"w{number}", queued_at=queued, assigned_at=assigned, first_agent_reply_at=replied)
            waits.append(wait)
            firsts.append(wait + first)
            if queued.date() == NOW.date():
                today.append(wait)

    figures = await stats(sessions, "24h")

    totals, spread = figures["totals"], {"count": len(waits)}
    spread |= {"average": round(statistics.fmean(waits), 1), "median": round(statistics.median(waits), 1)}
    assert totals["queue_wait"] == spread | {"p90": round(nearest_rank_p90(waits), 1)}
    first = totals["first_response"]
    assert (first["median"], first["p90"]) == (round(statistics.median(firsts), 1), round(nearest_rank_p90(firsts), 1))
    assert first["within_target"] == sum(seconds <= 30 for seconds in firsts)
    assert figures["today"]["queue_wait"]["count"] == len(today)
    if today:
        assert figures["today"]["queue_wait"]["median"] == round(statistics.median(today), 1)
