"""Hostile customer text in the agents' /console, in a real browser: shown literally, never run as markup."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from tests.browser.test_console import add_agent, log_in, wait_for_status
from tests.e2e.conftest import post_signed
from tests.utils.signing import web_message

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CUSTOMER = "c-hostile"
HOSTILE = [
    '<img src=x onerror="window.__pwned=1">',
    "<script>window.__pwned=1</script>",
    '<a href="javascript:window.__pwned=1">查看订单</a> javascript:window.__pwned=1',
    '</div><svg onload="window.__pwned=1"><div x="',
    "\u202e" + "شحن الطلب" + "\u200b\u200d\u2066" * 300 + "订单\u200f" + "ا" * 500,  # RTL override, zero-width
    '转人工 <iframe srcdoc="<script>parent.__pwned=1</script>"></iframe>',
]
HOSTILE_NAME = '<img src=x onerror="window.__pwned=1">李女士'
HOSTILE_ID = 'm"]</div><img src=x onerror=window.__pwned=1>'  # a shop-chosen message id, used in a CSS selector
INJECTED = "#transcript img, #transcript script, #transcript svg, #transcript iframe, #transcript a, #chats img"


def test_hostile_customer_text_is_shown_literally_and_never_runs(kefu, callback, browser):
    token = add_agent(kefu, "xss", "--name", "安全员", "--skills", "presale,complaints,order,aftersale")
    page = browser.new_page(viewport={"width": 1366, "height": 800})
    page.on("dialog", lambda dialog: dialog.dismiss())
    log_in(page, kefu, token)
    expect(page.locator("#agent-name")).to_have_text("安全员")
    page.select_option("#presence", "online")
    wait_for_status(kefu, token, "online")

    customer = {"name": HOSTILE_NAME, "tags": ["<b>vip</b>"]}
    for n, text in enumerate(HOSTILE):
        message_id = HOSTILE_ID if n == 0 else f"x-{n}"
        body = web_message(text, customer_id=CUSTOMER, message_id=message_id, customer=customer)
        assert post_signed(kefu.url, body).status_code == 200

    chat = page.locator(".chat-item")
    expect(chat).to_have_count(1, timeout=15_000)
    expect(chat.locator(".chat-name")).to_have_text(HOSTILE_NAME)
    chat.click()
    expect(page.locator("#chat-title")).to_have_text(HOSTILE_NAME)
    bubbles = page.locator("#transcript .msg-customer .bubble")
    expect(bubbles).to_have_count(len(HOSTILE))
    assert bubbles.evaluate_all("nodes => nodes.map(n => n.textContent)") == HOSTILE

    # one more, arriving live over the agents' event socket while the chat is open
    live = '<img src=x onerror="window.__pwned=2">实时'
    assert post_signed(kefu.url, web_message(live, customer_id=CUSTOMER, message_id="x-live")).status_code == 200
    expect(bubbles).to_have_count(len(HOSTILE) + 1)
    expect(bubbles.last).to_have_text(live)

    page.wait_for_timeout(500)  # an onerror or onload would have fired by now
    assert page.evaluate("window.__pwned") is None
    assert page.locator(INJECTED).count() == 0
    assert page.evaluate("[...document.scripts].filter(s => s.textContent.includes('__pwned')).length") == 0
    assert page.evaluate("document.querySelectorAll('[onerror], [onload], [srcdoc]').length") == 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console_xss.png"))
