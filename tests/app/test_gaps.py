"""Unanswered questions: which messages count, how they group, and the spreadsheets ops download."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import openpyxl
import pytest

from app.gaps import cluster, find_gaps, parse_since, reader_for
from app.gaps_export import to_csv, to_xlsx
from app.settings import SAMPLE_FAQ_DIR
from app.store.database import create_engine, session_factory
from app.store.migrate import upgrade
from faq.loader import load_knowledge_base
from tests.utils.store_rows import conversation, turn

NOW = datetime(2024, 5, 12, 6, 30, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def ago(minutes: int) -> datetime:
    return NOW - timedelta(minutes=minutes)


@pytest.fixture(scope="module")
def read():
    return reader_for(load_knowledge_base(SAMPLE_FAQ_DIR))


@pytest.fixture
def migrated(database_url: str) -> str:
    upgrade(database_url)
    return database_url


@pytest.fixture
async def sessions(migrated: str) -> AsyncIterator:
    engine = create_engine(migrated)
    yield session_factory(engine)
    await engine.dispose()


def test_questions_on_one_topic_group_together(read):
    messages = [
        ("实体店在哪里", ago(50)),
        ("你们有实体店吗", ago(40)),
        ("实体店在哪里", ago(30)),
        ("能用数字人民币付款吗", ago(20)),
        ("数字人民币能用吗", ago(10)),
        ("可以寄到火星吗", ago(5)),
    ]

    gaps = cluster(messages, read)

    assert [(g.count, g.examples) for g in gaps] == [
        (3, ("实体店在哪里", "你们有实体店吗")),
        (2, ("能用数字人民币付款吗", "数字人民币能用吗")),
        (1, ("可以寄到火星吗",)),
    ]
    assert (gaps[0].first_seen, gaps[0].last_seen) == (ago(50), ago(30))
    assert gaps[0].terms == ("实体店",)


def test_near_identical_texts_without_terms_group_by_spelling():
    no_terms = reader_for(None)  # no FAQ loaded: only the spelling can group
    messages = [("？？？在吗在吗", ago(3)), ("???在吗在吗", ago(2)), ("hello", ago(1))]

    assert [g.count for g in cluster(messages, no_terms)] == [2, 1]


def test_examples_are_masked_and_at_most_three(read):
    phone = "我手机13812345678收不到验证码"
    texts = [phone, "收不到验证码", "验证码收不到啊", "验证码一直收不到", phone]

    (gap,) = cluster([(t, ago(n)) for n, t in enumerate(texts)], read, secrets=("s3cret",))

    assert gap.count == 5
    assert len(gap.examples) == 3
    assert "138****5678" in gap.examples[0] and "13812345678" not in gap.examples[0]


async def test_only_questions_the_faq_could_not_answer_are_gaps(sessions, read):
    async with sessions.begin() as s:
        turn(s, conversation(s, "a"), "实体店在哪里", ago(50), action="clarify", reasons=("faq:none: …",))
        picked = conversation(s, "b")
        turn(s, picked, "退款要多久", ago(40), action="suggest", reasons=("faq:suggest: refund_card",))
        turn(s, picked, "1", ago(39), action="answer", reasons=("picked suggestion",), faq_id="refund_card")
        ignored = conversation(s, "c")
        turn(s, ignored, "数字人民币能用吗", ago(30), action="suggest", reasons=("faq:suggest: payment_methods",))
        unresolved = ("unresolved_turns: 2 bot turns in a row did not help",)
        turn(s, ignored, "能不能用数字人民币", ago(29), action="handoff", reasons=unresolved, handoff=("presale", "L1"))
        angry, complaints = ("emotion:angry: 垃圾",), ("complaints", "L2")
        turn(s, conversation(s, "d"), "垃圾服务", ago(20), action="handoff", reasons=angry, handoff=complaints)
        turn(s, conversation(s, "e"), "什么时候发货", ago(10), action="answer", reasons=("faq:answer",), faq_id="x")
        turn(s, conversation(s, "f"), "实体店几点关门", ago(60 * 25), action="clarify", reasons=("faq:none",))
        last = ("faq:suggest: shipping_area",)  # suggestions with no message after them: none was picked
        turn(s, conversation(s, "g"), "可以寄到火星吗", ago(5), action="suggest", reasons=last)

    async with sessions() as session:
        gaps = await find_gaps(session, NOW - timedelta(hours=24), NOW, read)

    assert [(g.count, g.examples) for g in gaps] == [
        (2, ("数字人民币能用吗", "能不能用数字人民币")),
        (1, ("可以寄到火星吗",)),
        (1, ("实体店在哪里",)),
    ]


def test_since_reads_minutes_hours_days_and_weeks():
    assert parse_since("24h") == timedelta(hours=24)
    assert parse_since(" 7d ") == timedelta(days=7)
    assert (parse_since("30m"), parse_since("2w")) == (timedelta(minutes=30), timedelta(weeks=2))
    for bad in ("7", "0d", "1y", "-3d", "400d", "60w"):
        with pytest.raises(ValueError):
            parse_since(bad)


def test_spreadsheets_never_run_a_customers_formula(read):
    gaps = cluster([('=HYPERLINK("http://x")', ago(1)), ("实体店在哪里", ago(2))], read)

    rows = list(csv.reader(io.StringIO(to_csv(gaps).decode("utf-8-sig"))))
    assert rows[0][:2] == ["次数", "示例1"]
    assert rows[1][1] == '\'=HYPERLINK("http://x")'

    sheet = openpyxl.load_workbook(io.BytesIO(to_xlsx(gaps))).active
    assert sheet.title == "未解决问题"
    cell = sheet["B2"]
    assert (cell.value, cell.data_type) == ('=HYPERLINK("http://x")', "s")
    assert sheet["F2"].value == "2024-05-12 14:29"  # China time


async def test_kefu_faq_gaps_prints_the_groups_and_writes_the_sheets(sessions, migrated, tmp_path):
    now = datetime.now(UTC)
    async with sessions.begin() as s:
        for n, text in enumerate(["实体店在哪里", "你们有实体店吗", "我的电话13812345678，有实体店吗"]):
            turn(s, conversation(s, f"c{n}"), text, now - timedelta(hours=n), action="clarify", reasons=("faq:none",))
        turn(s, conversation(s, "old"), "能分期吗", now - timedelta(days=3), action="clarify", reasons=("faq:none",))

    def gaps(*args: str):
        return run_kefu("faq", "gaps", *args, cwd=tmp_path, KEFU_DATABASE_URL=migrated)

    listed = await gaps("--since", "2d")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0].startswith("3 unanswered messages in 1 groups since ")
    assert "138****5678" in listed.stdout and "13812345678" not in listed.stdout

    week = await gaps("--since", "7d", "--json", "--csv", "gaps.csv", "--xlsx", "gaps.xlsx")
    assert [group["count"] for group in json.loads(week.stdout)] == [3, 1]
    assert "能分期吗" in (tmp_path / "gaps.csv").read_bytes().decode("utf-8-sig")
    assert openpyxl.load_workbook(tmp_path / "gaps.xlsx").active["A2"].value == 3

    wrong = await gaps("--since", "a while")
    assert wrong.returncode == 2 and "since must look like 24h or 7d" in wrong.stderr


async def run_kefu(*args: str, cwd, **env: str) -> subprocess.CompletedProcess:
    """`kefu …` in a process of its own, off the event loop (the command runs its own)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    command = [sys.executable, "-m", "app", *args]
    run = partial(subprocess.run, command, cwd=cwd, capture_output=True, text=True)
    return await asyncio.to_thread(run, env={**environ, "PYTHONPATH": str(ROOT), **env})
