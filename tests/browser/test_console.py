"""Agents work handed-off chats in the /console page of a real kefu, in a real browser."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import httpx
from playwright.sync_api import expect

from tests.e2e.conftest import post_signed, query
from tests.utils.kefu_process import KEFU, KefuProcess
from tests.utils.signing import web_message

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def add_agent(kefu: KefuProcess, username: str, *options: str) -> str:
    """`kefu agents add …` against the running kefu's database; returns the token it prints once."""
    result = subprocess.run(
        [*KEFU, "agents", "add", username, *options],
        cwd=kefu.workdir,
        env=kefu._environ(),
        check=True,
        capture_output=True,
        text=True,
    )
    return re.search(r"token \(shown once, keep it safe\): (kfa_\S+)", result.stdout).group(1)


def wait_for_status(kefu: KefuProcess, token: str, status: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {token}"}
    while httpx.get(f"{kefu.url}/api/agents/me", headers=headers).json()["status"] != status:
        assert time.monotonic() < deadline, f"the agent never went {status}"
        time.sleep(0.1)


def log_in(page, kefu: KefuProcess, token: str) -> None:
    page.goto(f"{kefu.url}/console")
    page.fill("#token", token)
    page.click("#login")


def test_an_agent_answers_and_closes_an_angry_customers_chat(kefu, callback, database, browser):
    token = add_agent(kefu, "zhangsan", "--name", "张三", "--skills", "presale,complaints", "--capacity", "3")
    page = browser.new_page(viewport={"width": 1366, "height": 800})

    log_in(page, kefu, "kfa_not-a-real-token")
    expect(page.locator("#login-error")).to_have_text("登录失败")
    page.fill("#token", token)
    page.click("#login")
    expect(page.locator("#agent-name")).to_have_text("张三")
    expect(page.locator("#tab-queues")).to_be_hidden()
    page.select_option("#presence", "online")
    wait_for_status(kefu, token, "online")

    # The bot answers a first question, then the customer gets angry and is handed off (L2 complaints).
    assert post_signed(kefu.url, web_message("请问什么时候发货", customer_id="c-angry")).status_code == 200
    callback.wait_for(lambda got: any(b["sender"] == "bot" for b in got))
    body = web_message("你们这什么垃圾服务！！！", customer_id="c-angry", customer={"name": "李女士"})
    assert post_signed(kefu.url, body).status_code == 200

    chat = page.locator(".chat-item")
    expect(chat).to_have_count(1, timeout=15_000)
    expect(chat.locator(".badge-angry")).to_have_text("生气")
    expect(chat.locator(".tag-L2")).to_have_text("L2")
    expect(chat.locator(".chat-name")).to_have_text("李女士")
    expect(chat.locator(".unread")).to_be_visible()
    expect(chat.locator(".wait")).to_have_text(re.compile(r"^00:0[1-9]$"))  # counts up every second

    chat.click()
    expect(chat.locator(".unread")).to_have_count(0)
    expect(page.locator("#context")).to_contain_text("情绪：生气")
    expect(page.locator("#context")).to_contain_text("垃圾")
    expect(page.locator("#transcript .msg-bot").first).to_contain_text("48小时")
    expect(page.locator("#transcript .msg-bot .label").first).to_contain_text("机器人")
    expect(page.locator("#transcript .msg-customer").nth(1)).to_contain_text("你们这什么垃圾服务！！！")
    expect(page.locator("#transcript .msg-system").first).to_contain_text("投诉专席")

    page.fill("#reply", "非常抱歉给您添麻烦了，我马上帮您处理。")
    page.locator("#reply").press("Enter")
    callback.wait_for(lambda got: any(b["sender"] == "agent" for b in got))
    expect(page.locator("#transcript .msg-agent")).to_contain_text("马上帮您处理")
    expect(page.locator("#reply")).to_have_value("")

    page.locator("#reply").press_sequentially("/so")  # 快捷回复 by shortcut; Enter picks, does not send
    expect(page.locator(".canned")).to_have_count(1)
    page.locator("#reply").press("Enter")
    expect(page.locator("#reply")).to_have_value(re.compile("^非常抱歉给您带来不好的体验，李女士"))
    page.fill("#reply", "")

    assert post_signed(kefu.url, web_message("快点给我处理", customer_id="c-angry")).status_code == 200
    expect(page.locator("#transcript .msg-customer").last).to_contain_text("快点给我处理")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console.png"))
    page.set_viewport_size({"width": 1024, "height": 640})  # a small laptop
    page.screenshot(path=str(ARTIFACTS / "console-laptop.png"))

    page.select_option("#disposition", "服务态度")
    page.click("#close")
    expect(page.locator(".chat-item")).to_have_count(0)
    expect(page.locator("#transcript")).to_be_hidden()
    assert query(database, "SELECT state, disposition FROM conversations") == [("closed", "服务态度")]


def test_a_supervisor_watches_the_queues(kefu, callback, browser):
    token = add_agent(kefu, "wangzhuguan", "--name", "王主管", "--skills", "supervisor", "--role", "supervisor")
    body = web_message("你们这什么垃圾服务！！！", customer_id="c-waiting")
    assert post_signed(kefu.url, body).status_code == 200
    callback.wait_for(lambda got: len(got) >= 1)  # queued: the empathy notice (then a place-in-line notice)

    page = browser.new_page(viewport={"width": 1280, "height": 720})
    log_in(page, kefu, token)
    expect(page.locator("#agent-name")).to_have_text("王主管")
    page.click("#tab-queues")

    rows = page.locator("#queues tbody tr")
    expect(rows).to_have_count(7)
    complaints = rows.filter(has_text="投诉专席")
    expect(complaints.locator("td").nth(2)).to_have_text("1")
    expect(complaints).to_have_class("busy")
    page.screenshot(path=str(ARTIFACTS / "console-queues.png"))
