"""Webhook rate limits end to end: a flooding customer or address gets 429, everyone else is served."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.e2e.conftest import post_signed, query
from tests.utils.kefu_process import KefuProcess
from tests.utils.signing import web_message


def test_a_flooding_customer_is_refused_while_others_are_answered(
    kefu_factory: Callable[..., KefuProcess], callback, database
):
    kefu = kefu_factory(KEFU_LIMITS__PER_CUSTOMER="3/minute")
    kefu.migrate()
    kefu.start()

    flood = [post_signed(kefu.url, web_message("在吗", customer_id="flood", message_id=f"f-{n}")) for n in range(5)]
    other = post_signed(kefu.url, web_message("什么时候发货", customer_id="calm", message_id="c-1"))

    assert [r.status_code for r in flood] == [200, 200, 200, 429, 429]
    assert 1 <= int(flood[-1].headers["retry-after"]) <= 60
    assert "customer" in flood[-1].json()["detail"]
    assert other.status_code == 200
    callback.wait_for(lambda got: any(b["customer_id"] == "calm" for b in got))
    stored = query(database, "SELECT platform_message_id FROM messages WHERE direction = 'in' ORDER BY id")
    assert [m for (m,) in stored] == ["f-0", "f-1", "f-2", "c-1"], "a refused message is not stored: it is retried"


def test_an_address_over_its_limit_is_refused_before_the_signature_is_checked(kefu_factory: Callable[..., KefuProcess]):
    kefu = kefu_factory(KEFU_LIMITS__PER_IP="4/minute")
    kefu.migrate()
    kefu.start()

    unsigned = [httpx.post(f"{kefu.url}/webhooks/web", content=b"{}", timeout=10) for _ in range(6)]

    assert [r.status_code for r in unsigned] == [401, 401, 401, 401, 429, 429]
    assert "ip" in unsigned[-1].json()["detail"]
