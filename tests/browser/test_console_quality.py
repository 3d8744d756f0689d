"""A supervisor draws the 质检抽检 sample in the /console page, reads a closed chat and scores it."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import httpx
from playwright.sync_api import expect

from tests.browser.test_console import ARTIFACTS, add_agent, log_in
from tests.e2e.conftest import post_signed, query
from tests.utils.kefu_process import KefuProcess
from tests.utils.signing import web_message

HOSTILE = '<img src=x onerror="window.__pwned=1">还没发货'


def serve_one_chat(kefu: KefuProcess, token: str, customer_id: str) -> str:
    """The agent goes online, is assigned the angry customer's chat, answers and closes it; its id."""
    agent = httpx.Client(base_url=kefu.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    agent.put("/api/agents/me/status", json={"status": "online"}).raise_for_status()
    assert post_signed(kefu.url, web_message(HOSTILE, customer_id=customer_id)).status_code == 200
    assert post_signed(kefu.url, web_message("你们这什么垃圾服务！！！", customer_id=customer_id)).status_code == 200
    deadline = time.monotonic() + 15
    while not (chats := agent.get("/api/agents/me/conversations").json()):
        assert time.monotonic() < deadline, "the chat was never assigned"
        time.sleep(0.1)
    chat = chats[0]["id"]
    agent.post(f"/api/conversations/{chat}/messages", json={"text": "非常抱歉，马上为您加急处理"}).raise_for_status()
    agent.post(f"/api/conversations/{chat}/close", json={"disposition": "物流"}).raise_for_status()
    return chat


def test_a_supervisor_scores_a_sampled_chat(kefu, callback, database, browser):
    agent_token = add_agent(kefu, "zhangsan", "--name", "张三", "--skills", "presale,complaints")
    boss_token = add_agent(kefu, "wangzhuguan", "--name", "王主管", "--skills", "supervisor", "--role", "supervisor")
    chat = serve_one_chat(kefu, agent_token, "c-quality")
    today = datetime.now(timezone(timedelta(hours=8))).date().isoformat()  # China time

    page = browser.new_page(viewport={"width": 1366, "height": 800})
    log_in(page, kefu, boss_token)
    expect(page.locator("#agent-name")).to_have_text("王主管")
    page.click("#tab-quality")
    expect(page.locator("#quality")).to_be_visible()
    expect(page.locator("#quality-empty")).to_be_visible()  # yesterday, the default, had no chats
    page.fill("#quality-date", today)
    page.click("#quality-load")

    item = page.locator("#quality-list .chat-item")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("张三")
    expect(item).to_contain_text("物流")
    item.click()
    bubbles = page.locator("#quality-transcript .msg-customer .bubble")
    expect(bubbles.first).to_have_text(HOSTILE)  # shown literally
    expect(page.locator("#quality-transcript .msg-agent")).to_contain_text("马上为您加急处理")
    page.select_option("#score-politeness", "5")
    page.select_option("#score-accuracy", "4")
    page.click("#quality-submit")  # resolution not chosen yet: the form refuses
    assert query(database, "SELECT COUNT(*) FROM quality_reviews") == [(0,)]
    page.select_option("#score-resolution", "3")
    page.fill("#quality-comment", "道歉及时，但没有给出发货时间")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-quality.png"))
    page.click("#quality-submit")

    expect(page.locator(".toast")).to_have_text("评分已提交")
    expect(item).to_have_count(0)
    expect(page.locator("#quality-form")).to_be_hidden()
    rows = query(database, "SELECT conversation_id, politeness, accuracy, resolution, comment FROM quality_reviews")
    assert rows == [(chat, 5, 4, 3, "道歉及时，但没有给出发货时间")]
    assert page.evaluate("window.__pwned") is None
