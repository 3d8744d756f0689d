"""The ops dashboard's API in-process: the token, the figures, the gaps and their downloads, the page."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from app.main import create_app
from app.ops_stats import SharedFigures, read_stats
from app.settings import Settings
from app.store.database import create_engine, session_factory
from app.store.migrate import upgrade
from app.store.tables import utcnow
from tests.utils.store_rows import conversation, turn

TOKEN = "ops-test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HOSTILE = "<img src=x onerror=alert(1)>"


async def _fill(url: str) -> None:
    now = utcnow()
    engine = create_engine(url)
    async with session_factory(engine).begin() as s:
        turn(s, conversation(s, "a"), "什么时候发货", now - timedelta(seconds=4), action="answer", faq_id="ship")
        for n, text in enumerate(["实体店在哪里", "你们有实体店吗", HOSTILE]):
            turn(s, conversation(s, f"c{n}"), text, now - timedelta(seconds=3 - n), action="clarify")
    await engine.dispose()


@pytest.fixture
def client(database_url: str):
    upgrade(database_url)
    asyncio.run(_fill(database_url))
    settings = Settings(env="test", database_url=database_url, ops={"token": TOKEN})
    with TestClient(create_app(settings)) as client:
        yield client


def test_the_ops_api_needs_the_ops_token(client):
    for path in ("/api/ops/stats", "/api/ops/gaps", "/api/ops/gaps.csv", "/api/ops/gaps.xlsx", "/api/ops/queues"):
        response = client.get(path, headers={"Authorization": "Bearer wrong"})
        assert response.status_code == 401, path
        assert response.json()["detail"] == "ops token missing or wrong"


def test_stats_count_the_stored_messages(client):
    figures = client.get("/api/ops/stats", params={"range": "24h"}, headers=AUTH).json()

    assert (figures["totals"]["messages"], figures["totals"]["answered"]) == (4, 1)
    assert figures["totals"]["answer_rate"] == 0.25
    assert len(figures["buckets"]) == 24
    assert len(client.get("/api/ops/stats?range=7d", headers=AUTH).json()["buckets"]) == 7
    assert client.get("/api/ops/stats?range=1y", headers=AUTH).status_code == 422


def test_gaps_come_grouped_and_download_as_csv_and_excel(client):
    gaps = client.get("/api/ops/gaps", params={"since": "24h"}, headers=AUTH).json()

    assert gaps["messages"] == 3
    assert [(c["count"], c["examples"]) for c in gaps["clusters"]] == [
        (2, ["实体店在哪里", "你们有实体店吗"]),
        (1, [HOSTILE]),
    ]
    csv = client.get("/api/ops/gaps.csv?since=24h", headers=AUTH)
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv.headers["content-disposition"].startswith('attachment; filename="unanswered-since-')
    assert "实体店在哪里" in csv.content.decode("utf-8-sig")
    xlsx = client.get("/api/ops/gaps.xlsx?since=24h", headers=AUTH)
    assert openpyxl.load_workbook(io.BytesIO(xlsx.content)).active["B2"].value == "实体店在哪里"
    bad = client.get("/api/ops/gaps?since=forever", headers=AUTH)
    assert (bad.status_code, bad.json()["detail"]) == (422, "since must look like 24h or 7d, not 'forever'")


def test_the_page_and_the_live_queues(client):
    page = client.get("/ops")
    assert page.status_code == 200 and "运营看板" in page.text

    queues = client.get("/api/ops/queues", headers=AUTH).json()
    assert {q["id"] for q in queues} >= {"presale", "complaints"}
    assert all(q["waiting"] == 0 for q in queues)


class Reads:
    """The SELECTs a database engine runs, counted as its driver sees them."""

    def __init__(self, engine) -> None:
        self.count = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, *args) -> None:
        self.count += 1


async def test_pages_asking_together_share_one_reading(database_url: str):
    await asyncio.to_thread(upgrade, database_url)
    await _fill(database_url)
    engine = create_engine(database_url)
    reads = Reads(engine)
    await read_stats_once(engine)
    one_reading, reads.count = reads.count, 0

    figures = SharedFigures(session_factory(engine), seconds=30)
    answers = await asyncio.gather(*(figures.read("24h") for _ in range(5)))

    assert reads.count == one_reading
    assert all(a == answers[0] for a in answers) and answers[0]["totals"]["messages"] == 4
    await engine.dispose()


async def test_figures_are_read_again_once_older_than_the_setting(database_url: str):
    await asyncio.to_thread(upgrade, database_url)
    await _fill(database_url)
    engine = create_engine(database_url)
    shared, fresh = SharedFigures(session_factory(engine), seconds=0.5), SharedFigures(session_factory(engine), 0)
    assert (await shared.read("24h"))["totals"]["messages"] == 4

    async with session_factory(engine).begin() as s:
        turn(s, conversation(s, "late"), "能开发票吗", utcnow(), action="answer", faq_id="invoice")

    assert (await shared.read("24h"))["totals"]["messages"] == 4  # half a second old at most
    assert (await fresh.read("24h"))["totals"]["messages"] == 5
    await asyncio.sleep(0.6)
    assert (await shared.read("24h"))["totals"]["messages"] == 5
    await engine.dispose()


async def read_stats_once(engine) -> None:
    async with session_factory(engine)() as session:
        await read_stats(session, "24h")
