"""Ops read the /ops dashboard of a real kefu whose store holds real conversations, in a real browser."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import post_signed
from tests.utils.kefu_process import KefuProcess
from tests.utils.signing import web_message

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
OPS_TOKEN = "ops-test-token-0123456789abcdef"
HOSTILE = "<img src=x onerror=alert(1)>"
UNANSWERABLE = ["实体店在哪里", "你们有实体店吗", "有没有实体店"]


@pytest.fixture
def ops_kefu(kefu_factory) -> KefuProcess:
    process = kefu_factory(KEFU_OPS__TOKEN=OPS_TOKEN)
    process.migrate()
    return process.start()


def agent_api(kefu: KefuProcess, token: str, method: str, path: str, **kwargs) -> httpx.Response:
    response = httpx.request(method, f"{kefu.url}{path}", headers={"Authorization": f"Bearer {token}"}, **kwargs)
    assert response.status_code == 200, response.text
    return response


def script_a_day(kefu: KefuProcess, callback) -> None:
    """2 FAQ answers, 4 questions the FAQ cannot answer, an angry customer served, closed and rated 5."""
    token = kefu.add_agent("zhangsan", skills="complaints")
    agent_api(kefu, token, "PUT", "/api/agents/me/status", json={"status": "online"})
    texts = ["什么时候发货", "能开发票吗", *UNANSWERABLE, HOSTILE]
    for number, text in enumerate(texts):
        assert post_signed(kefu.url, web_message(text, customer_id=f"c-{number}")).status_code == 200
    callback.wait_for(lambda got: len({b["customer_id"] for b in got}) == len(texts))

    assert post_signed(kefu.url, web_message("你们这什么垃圾服务！！！", customer_id="c-angry")).status_code == 200
    conversation_id = wait_for_assignment(kefu, token)
    path = f"/api/conversations/{conversation_id}"
    agent_api(kefu, token, "POST", f"{path}/messages", json={"text": "非常抱歉，我来处理"})
    agent_api(kefu, token, "POST", f"{path}/close", json={"disposition": "服务态度"})
    body = web_message("5", customer_id="c-angry", message_id="rating")
    assert post_signed(kefu.url, body).status_code == 200
    callback.wait_for(lambda got: any(b.get("in_reply_to") == "rating" for b in got))


def wait_for_assignment(kefu: KefuProcess, token: str, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while not (chats := agent_api(kefu, token, "GET", "/api/agents/me/conversations").json()):
        assert time.monotonic() < deadline, "the angry customer was never assigned"
        time.sleep(0.1)
    return chats[0]["id"]


def test_ops_see_todays_figures_and_the_questions_the_bot_could_not_answer(ops_kefu, callback, browser):
    script_a_day(ops_kefu, callback)
    page = browser.new_page(viewport={"width": 1440, "height": 1100})
    page.on("dialog", lambda dialog: pytest.fail(f"a customer's text ran as code: {dialog.message}"))

    page.goto(f"{ops_kefu.url}/ops")
    page.fill("#token", "not-the-token")
    page.click("#login")
    expect(page.locator("#login-error")).to_have_text("登录失败")
    page.fill("#token", OPS_TOKEN)
    page.click("#login")

    # 8 customer messages (the rating too); 7 decided by the bot, 2 answered from the FAQ.
    expect(page.locator("#tile-messages .value")).to_have_text("8")
    expect(page.locator("#tile-answer-rate .value")).to_have_text("28.6%")
    expect(page.locator("#tile-answer-rate .sub")).to_have_text("FAQ 答复 2 / 7")
    expect(page.locator("#tile-handoffs .value")).to_have_text("1")
    expect(page.locator("#tile-wait .value")).to_have_text(re.compile(r"^\d+秒$"))
    expect(page.locator("#tile-first-response .value")).to_have_text("100%")
    expect(page.locator("#tile-satisfaction .value")).to_have_text("5.0 分")
    expect(page.locator("#chart-reasons")).to_contain_text("情绪：生气")
    expect(page.locator("#chart-reasons")).to_contain_text("按队列：投诉专席 1")
    expect(page.locator("#chart-volume svg rect")).to_have_count(1)  # all in this hour
    expect(page.locator("#chart-first-response .target")).to_have_count(1)
    expect(page.locator("#queue-rows tr")).to_have_count(7)

    gaps = page.locator("#gaps .gap")
    expect(gaps).to_have_count(2)
    expect(gaps.first.locator(".count")).to_contain_text("3")
    expect(gaps.first.locator(".example")).to_have_count(3)
    expect(gaps.first).to_contain_text("实体店")
    hostile = gaps.nth(1).locator(".example")
    expect(hostile).to_have_text(HOSTILE)  # shown as text …
    expect(page.locator("#gaps img")).to_have_count(0)  # … never as markup

    gaps.first.get_by_role("button", name="试问").click()
    expect(gaps.first.locator(".trial")).to_contain_text("现在仍无法回答")
    with page.expect_download() as download:
        page.click("#export-csv")
    assert download.value.suggested_filename.startswith("unanswered-since-")

    page.click("#range-7d")
    expect(page.locator("#chart-volume svg rect")).to_have_count(1)
    ARTIFACTS.mkdir(exist_ok=True)
    page.click("#range-24h")
    expect(page.locator("#chart-volume svg text.axis").last).to_have_text(re.compile(r"^\d\d:00$"))
    page.screenshot(path=str(ARTIFACTS / "ops_dashboard.png"), full_page=True)

    page.reload()  # the token is kept for the tab's session
    expect(page.locator("#tile-messages .value")).to_have_text("8")
