"""The web channel end to end: signed messages in over HTTP, signed answers out to a real callback."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from tests.e2e.conftest import SECRET, post_signed, query
from tests.utils.signing import signed_headers, web_message
from tests.utils.waiting import wait_until


def replies_to(delivered: list[dict], message_id: str) -> list[dict]:
    return [body for body in delivered if body.get("in_reply_to") == message_id]


def test_faq_question_is_answered_through_the_signed_callback(kefu, callback):
    body = web_message("什么时候发货呀", customer_id="alice", message_id="m-1")

    response = post_signed(kefu.url, body)

    assert response.status_code == 200
    assert response.json() == {"status": "accepted"}
    [reply] = callback.wait_for(lambda got: len(got) == 1)
    assert reply["sender"] == "bot"
    assert reply["customer_id"] == "alice"
    assert reply["in_reply_to"] == "m-1"
    assert "48小时" in reply["text"]
    assert reply["conversation_id"] and reply["message_id"]
    assert all(attempt.signed for attempt in callback.attempts)


def test_bot_answer_records_the_faq_entry_and_score(kefu, callback, database):
    post_signed(kefu.url, web_message("能开发票吗", message_id="m-inv"))
    callback.wait_for(lambda got: len(got) == 1)

    [(faq_id, score, meta)] = query(
        database, "SELECT faq_id, faq_score, CAST(meta AS TEXT) FROM messages WHERE direction = 'out'"
    )
    assert faq_id == "invoice"
    assert 0.35 <= score <= 1
    evidence = json.loads(meta)
    assert evidence["action"] == "answer" and evidence["intent"]["name"] == "invoice"
    assert evidence["faq"]["candidates"][0] == {"id": "invoice", "score": score, "question": "能开发票吗"}
    [(reading,)] = query(database, "SELECT CAST(meta AS TEXT) FROM messages WHERE direction = 'in'")
    assert json.loads(reading)["reading"]["label"] == "calm"


def test_same_message_id_twice_is_answered_once(kefu, callback):
    body = web_message("运费险怎么理赔", message_id="m-dup")

    first = post_signed(kefu.url, body)
    second = post_signed(kefu.url, body)

    assert first.json() == {"status": "accepted"}
    assert second.json() == {"status": "duplicate"}
    callback.wait_for(lambda got: len(got) >= 1)
    time.sleep(0.5)
    assert len(replies_to(callback.delivered, "m-dup")) == 1


async def test_concurrent_copies_of_one_message_are_answered_once(kefu, callback):
    body = web_message("七天无理由退货吗", message_id="m-race")

    async with httpx.AsyncClient() as client:
        responses = await asyncio.gather(
            *(
                client.post(f"{kefu.url}/webhooks/web", content=body, headers=signed_headers(SECRET, body))
                for _ in range(20)
            )
        )

    statuses = sorted(r.json()["status"] for r in responses)
    assert statuses == ["accepted"] + ["duplicate"] * 19
    callback.wait_for(lambda got: len(got) >= 1)
    time.sleep(0.5)
    assert len(replies_to(callback.delivered, "m-race")) == 1


@pytest.mark.parametrize(
    ("make_request", "status", "reason"),
    [
        pytest.param(
            lambda body: signed_headers("not-the-secret", body), 401, "signature does not match", id="bad-signature"
        ),
        pytest.param(
            lambda body: signed_headers(SECRET, body, timestamp=int(time.time()) - 301), 401, "off", id="stale"
        ),
        pytest.param(lambda body: {"content-type": "application/json"}, 401, "missing", id="unsigned"),
    ],
)
def test_unauthenticated_requests_are_refused_and_not_stored(kefu, callback, database, make_request, status, reason):
    body = web_message("什么时候发货")

    response = httpx.post(f"{kefu.url}/webhooks/web", content=body, headers=make_request(body))

    assert response.status_code == status
    assert reason in response.json()["detail"]
    assert query(database, "SELECT count(*) FROM messages") == [(0,)]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        pytest.param(b'{"message_id": "m", "customer_id": "c"}', 422, "text", id="missing-text"),
        pytest.param(b"{not json", 422, "JSON", id="not-json"),
        pytest.param(b'{"message_id": "m", "customer_id": "c", "text": 5}', 422, "text", id="wrong-type"),
        pytest.param(web_message("货" * 4001), 413, "4001 characters", id="text-too-long"),
        pytest.param(web_message("x", padding="p" * 70_000), 413, "limit 65536", id="body-too-large"),
    ],
)
def test_malformed_or_oversized_bodies_are_refused_and_not_stored(kefu, callback, database, body, status, field):
    response = post_signed(kefu.url, body)

    assert response.status_code == status
    assert field in response.json()["detail"]
    assert query(database, "SELECT count(*) FROM messages") == [(0,)]
    time.sleep(0.3)
    assert callback.attempts == []


def test_callback_failing_three_times_then_succeeding_delivers_exactly_once(kefu, callback):
    callback.failures.extend([500, 500, 500])

    post_signed(kefu.url, web_message("支持花呗分期吗", message_id="m-retry"))

    callback.wait_for(lambda got: len(got) == 1)
    time.sleep(0.5)
    assert [attempt.status for attempt in callback.attempts] == [500, 500, 500, 200]
    assert len({a.body["message_id"] for a in callback.attempts}) == 1, "every retry carries the same message_id"
    assert len(callback.delivered) == 1


def test_rate_limited_callback_is_retried_after_retry_after(kefu, callback):
    callback.failures.append(429)

    post_signed(kefu.url, web_message("在吗", message_id="m-429"))

    callback.wait_for(lambda got: len(got) == 1)
    assert [attempt.status for attempt in callback.attempts] == [429, 200]


def test_a_reply_behind_a_failing_one_waits_with_it_then_follows_it(kefu_factory, callback, database):
    """Stored behind a reply in backoff, a reply takes that reply's next try, moves with it when it
    fails again, and goes once it is delivered: the outbox's scans never walk past a backlog of them."""
    kefu = kefu_factory(KEFU_OUTBOX__BASE_DELAY_SECONDS="1")
    kefu.migrate()
    kefu.start()
    callback.failures.extend([503, 503])
    rows = "SELECT attempts, next_attempt_at FROM outbox ORDER BY id"

    post_signed(kefu.url, web_message("什么时候发货", customer_id="c", message_id="m-1"))
    wait_until(lambda: [attempts for attempts, _ in query(database, rows)] == [1], "the first reply failed once")
    post_signed(kefu.url, web_message("能开发票吗", customer_id="c", message_id="m-2"))
    wait_until(lambda: len(query(database, rows)) == 2, "the second reply was stored")
    (_, first_try), (attempts, second_try) = query(database, rows)
    assert attempts == 0 and second_try == first_try, "born waiting for the first reply's next try"
    wait_until(lambda: query(database, rows)[0][0] == 2, "the first reply failed again")
    (_, first_try), (_, second_try) = query(database, rows)
    assert second_try == first_try, "moved with it"

    delivered = callback.wait_for(lambda got: len(got) == 2)
    assert [body["in_reply_to"] for body in delivered] == ["m-1", "m-2"]
    assert [attempt.status for attempt in callback.attempts] == [503, 503, 200, 200]


def test_messages_of_one_conversation_are_answered_in_arrival_order(kefu, callback):
    questions = ["什么时候发货", "能开发票吗", "七天无理由退货吗", "运费险怎么赔", "支持花呗吗"]
    customers = [f"order-{n}" for n in range(8)]

    async def one_customer(client: httpx.AsyncClient, customer: str) -> None:
        for n, text in enumerate(questions):
            body = web_message(text, customer_id=customer, message_id=f"{customer}-{n}")
            response = await client.post(f"{kefu.url}/webhooks/web", content=body, headers=signed_headers(SECRET, body))
            assert response.status_code == 200

    async def all_customers() -> None:
        async with httpx.AsyncClient() as client:
            await asyncio.gather(*(one_customer(client, c) for c in customers))

    asyncio.run(all_customers())

    delivered = callback.wait_for(lambda got: len(got) == len(customers) * len(questions), timeout=30)
    for customer in customers:
        order = [body["in_reply_to"] for body in delivered if body["customer_id"] == customer]
        assert order == [f"{customer}-{n}" for n in range(len(questions))]


def test_asking_for_a_person_queues_the_conversation_and_silences_the_bot(kefu, callback, database):
    post_signed(kefu.url, web_message("转人工", customer_id="bob", message_id="h-1"))
    [notice] = callback.wait_for(lambda got: len(got) == 1)

    post_signed(kefu.url, web_message("什么时候发货", customer_id="bob", message_id="h-2"))
    time.sleep(0.5)

    assert notice["sender"] == "system"
    assert "人工" in notice["text"]
    assert len(callback.delivered) == 1, "the bot stays silent while the customer waits for a person"
    assert query(database, "SELECT state, queue, level FROM conversations") == [("queued", "presale", "L1")]
    transitions = query(database, "SELECT from_state, to_state, reason FROM state_transitions ORDER BY id")
    assert transitions == [(None, "bot", "customer wrote first"), ("bot", "queued", "human_request: 转人工")]
    assert query(database, "SELECT count(*) FROM messages WHERE processed_at IS NULL") == [(0,)]


def test_customer_profile_from_the_webhook_is_kept_on_the_conversation(kefu, callback, database):
    body = web_message("在吗", message_id="vip-1", customer={"name": "王女士", "vip": True, "tags": ["老客户"]})
    post_signed(kefu.url, body)
    callback.wait_for(lambda got: len(got) == 1)

    [(customer,)] = query(database, "SELECT CAST(customer AS TEXT) FROM conversations")
    assert json.loads(customer) == {"name": "王女士", "vip": True, "tags": ["老客户"]}
