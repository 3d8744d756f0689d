"""Two kefu instances on one PostgreSQL and one Redis: work is shared, nothing is done twice or lost.

Runs under `make test-pg` (PostgreSQL); each test starts its own Redis server, so it can restart it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterator

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.e2e.conftest import SECRET, query
from tests.utils.redis_server import RedisServer
from tests.utils.signing import signed_headers, web_message

QUESTIONS = ["什么时候发货", "能开发票吗", "七天无理由退货吗", "运费险怎么理赔", "发什么快递"]


@pytest.fixture
def redis_server(database: str) -> Iterator[RedisServer]:
    if not database.startswith("postgresql"):
        pytest.skip("several instances share PostgreSQL: run with `make test-pg`")
    server = RedisServer().start()
    yield server
    server.close()


@pytest.fixture
def instances(kefu_factory, redis_server):
    """Two instances; the survivor takes over unprocessed work within a second, leases expire quickly."""
    env = {
        "KEFU_REDIS_URL": redis_server.url,
        "KEFU_ENGINE__SWEEP_SECONDS": "0.5",
        "KEFU_OUTBOX__SEND_TIMEOUT_SECONDS": "2",
    }
    first = kefu_factory(**env)
    first.migrate()
    first.start()
    return first, kefu_factory(**env).start()


async def send(client: httpx.AsyncClient, url: str, body: bytes) -> int:
    try:
        response = await client.post(f"{url}/webhooks/web", content=body, headers=signed_headers(SECRET, body))
    except httpx.TransportError:
        return 0  # that instance is gone: not accepted, so a platform would retry elsewhere
    return response.status_code


def sent_order(customers: int, per_customer: int) -> dict[str, list[str]]:
    return {f"s{c}": [f"s{c}-{n}" for n in range(per_customer)] for c in range(customers)}


async def converse(urls: list[str], order: dict[str, list[str]]) -> dict[str, int]:
    """Each customer sends in turn, alternating instances; customers in parallel."""
    statuses: dict[str, int] = {}

    async def customer(name: str, ids: list[str], client: httpx.AsyncClient) -> None:
        for n, message_id in enumerate(ids):
            body = web_message(QUESTIONS[n % len(QUESTIONS)], customer_id=name, message_id=message_id)
            statuses[message_id] = await send(client, urls[n % len(urls)], body)

    async with httpx.AsyncClient(timeout=10) as client:
        await asyncio.gather(*(customer(name, ids, client) for name, ids in order.items()))
    return statuses


def replies_by_customer(database: str) -> dict[str, list[str]]:
    rows = query(database, "SELECT customer_id, in_reply_to FROM messages WHERE direction = 'out' ORDER BY id")
    found: dict[str, list[str]] = defaultdict(list)
    for customer, in_reply_to in rows:
        found[customer].append(in_reply_to)
    return found


def test_two_instances_answer_every_message_once_and_in_order(instances, callback, database):
    a, b = instances
    order = sent_order(customers=20, per_customer=6)

    statuses = asyncio.run(converse([a.url, b.url], order))

    assert set(statuses.values()) == {200}
    callback.wait_for(lambda got: len({d["in_reply_to"] for d in got}) == 120, timeout=60)
    assert replies_by_customer(database) == order, "one reply per message, in each customer's order"
    deliveries = Counter(d["message_id"] for d in callback.delivered)
    assert set(deliveries.values()) == {1}, "no reply was sent by both instances"


async def test_an_agent_on_one_instance_gets_a_handoff_that_arrived_at_the_other(instances, callback):
    a, b = instances
    token = a.add_agent("wangwu", skills="complaints")
    url = a.url.replace("http://", "ws://") + f"/api/agents/me/events?token={token}"
    async with connect(url) as websocket:
        headers = {"authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(headers=headers, timeout=10) as client:
            assert (await client.put(f"{a.url}/api/agents/me/status", json={"status": "online"})).status_code == 200
            body = web_message("你们这什么垃圾服务！！！", customer_id="angry", message_id="x-1")
            assert await send(client, b.url, body) == 200
            while (event := json.loads(await asyncio.wait_for(websocket.recv(), 10)))["type"] != "assigned":
                pass
            reply = {"text": "您好，我来处理"}
            posted = await client.post(f"{b.url}/api/conversations/{event['conversation_id']}/messages", json=reply)
    assert posted.status_code == 200, "the conversation is served from either instance"
    await asyncio.to_thread(callback.wait_for, lambda got: any(d["sender"] == "agent" for d in got))


def test_kill_one_of_two_instances_under_load_loses_nothing_and_repeats_nothing(instances, callback, database):
    a, b = instances
    order = sent_order(customers=30, per_customer=5)

    async def load_then_kill() -> dict[str, int]:
        sending = asyncio.create_task(converse([a.url, b.url], order))
        await asyncio.sleep(0.3)
        await asyncio.to_thread(b.kill)
        return await sending

    statuses = asyncio.run(load_then_kill())
    accepted = {m for m, status in statuses.items() if status == 200}
    assert len(accepted) > 75, "most messages reached an instance"

    callback.wait_for(lambda got: {d["in_reply_to"] for d in got} >= accepted, timeout=60)
    replies = Counter(r for rs in replies_by_customer(database).values() for r in rs)
    stored = {row[0] for row in query(database, "SELECT platform_message_id FROM messages WHERE direction = 'in'")}
    assert accepted <= set(replies) == stored, "every stored message answered (some were stored as b died, unacked)"
    assert set(replies.values()) == {1}, "and answered once"
    sent_replies = {row[0] for row in query(database, "SELECT public_id FROM messages WHERE direction = 'out'")}
    assert {d["message_id"] for d in callback.delivered} == sent_replies
    duplicates = sum(Counter(d["message_id"] for d in callback.delivered).values()) - len(sent_replies)
    print(f"sent {len(statuses)}, accepted {len(accepted)}, answered {len(replies)}, duplicates {duplicates}, lost 0")


def test_a_redis_restart_under_load_loses_nothing_and_repeats_nothing(instances, redis_server, callback, database):
    a, b = instances
    order = sent_order(customers=20, per_customer=5)

    async def load_through_a_restart() -> dict[str, int]:
        sending = asyncio.create_task(converse([a.url, b.url], order))
        await asyncio.sleep(0.2)
        await asyncio.to_thread(redis_server.restart, 1.0)
        return await sending

    statuses = asyncio.run(load_through_a_restart())

    assert set(statuses.values()) == {200}, "the webhooks never depended on Redis"
    callback.wait_for(lambda got: len({d["in_reply_to"] for d in got}) == 100, timeout=60)
    assert replies_by_customer(database) == order
    assert set(Counter(d["message_id"] for d in callback.delivered).values()) == {1}
    deadline = time.monotonic() + 10
    while httpx.get(f"{a.url}/readyz", timeout=5).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)
