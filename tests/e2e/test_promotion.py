"""Promotion mode end to end: `kefu promo` edits the rules, the live service follows, waiting customers hear."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.api.promotion import BROADCAST_PAGE
from app.settings import DEFAULT_RULES_FILE
from tests.e2e.conftest import post_signed, query
from tests.utils.signing import web_message
from tests.utils.waiting import wait_until

OPS_TOKEN = "e2e-ops-token-0123456789abcdef"
BANNER = "双十一期间咨询量大，回复可能稍慢，感谢耐心～"


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    """The shipped rules with wait notices every second and the 留言 offer from a one-minute wait."""
    text = DEFAULT_RULES_FILE.read_text(encoding="utf-8")
    for old, new in [
        ("  wait_notice_minutes: 5\n", "  wait_notice_minutes: 1\n"),
        ("  notice_minutes: 2 ", "  notice_minutes: 0.02 "),
        ("  callback_offer_minutes: 20 ", "  callback_offer_minutes: 1 "),
    ]:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def kefu(kefu_factory, rules):
    process = kefu_factory(KEFU_RULES_FILE=str(rules), KEFU_OPS__TOKEN=OPS_TOKEN)
    process.migrate()
    return process.start()


def ops(kefu, method: str, path: str, **kwargs) -> httpx.Response:
    headers = {"Authorization": f"Bearer {OPS_TOKEN}"}
    return httpx.request(method, f"{kefu.url}/api/ops{path}", headers=headers, timeout=10, **kwargs)


def test_promo_on_puts_the_banner_first_and_offers_waiting_customers_to_leave_a_message(
    kefu, rules, callback, database
):
    before = rules.read_text(encoding="utf-8")
    kefu.cli("promo", "on", "--rules", str(rules), "--banner", BANNER)

    after = rules.read_text(encoding="utf-8")
    assert "# 大促模式" in after, "the ops' comments survive the switch"
    assert len(after.splitlines()) == len(before.splitlines())
    wait_until(lambda: ops(kefu, "GET", "/promotion").json()["enabled"], "the service took promo mode live")

    assert post_signed(kefu.url, web_message("什么时候发货", customer_id="a", message_id="a-1")).status_code == 200
    first, answer = callback.wait_for(lambda got: len(got) >= 2)[:2]
    assert first["text"] == BANNER and "48小时" in answer["text"]

    agent = kefu.add_agent("busy", skills="order", capacity=1)
    headers = {"Authorization": f"Bearer {agent}"}
    httpx.put(f"{kefu.url}/api/agents/me/status", json={"status": "online"}, headers=headers).raise_for_status()
    post_signed(kefu.url, web_message("我想改订单的颜色", customer_id="x", message_id="x-1"))  # takes the only seat
    seated = "SELECT state FROM conversations WHERE customer_id = 'x'"
    wait_until(lambda: query(database, seated) == [("with_agent",)], "the agent took the first chat")
    post_signed(kefu.url, web_message("我想改订单的颜色", customer_id="b", message_id="b-1"))
    notices = callback.wait_for(lambda got: any("回复「留言」" in b["text"] for b in got if b["customer_id"] == "b"))
    offer = next(b["text"] for b in notices if b["customer_id"] == "b" and "回复「留言」" in b["text"])
    assert offer.startswith("您是下一位，预计等待约"), "the wait passed callback_offer_minutes: ETA, then the offer"
    post_signed(kefu.url, web_message("留言", customer_id="b", message_id="b-2"))
    callback.wait_for(lambda got: any("已为您登记留言" in b["text"] for b in got))
    assert query(database, "SELECT ticket FROM conversations WHERE customer_id = 'b'") == [(1,)]

    kefu.cli("promo", "off", "--rules", str(rules))
    wait_until(lambda: not ops(kefu, "GET", "/promotion").json()["enabled"], "promo mode went off")


def test_a_broadcast_reaches_everyone_waiting_and_no_one_else(kefu, callback):
    post_signed(kefu.url, web_message("我想改订单的颜色", customer_id="w1", message_id="w1-1"))
    post_signed(kefu.url, web_message("转人工", customer_id="w2", message_id="w2-1"))
    post_signed(kefu.url, web_message("什么时候发货", customer_id="bot-only", message_id="o-1"))
    callback.wait_for(lambda got: {b["customer_id"] for b in got} >= {"w1", "w2", "bot-only"})

    sent = ops(kefu, "POST", "/broadcast", json={"text": "系统正在紧急修复，预计30分钟内恢复"})

    assert sent.status_code == 200 and sent.json() == {"sent": 2}
    got = callback.wait_for(lambda got: sum("紧急修复" in b["text"] for b in got) == 2)
    assert {b["customer_id"] for b in got if "紧急修复" in b["text"]} == {"w1", "w2"}
    assert kefu.cli("promo", "broadcast", "预计10分钟内恢复", "--queue", "order", "--url", kefu.url).strip() == (
        "sent to 1 waiting customers"
    )
    got = callback.wait_for(lambda got: any("10分钟内恢复" in b["text"] for b in got))
    assert [b["customer_id"] for b in got if "10分钟内恢复" in b["text"]] == ["w1"]
    assert ops(kefu, "POST", "/broadcast", json={"text": "x", "queue": "nope"}).status_code == 422
    assert httpx.post(f"{kefu.url}/api/ops/broadcast", json={"text": "x"}, timeout=10).status_code == 401


def test_a_broadcast_to_a_line_longer_than_a_page_reaches_each_customer_once(kefu, callback, database):
    customers = [f"q{n}" for n in range(BROADCAST_PAGE + 5)]
    for customer in customers:
        post_signed(kefu.url, web_message("转人工", customer_id=customer, message_id=f"{customer}-1"))
    waiting = "SELECT count(*) FROM conversations WHERE state = 'queued'"
    wait_until(lambda: query(database, waiting) == [(len(customers),)], "everyone waits for a person")

    sent = ops(kefu, "POST", "/broadcast", json={"text": "系统正在紧急修复"})

    assert sent.json() == {"sent": len(customers)}
    got = callback.wait_for(lambda got: sum("紧急修复" in b["text"] for b in got) >= len(customers))
    assert sorted(b["customer_id"] for b in got if "紧急修复" in b["text"]) == sorted(customers)
