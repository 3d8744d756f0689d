"""A customer opens /chat in a real browser, asks a question and reads the bot's answer."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_customer_chats_with_the_bot_in_the_browser(kefu, browser):
    page = browser.new_page(viewport={"width": 390, "height": 740})
    page.goto(f"{kefu.url}/chat")
    expect(page.locator("#status")).to_have_text("在线")
    expect(page.locator(".greeting")).to_be_visible()

    page.fill("#input", "请问什么时候发货")
    page.click("#send")

    expect(page.locator(".msg-customer")).to_have_count(1)
    expect(page.locator(".msg-bot:not(.greeting)").last).to_contain_text("48小时")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat.png"))

    page.reload()
    expect(page.locator("#status")).to_have_text("在线")
    expect(page.locator(".msg-customer").first).to_contain_text("请问什么时候发货")
    expect(page.locator(".msg-bot:not(.greeting)").first).to_contain_text("48小时")


def test_asking_for_a_person_shows_the_system_notice(kefu, browser):
    page = browser.new_page()
    page.goto(f"{kefu.url}/chat")
    expect(page.locator("#status")).to_have_text("在线")

    page.fill("#input", "转人工")
    page.locator("#input").press("Enter")

    expect(page.locator(".msg-system", has_text="人工客服")).to_have_count(1)
