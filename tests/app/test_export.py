"""`kefu export`: conversations the real engine stored, written as masked JSONL transcripts."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from adapters.base import Address
from app.engine.conversations import ConversationEngine, EngineHooks
from app.knowledge import build_knowledge_base, build_routing
from app.privacy import mask
from app.replay import Version, replay, summarise
from app.settings import DEFAULT_RULES_FILE
from app.store.database import create_engine, session_factory
from app.store.tables import Base, Conversation
from app.transcripts import export_transcripts, read_transcripts
from tests.app.test_cli import kefu
from tests.utils.store_rows import unprocessed

FIXTURES = Path(__file__).parent / "fixtures" / "replay"
KB = build_knowledge_base(FIXTURES / "faq_live", {"shop_name": "小店"})
ROUTING = build_routing(DEFAULT_RULES_FILE)
PRIVATE = "身份证110101199003071234，寄到上海市徐汇区漕溪北路88号，电话13987654321，什么时候发货"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(db):
    return session_factory(db)


def ignore(*args: object) -> None:
    """Outbox, assigner, consoles and platform: not part of an export."""


async def converse(db, customer: str, *texts: str) -> None:
    """Each text arrives and the real engine decides and stores it, as in production."""
    hooks = EngineHooks(lambda: KB, lambda: ROUTING, ignore, ignore, ignore, ignore)
    engine, sessions = ConversationEngine(db, hooks), session_factory(db)
    address = Address("web", "default", customer)
    for number, text in enumerate(texts):
        async with sessions.begin() as session:
            unprocessed(session, customer, f"{customer}-{number}", text)
        assert not await engine.process_next(address), "handled, and nothing else waits"


@pytest.fixture
async def store(db, sessions):
    await converse(db, "u-old", "能开发票吗")
    async with sessions.begin() as session:
        await session.execute(update(Conversation).values(created_at=datetime.now(UTC) - timedelta(days=30)))
    await converse(db, "u-ship", PRIVATE, "发什么快递")
    await converse(db, "u-human", "能开发票吗", "转人工", "在吗")
    return sessions


async def exported(sessions, **kwargs) -> list[dict]:
    now = datetime.now(UTC)  # not the module's import time: the suite may reach this test minutes later
    since, until = now - timedelta(days=7), now + timedelta(minutes=1)
    return [t async for t in export_transcripts(sessions, since, until, **kwargs)]


async def test_each_conversation_in_the_window_is_one_object_in_the_documented_format(store):
    ship, _ = await exported(store)

    assert set(ship) == {"conversation_id", "channel", "account", "customer_id", "started_at", "messages", "handoff"}
    assert (ship["channel"], ship["account"], ship["customer_id"]) == ("web", "default", "u-ship")
    assert ship["handoff"] is None
    assert [(m["sender"], m.get("faq_id")) for m in ship["messages"]] == [
        ("customer", None),
        ("bot", "shipping_time"),
        ("customer", None),
        ("bot", "courier_company"),
    ]
    answer = ship["messages"][1]
    assert answer["decision"]["action"] == "answer"
    assert answer["decision"]["reasons"][0].startswith("faq:answer: shipping_time ")
    assert datetime.fromisoformat(answer["at"]) >= datetime.fromisoformat(ship["started_at"])
    assert "decision" not in ship["messages"][0]


async def test_a_handed_off_conversation_carries_its_queue_level_and_reasons(store):
    _, human = await exported(store)

    assert human["handoff"] == {"queue": "presale", "level": "L1", "reasons": ["human_request: 转人工"]}
    assert [m["sender"] for m in human["messages"]] == ["customer", "bot", "customer", "system", "customer", "system"]
    notice = human["messages"][3]["decision"]
    assert notice == {"action": "handoff", "reasons": ["human_request: 转人工"], "queue": "presale"}


async def test_phones_addresses_and_id_numbers_are_masked_unless_raw(store):
    masked_text = (await exported(store))[0]["messages"][0]["text"]
    raw_text = (await exported(store, raw=True))[0]["messages"][0]["text"]

    assert masked_text == "身份证<身份证号>，<地址>，电话139****4321，什么时候发货"
    assert masked_text == mask(PRIVATE)
    assert raw_text == PRIVATE


async def test_replaying_an_export_with_the_version_that_made_it_changes_nothing(store, tmp_path):
    path = tmp_path / "transcripts.jsonl"
    path.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in await exported(store)), "utf-8")

    summary = summarise(replay(read_transcripts(path), Version(KB, ROUTING), Version(KB, ROUTING)))

    assert summary["messages"] == 5 and summary["changed"] == 0
    assert summary["live"]["counts"] == {"answer": 3, "suggest": 0, "clarify": 0, "handoff": 1, "with_person": 1}


async def test_the_command_writes_jsonl_to_a_file_and_counts_on_stderr(store, database_url, tmp_path):
    result = kefu("export", "--since", "7d", "--out", "out.jsonl", cwd=tmp_path, KEFU_DATABASE_URL=database_url)

    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("wrote 2 conversations started")
    lines = (tmp_path / "out.jsonl").read_text("utf-8").splitlines()
    assert [json.loads(line)["customer_id"] for line in lines] == ["u-ship", "u-human"]
    assert "13987654321" not in lines[0] and "139****4321" in lines[0]


def test_a_bad_since_is_refused_with_the_accepted_forms(tmp_path):
    result = kefu("export", "--since", "last week", cwd=tmp_path)

    assert result.returncode == 2
    assert "neither a duration" in result.stderr
