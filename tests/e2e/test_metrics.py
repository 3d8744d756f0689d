"""/metrics after scripted conversations: every figure counts what happened, and nothing else."""

from __future__ import annotations

import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import post_signed
from tests.utils.signing import web_message


def scrape(kefu) -> dict[tuple[str, tuple], float]:
    text = httpx.get(f"{kefu.url}/metrics", timeout=10).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def agent_api(kefu, token: str, method: str, path: str, **kwargs) -> httpx.Response:
    return httpx.request(
        method, f"{kefu.url}{path}", headers={"authorization": f"Bearer {token}"}, timeout=10, **kwargs
    )


def test_scripted_conversations_are_counted(kefu, callback):
    post_signed(kefu.url, web_message("什么时候发货", customer_id="a", message_id="m-1"))
    post_signed(kefu.url, web_message("你们老板是谁", customer_id="b", message_id="m-2"))
    post_signed(kefu.url, web_message("你们这什么垃圾服务！！！", customer_id="c", message_id="m-3"))
    post_signed(kefu.url, web_message("什么时候发货", customer_id="a", message_id="m-1"))  # a platform retry
    callback.wait_for(lambda got: {b["customer_id"] for b in got} == {"a", "b", "c"})

    waiting = scrape(kefu)
    assert value(waiting, "kefu_messages_in_total", channel="web") == 3, "a retried message is counted once"
    assert value(waiting, "kefu_faq_outcomes_total", decision="answer") == 1
    assert value(waiting, "kefu_faq_answers_total", entry="shipping_time") == 1
    assert value(waiting, "kefu_handoffs_total", reason="emotion:angry", queue="complaints", level="L2") == 1
    assert value(waiting, "kefu_queue_length", queue="complaints") == 1
    assert (
        value(waiting, "kefu_http_request_seconds_count", route="/webhooks/{channel}", method="POST", status="200") == 4
    )

    token = kefu.add_agent("lisi", skills="complaints")
    assert agent_api(kefu, token, "PUT", "/api/agents/me/status", json={"status": "online"}).status_code == 200
    deadline = time.monotonic() + 10
    while not (mine := agent_api(kefu, token, "GET", "/api/agents/me/conversations").json()):
        assert time.monotonic() < deadline, "the angry customer was never assigned"
        time.sleep(0.05)
    conversation_id = mine[0]["id"]
    agent_api(kefu, token, "POST", f"/api/conversations/{conversation_id}/messages", json={"text": "您好，我来处理"})
    agent_api(kefu, token, "POST", f"/api/conversations/{conversation_id}/close", json={"disposition": "服务态度"})
    post_signed(kefu.url, web_message("5", customer_id="c", message_id="m-4"))
    callback.wait_for(lambda got: any("感谢您的评价" in b["text"] for b in got))

    served = scrape(kefu)
    assert value(served, "kefu_queue_wait_seconds_count", queue="complaints") == 1
    assert value(served, "kefu_first_response_seconds_count", queue="complaints") == 1
    assert value(served, "kefu_resolution_seconds_count") == 1
    assert value(served, "kefu_satisfaction_total", score="5") == 1
    assert value(served, "kefu_queue_length", queue="complaints") == 0
    assert value(served, "kefu_messages_out_total", channel="web", sender="agent") == 1
    assert value(served, "kefu_outbox_backlog") == 0
