"""质检抽检 and the daily report over HTTP, in-process: roles, the reproducible sample, review validation."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from app.agents import create_agent
from app.main import create_app
from app.settings import Settings
from app.store.database import create_engine, session_factory
from app.store.migrate import upgrade
from tests.utils.databases import query
from tests.utils.store_rows import conversation, reply, turn

OPS_TOKEN = "ops-test-token-0123456789abcdef"
DAY = date(2024, 5, 12)
CHINA = ZoneInfo("Asia/Shanghai")
HOSTILE = "<img src=x onerror=alert(1)>"


def at(hour: int, minute: int = 0, *, days: int = 0) -> datetime:
    return datetime(2024, 5, 12, hour, minute, tzinfo=CHINA) + timedelta(days=days)


async def _fill(url: str) -> dict:
    """Agents zhang (5 chats closed on DAY), li (2 on DAY, 1 the day before, 1 still open); boss and ops review."""
    engine = create_engine(url)
    ids: dict = {"zhang": [], "li": []}
    async with session_factory(engine).begin() as s:
        tokens = {}
        for username, role in (("zhang", "agent"), ("li", "agent"), ("boss", "supervisor"), ("ops", "ops")):
            agent, tokens[username] = await create_agent(
                s, username=username, name=username.upper(), skills=[], capacity=5, role=role
            )
            ids[f"{username}_id"] = agent.id
        for username, count in (("zhang", 5), ("li", 2)):
            for n in range(count):
                chat = conversation(
                    s, f"{username}-{n}", agent_id=ids[f"{username}_id"], created_at=at(9 + n), closed_at=at(10 + n)
                )
                message = turn(s, chat, f"{HOSTILE} 第{n}个问题", at(9 + n))
                reply(s, chat, message, sender="agent", text="您好，已为您处理")
                ids[username].append(chat.id)
        li = ids["li_id"]
        ids["yesterday"] = conversation(
            s, "li-old", agent_id=li, created_at=at(9, days=-1), closed_at=at(10, days=-1)
        ).id
        ids["open"] = conversation(s, "li-open", agent_id=li, state="with_agent", created_at=at(11)).id
    await engine.dispose()
    return {**ids, "tokens": tokens}


@pytest.fixture
def setup(database_url: str):
    upgrade(database_url)
    ids = asyncio.run(_fill(database_url))
    settings = Settings(env="test", database_url=database_url, ops={"token": OPS_TOKEN})
    with TestClient(create_app(settings)) as client:
        yield client, ids, database_url


def auth(ids: dict, username: str) -> dict:
    return {"Authorization": f"Bearer {ids['tokens'][username]}"}


def sample(client, ids, username="boss", **params) -> list[str]:
    response = client.get("/api/quality/sample", params={"date": "2024-05-12", **params}, headers=auth(ids, username))
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["conversations"]]


def score(ids: dict, chat: str, agent: str = "zhang", **scores) -> dict:
    return {
        "conversation_id": chat,
        "agent_id": ids[f"{agent}_id"],
        "politeness": 5,
        "accuracy": 4,
        "resolution": 3,
    } | scores


def test_only_supervisors_and_ops_sample_and_review(setup):
    client, ids, _ = setup
    chat = ids["zhang"][0]

    for method, path, body in (
        ("GET", "/api/quality/sample?date=2024-05-12", None),
        ("GET", "/api/quality/reviews", None),
        ("POST", "/api/quality/reviews", score(ids, chat)),
    ):
        denied = client.request(method, path, json=body, headers=auth(ids, "zhang"))
        assert (denied.status_code, denied.json()["detail"]) == (403, "supervisors and ops only"), path
        assert client.request(method, path, json=body).status_code == 401, path
    assert client.post("/api/quality/reviews", json=score(ids, chat), headers=auth(ids, "ops")).status_code == 201


def test_the_sample_is_reproducible_per_agent_with_transcripts(setup):
    client, ids, _ = setup

    first = sample(client, ids, per_agent=3)
    assert sample(client, ids, "ops", per_agent=3) == first  # the same for every reviewer and call
    assert len(first) == 5 and set(ids["li"]) <= set(first)  # 3 of zhang's 5, both of li's
    zhangs = [c for c in first if c in ids["zhang"]]
    larger = [c for c in sample(client, ids, per_agent=5) if c in ids["zhang"]]
    assert len(larger) == 5 and larger[:3] == zhangs  # a larger sample starts the same
    detail = client.get("/api/quality/sample?date=2024-05-12", headers=auth(ids, "boss")).json()["conversations"][0]
    assert detail["agent"]["username"] in ("li", "zhang") and detail["closed_at"].startswith("2024-05-")
    assert [m["sender"] for m in detail["transcript"]] == ["customer", "agent"]
    assert detail["transcript"][0]["text"].startswith(HOSTILE)  # as stored: the console renders it as text


def test_the_sample_keeps_to_the_day_and_shrinks_as_chats_are_reviewed(setup):
    client, ids, _ = setup
    first = sample(client, ids, per_agent=2)
    assert ids["yesterday"] not in first and ids["open"] not in first
    assert sample(client, ids, date="2024-05-11") == [ids["yesterday"]]

    reviewed = next(c for c in first if c in ids["zhang"])
    assert client.post("/api/quality/reviews", json=score(ids, reviewed), headers=auth(ids, "boss")).status_code == 201

    assert sample(client, ids, per_agent=2) == [c for c in first if c != reviewed]  # not refilled
    bad = client.get("/api/quality/sample", params={"date": "12/05/2024"}, headers=auth(ids, "boss"))
    assert bad.status_code == 422
    assert client.get("/api/quality/sample?per_agent=0", headers=auth(ids, "boss")).status_code == 422


def test_a_review_is_validated_and_stored_once_per_reviewer(setup):
    client, ids, database = setup
    chat, boss = ids["zhang"][0], auth(ids, "boss")

    def post(body, headers=boss):
        response = client.post("/api/quality/reviews", json=body, headers=headers)
        return response.status_code, response.json().get("detail")

    assert post(score(ids, chat, politeness=0))[0] == 422
    assert post(score(ids, chat, resolution=6))[0] == 422
    assert post(score(ids, chat, comment="a\x00b"))[0] == 422
    assert post(score(ids, "nope")) == (404, "conversation not found")
    assert post(score(ids, ids["open"], agent="li")) == (422, "only closed conversations are reviewed")
    assert post(score(ids, chat, agent="li")) == (422, "this agent did not handle the conversation")

    created = client.post("/api/quality/reviews", json=score(ids, chat, comment="语气很好"), headers=boss)
    assert created.status_code == 201
    assert created.json()["reviewer"]["username"] == "boss" and created.json()["agent"]["username"] == "zhang"
    assert post(score(ids, chat)) == (409, "you reviewed this conversation already")
    assert post(score(ids, chat), auth(ids, "ops"))[0] == 201  # a second reviewer may score it too
    assert query(database, "SELECT politeness, accuracy, resolution, comment FROM quality_reviews ORDER BY id") == [
        (5, 4, 3, "语气很好"),
        (5, 4, 3, ""),
    ]


def test_reviews_are_listed_newest_first(setup):
    client, ids, _ = setup
    for chat in ids["zhang"][:2]:
        client.post("/api/quality/reviews", json=score(ids, chat), headers=auth(ids, "boss"))

    listed = client.get("/api/quality/reviews?since=7d", headers=auth(ids, "ops")).json()["reviews"]

    assert [r["conversation_id"] for r in listed] == [ids["zhang"][1], ids["zhang"][0]]
    assert (listed[0]["politeness"], listed[0]["agent"]["name"], listed[0]["reviewer"]["name"]) == (5, "ZHANG", "BOSS")
    assert client.get("/api/quality/reviews?since=1h", headers=auth(ids, "boss")).json()["reviews"] != []
    bad = client.get("/api/quality/reviews?since=ever", headers=auth(ids, "boss"))
    assert (bad.status_code, bad.json()["detail"]) == (422, "since must look like 24h or 7d, not 'ever'")


def test_the_daily_report_as_json_and_as_a_page_behind_the_ops_token(setup):
    client, ids, _ = setup
    client.post("/api/quality/reviews", json=score(ids, ids["zhang"][0]), headers=auth(ids, "boss"))
    ops = {"Authorization": f"Bearer {OPS_TOKEN}"}

    for path in ("/api/ops/reports/daily", "/ops/reports/daily"):
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401, path
    report = client.get("/api/ops/reports/daily?date=2024-05-12", headers=ops).json()
    assert report["date"] == "2024-05-12"
    assert report["satisfaction"]["count"] == 0 and report["complaints"]["by_level"] == {"L1": 0, "L2": 0, "L3": 0}
    zhang = next(a for a in report["agents"] if a["username"] == "zhang")
    assert (zhang["closed"], zhang["reviews"]["count"], zhang["reviews"]["overall"]) == (5, 1, 4.0)
    page = client.get("/ops/reports/daily", params={"date": "2024-05-12"}, headers=ops)
    assert page.headers["content-type"].startswith("text/html")
    assert "客服日报 2024-05-12" in page.text and "ZHANG" in page.text
    assert client.get("/api/ops/reports/daily?date=yesterday", headers=ops).status_code == 422
    far = client.get("/api/ops/reports/daily?date=0001-01-01", headers=ops)
    assert (far.status_code, far.json()["detail"]) == (422, "date must be between 2000-01-01 and 2999-12-31")
