"""L3 alerts to a staff Feishu group: what they say, that they never block or fail the engine."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from adapters.feishu import FeishuAdapter
from app.alerts import FeishuAlerts, alert_text
from app.store.database import create_engine, session_factory
from app.store.tables import Base, Conversation, Message

STAFF_CHAT = "oc_staff_group_0001"
LAST = "我要打12315投诉你们，电话13812345678，地址上海市徐汇区漕溪北路88号"


def conversation(**fields) -> Conversation:
    values = {"id": "c0ffee", "channel": "wechat_mp", "account": "shop", "customer_id": "oUpF8uMuAJO", "customer": {}}
    return Conversation(**{**values, **fields})


def test_alert_names_customer_channel_reason_and_masked_last_message():
    text = alert_text(
        conversation(customer={"name": "小明"}), LAST, ["risk:threat: 12315"], console_url="https://kefu.test"
    )
    assert text.splitlines() == [
        "【L3 升级】客户需要主管立即处理",
        "客户：小明（oUpF8uMuAJO）",
        "渠道：公众号 · shop",
        "原因：投诉/曝光威胁 12315",
        "最后消息：我要打12315投诉你们，电话138****5678，<地址>",
        "会话：c0ffee",
        "控制台：https://kefu.test/console",
    ]


def test_alert_without_name_console_or_reasons_still_reads():
    text = alert_text(conversation(channel="telegram"), None, [], console_url=None)
    assert "客户：oUpF8uMuAJO" in text and "渠道：Telegram · shop" in text
    assert "原因：未记录" in text and "最后消息：（无）" in text and "控制台" not in text


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    factory = session_factory(engine)
    async with factory.begin() as session:
        session.add(conversation(state="queued", level="L3"))
        await session.flush()
        for number, text in enumerate(["你好", LAST]):
            session.add(
                Message(
                    channel="wechat_mp",
                    account="shop",
                    customer_id="oUpF8uMuAJO",
                    conversation_id="c0ffee",
                    direction="in",
                    sender="customer",
                    platform_message_id=f"m{number}",
                    text=text,
                )
            )
    yield factory
    await engine.dispose()


class FakeFeishu:
    """The token and IM endpoints; `statuses` answer the IM posts in order, then 200."""

    def __init__(self, *statuses: int) -> None:
        self.posts: list[dict] = []
        self._statuses = list(statuses)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/tenant_access_token/internal"):
            return httpx.Response(200, json={"code": 0, "tenant_access_token": "t-1", "expire": 7200})
        status = self._statuses.pop(0) if self._statuses else 200
        if status != 200:
            return httpx.Response(status, json={"code": 99991400, "msg": "busy"})
        self.posts.append(json.loads(request.content))
        return httpx.Response(200, json={"code": 0, "msg": "success"})


def alerts(sessions, feishu: FakeFeishu) -> FeishuAlerts:
    client = httpx.AsyncClient(transport=httpx.MockTransport(feishu))
    adapter = FeishuAdapter(
        account="ops", app_id="cli_ops", app_secret="s", verification_token="v", encrypt_key=None, client=client
    )
    return FeishuAlerts(sessions, adapter, STAFF_CHAT, retry_delays=(0, 0))


async def test_l3_alert_posts_the_masked_text_to_the_staff_group(sessions):
    feishu = FakeFeishu()
    hub = alerts(sessions, feishu)

    hub.publish(
        {"type": "l3_alert", "conversation_id": "c0ffee", "queue": "supervisor", "reasons": ["risk:threat: 12315"]}
    )
    await hub.drain(5)

    [post] = feishu.posts
    assert post["receive_id"] == STAFF_CHAT and post["msg_type"] == "text"
    text = json.loads(post["content"])["text"]
    assert "138****5678" in text and "13812345678" not in text and "漕溪北路" not in text
    assert "原因：投诉/曝光威胁 12315" in text


async def test_other_supervisor_events_are_not_alerts(sessions):
    feishu = FakeFeishu()
    hub = alerts(sessions, feishu)

    hub.publish({"type": "assigned", "conversation_id": "c0ffee", "agent_id": "a1", "queue": "supervisor"})
    await hub.drain(5)

    assert feishu.posts == []


async def test_a_busy_feishu_is_retried(sessions):
    feishu = FakeFeishu(429, 500)
    hub = alerts(sessions, feishu)

    hub.publish({"type": "l3_alert", "conversation_id": "c0ffee", "reasons": []})
    await hub.drain(5)

    assert len(feishu.posts) == 1


async def test_a_failed_alert_is_logged_and_never_raised(sessions, caplog):
    hub = alerts(sessions, FakeFeishu(500, 500, 500))

    with caplog.at_level(logging.ERROR, logger="app.alerts"):
        hub.publish({"type": "l3_alert", "conversation_id": "c0ffee", "reasons": []})  # returns at once
        await hub.drain(5)

    assert "L3 alert for conversation c0ffee not posted to Feishu" in caplog.text
