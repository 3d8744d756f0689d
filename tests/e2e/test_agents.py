"""Agents end to end: handoff → assignment over the WebSocket → reply to the customer → close."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from app.settings import DEFAULT_RULES_FILE
from tests.e2e.conftest import post_signed, query
from tests.utils.signing import web_message


def api(kefu, token: str, method: str, path: str, **kwargs) -> httpx.Response:
    return httpx.request(method, f"{kefu.url}{path}", headers={"authorization": f"Bearer {token}"}, **kwargs)


def online(kefu, token: str) -> None:
    assert api(kefu, token, "PUT", "/api/agents/me/status", json={"status": "online"}).status_code == 200


async def next_event(websocket, kind: str) -> dict:
    while True:
        event = json.loads(await asyncio.wait_for(websocket.recv(), timeout=10))
        if event["type"] == kind:
            return event


def events_url(kefu, token: str) -> str:
    return kefu.url.replace("http://", "ws://") + f"/api/agents/me/events?token={token}"


async def test_an_angry_customer_reaches_an_agent_who_replies_and_closes(kefu, callback, database):
    token = kefu.add_agent("zhangsan", skills="complaints")
    async with connect(events_url(kefu, token)) as websocket:
        online(kefu, token)
        post_signed(kefu.url, web_message("你们这什么垃圾服务！！！", customer_id="angry", message_id="a-1"))

        assigned = await next_event(websocket, "assigned")
        conversation_id = assigned["conversation_id"]
        detail = api(kefu, token, "GET", f"/api/conversations/{conversation_id}").json()
        assert detail["level"] == "L2" and detail["emotion"] == "angry"
        assert detail["handoff_reasons"][0].startswith("emotion:angry")
        assert [m["sender"] for m in detail["transcript"]][:2] == ["customer", "system"]
        assert "抱歉" in detail["suggested_replies"][0], "an upset customer gets a calming suggestion first"
        canned = api(kefu, token, "GET", f"/api/conversations/{conversation_id}/canned", params={"q": "/hi"}).json()
        assert canned == [{"shortcut": "hi", "text": "您好亲，我是客服zhangsan，请问有什么可以帮您？"}]

        post_signed(kefu.url, web_message("到底有没有人管？", customer_id="angry", message_id="a-2"))
        assert (await next_event(websocket, "customer_message"))["text"] == "到底有没有人管？"

    reply = api(kefu, token, "POST", f"/api/conversations/{conversation_id}/messages", json={"text": "您好，我来处理"})
    assert reply.status_code == 200
    delivered = await asyncio.to_thread(callback.wait_for, lambda got: any(b["sender"] == "agent" for b in got))
    assert [b["text"] for b in delivered if b["sender"] == "agent"] == ["您好，我来处理"]
    assert not any(b.get("in_reply_to") == "a-2" for b in delivered), "the bot says nothing while a person owns it"

    closed = api(kefu, token, "POST", f"/api/conversations/{conversation_id}/close", json={"disposition": "服务态度"})
    assert closed.status_code == 200
    post_signed(kefu.url, web_message("什么时候发货", customer_id="angry", message_id="a-3"))
    after = await asyncio.to_thread(callback.wait_for, lambda got: any(b.get("in_reply_to") == "a-3" for b in got))
    assert next(b for b in after if b.get("in_reply_to") == "a-3")["sender"] == "bot", "the bot takes over again"
    assert query(database, f"SELECT disposition FROM conversations WHERE id = '{conversation_id}'") == [("服务态度",)]


def test_two_agents_racing_to_claim_one_chat_one_wins(kefu, callback):
    first, second = kefu.add_agent("a1"), kefu.add_agent("a2")
    post_signed(kefu.url, web_message("转人工", customer_id="race", message_id="r-1"))
    callback.wait_for(lambda got: len(got) >= 1)
    conversation_id = _waiting_conversation(kefu)

    async def race() -> list[int]:
        async with httpx.AsyncClient() as client:
            calls = [
                client.post(
                    f"{kefu.url}/api/conversations/{conversation_id}/claim", headers={"authorization": f"Bearer {t}"}
                )
                for t in (first, second)
            ]
            return sorted(r.status_code for r in await asyncio.gather(*calls))

    assert asyncio.run(race()) == [200, 409]


def test_agents_cannot_touch_other_agents_chats_but_supervisors_can(kefu, callback):
    owner, other = kefu.add_agent("owner"), kefu.add_agent("other")
    boss = kefu.add_agent("boss", skills="supervisor", role="supervisor")
    post_signed(kefu.url, web_message("转人工", customer_id="own", message_id="o-1"))
    callback.wait_for(lambda got: len(got) >= 1)
    conversation_id = _waiting_conversation(kefu)
    assert api(kefu, owner, "POST", f"/api/conversations/{conversation_id}/claim").status_code == 200

    assert api(kefu, other, "GET", f"/api/conversations/{conversation_id}").status_code == 403
    path = f"/api/conversations/{conversation_id}/messages"
    assert api(kefu, other, "POST", path, json={"text": "x"}).status_code == 403
    assert api(kefu, boss, "POST", path, json={"text": "主管来了"}).status_code == 200
    assert api(kefu, "kfa_wrong", "GET", "/api/agents/me").status_code == 401
    queues = api(kefu, boss, "GET", "/api/queues").json()
    assert {q["id"] for q in queues} >= {"presale", "complaints", "supervisor"}
    assert api(kefu, owner, "GET", "/api/queues").status_code == 403


def test_close_needs_a_known_disposition(kefu, callback):
    token = kefu.add_agent("closer")
    post_signed(kefu.url, web_message("转人工", customer_id="d", message_id="d-1"))
    callback.wait_for(lambda got: len(got) >= 1)
    conversation_id = _waiting_conversation(kefu)
    api(kefu, token, "POST", f"/api/conversations/{conversation_id}/claim")

    bad = api(kefu, token, "POST", f"/api/conversations/{conversation_id}/close", json={"disposition": "随便"})
    assert bad.status_code == 422 and "物流" in bad.json()["detail"]


@pytest.fixture
def fast_rules(tmp_path: Path) -> Path:
    """Timers in seconds rather than minutes, so the test sees them fire."""
    path = tmp_path / "rules.yaml"
    text = DEFAULT_RULES_FILE.read_text(encoding="utf-8")
    for old, new in [
        ("  no_reply_minutes: 3 ", "  no_reply_minutes: 0.03 "),
        ("  notice_minutes: 2 ", "  notice_minutes: 0.02 "),
        ("  idle_close_minutes: 15 ", "  idle_close_minutes: 0.05 "),
        (
            "skills: [order], level: L1, overflow_to: presale}",
            "skills: [order], level: L1, overflow_to: presale, overflow_after_minutes: 0.03}",
        ),
    ]:
        assert old in text
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def fast_kefu(kefu_factory, fast_rules):
    process = kefu_factory(KEFU_RULES_FILE=str(fast_rules))
    process.migrate()
    return process.start()


def test_with_nobody_online_a_waiting_customer_may_leave_a_message_and_overflow_moves_them_on(
    fast_kefu, callback, database
):
    process = fast_kefu
    post_signed(process.url, web_message("我想改订单的颜色", customer_id="w", message_id="w-1"))

    notices = callback.wait_for(lambda got: any("回复「留言」" in b["text"] for b in got))
    assert not any("预计等待" in b["text"] for b in notices), "no agent is online: an ETA would be a guess"
    post_signed(process.url, web_message("在吗", customer_id="w", message_id="w-ping"))
    pinged = callback.wait_for(lambda got: any(b.get("in_reply_to") == "w-ping" for b in got))
    assert "回复「留言」" in next(b["text"] for b in pinged if b.get("in_reply_to") == "w-ping")
    post_signed(process.url, web_message("留言", customer_id="w", message_id="w-2"))
    booked = callback.wait_for(lambda got: any(b.get("in_reply_to") == "w-2" for b in got))
    assert next(b["text"] for b in booked if b.get("in_reply_to") == "w-2").startswith("已为您登记留言")
    assert [bool(ticket) for (ticket,) in query(database, "SELECT ticket FROM conversations")] == [True]
    deadline = time.monotonic() + 10
    while query(database, "SELECT queue FROM conversations") != [("presale",)]:
        assert time.monotonic() < deadline, "the order queue never overflowed to presale"
        time.sleep(0.1)
    reasons = [r for (r,) in query(database, "SELECT reason FROM state_transitions")]
    assert "overflow from order to presale" in reasons


def test_an_assigned_chat_nobody_answers_is_requeued_and_the_supervisor_alerted(fast_kefu, callback, database):
    process = fast_kefu
    slow = process.add_agent("slow")
    boss = process.add_agent("boss", skills="supervisor", role="supervisor")

    async def scenario() -> dict:
        async with connect(events_url(process, boss)) as websocket:
            online(process, slow)
            post_signed(process.url, web_message("转人工", customer_id="rq", message_id="q-1"))
            await next_event(websocket, "assigned")
            return await next_event(websocket, "requeued")

    alert = asyncio.run(scenario())
    assert alert["queue"] == "presale"
    reasons = [r for (r,) in query(database, "SELECT reason FROM state_transitions ORDER BY id")]
    assert "no agent reply in time: re-queued" in reasons


def _waiting_conversation(kefu) -> str:
    database = kefu.env["KEFU_DATABASE_URL"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if rows := query(database, "SELECT id FROM conversations WHERE state = 'queued'"):
            return rows[0][0]
        time.sleep(0.05)
    raise AssertionError("no conversation is waiting")


async def test_a_returning_customer_is_given_their_last_agent(kefu, callback, database):
    second = kefu.add_agent("second")  # created first: least-busy ties would go to it
    first = kefu.add_agent("first")
    async with connect(events_url(kefu, first)) as websocket:
        online(kefu, first)
        post_signed(kefu.url, web_message("转人工", customer_id="regular", message_id="s-1"))
        conversation_id = (await next_event(websocket, "assigned"))["conversation_id"]
    online(kefu, second)
    api(kefu, first, "POST", f"/api/conversations/{conversation_id}/messages", json={"text": "好的"})
    api(kefu, first, "POST", f"/api/conversations/{conversation_id}/close", json={"disposition": "咨询"})

    async with connect(events_url(kefu, first)) as websocket:
        post_signed(kefu.url, web_message("人工", customer_id="regular", message_id="s-2"))
        again = await next_event(websocket, "assigned")

    assert (
        again["conversation_id"] != conversation_id
        and again["agent_id"] == api(kefu, first, "GET", "/api/agents/me").json()["id"]
    )


def test_a_rating_after_the_close_is_stored_and_an_idle_chat_closes_itself(fast_kefu, callback, database):
    process = fast_kefu
    token = process.add_agent("quick")
    online(process, token)
    post_signed(process.url, web_message("转人工", customer_id="rate", message_id="t-1"))
    callback.wait_for(lambda got: any("客服quick" in b["text"] for b in got))
    conversation_id = _waiting_or_served(database)
    api(process, token, "POST", f"/api/conversations/{conversation_id}/messages", json={"text": "您好"})

    closing = callback.wait_for(lambda got: any("打分" in b["text"] for b in got), timeout=20)
    assert closing[-1]["sender"] == "system"
    post_signed(process.url, web_message("5", customer_id="rate", message_id="t-2"))

    thanks = callback.wait_for(lambda got: any(b.get("in_reply_to") == "t-2" for b in got))
    assert "感谢您的评价" in thanks[-1]["text"]
    assert query(database, "SELECT disposition, satisfaction FROM conversations") == [("超时关闭", 5)]


def _waiting_or_served(database: str) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if rows := query(database, "SELECT id FROM conversations WHERE state = 'with_agent'"):
            return rows[0][0]
        time.sleep(0.05)
    raise AssertionError("no conversation was assigned")


def test_outside_service_hours_the_customer_leaves_a_message_agents_find_as_a_ticket(kefu_factory, tmp_path, callback):
    hour = (datetime.now(UTC).hour + 8) % 24  # now, in shop time
    closed_window = f"{(hour + 2) % 24:02d}:00-{(hour + 3) % 24:02d}:00"
    rules = tmp_path / "closed-rules.yaml"
    text = DEFAULT_RULES_FILE.read_text(encoding="utf-8")
    rules.write_text(text.replace('hours: "00:00-24:00"', f'hours: "{closed_window}"', 1), encoding="utf-8")
    process = kefu_factory(KEFU_RULES_FILE=str(rules))
    process.migrate()
    process.start()
    token = process.add_agent("morning")

    post_signed(process.url, web_message("转人工，我要退货", customer_id="night", message_id="n-1"))

    [notice] = callback.wait_for(lambda got: len(got) == 1)
    assert "留言" in notice["text"] and closed_window in notice["text"]
    tickets = api(process, token, "GET", "/api/queues/tickets").json()
    assert [t["customer"]["id"] for t in tickets] == ["night"]
    assert api(process, token, "GET", "/api/queues/tickets?limit=501").status_code == 422  # at most 500 a call


async def test_supervisors_are_alerted_to_l3_cases_at_once(kefu, callback):
    boss = kefu.add_agent("chief", skills="supervisor", role="supervisor")
    async with connect(events_url(kefu, boss)) as websocket:
        post_signed(kefu.url, web_message("再不退款我就去12315投诉你们", customer_id="l3", message_id="x-1"))
        alert = await next_event(websocket, "l3_alert")
    assert alert["queue"] == "supervisor" and alert["reasons"][0].startswith("risk:threat")
