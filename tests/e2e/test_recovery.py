"""Nothing accepted is lost: kill -9, restarts, outages of the callback, graceful shutdown."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.e2e.conftest import SECRET, post_signed, query
from tests.utils.signing import signed_headers, web_message


def test_message_accepted_then_kefu_killed_is_answered_after_restart(kefu_factory, callback, database):
    ingest_only = kefu_factory(KEFU_ENGINE__WORKERS="0")
    ingest_only.migrate()
    ingest_only.start()
    for n in range(5):
        assert post_signed(
            ingest_only.url, web_message("能开发票吗", customer_id=f"k{n}", message_id=f"k-{n}")
        ).json() == {"status": "accepted"}
    assert query(database, "SELECT count(*) FROM messages WHERE processed_at IS NULL") == [(5,)]

    ingest_only.kill()
    kefu_factory().start()

    delivered = callback.wait_for(lambda got: len(got) == 5)
    assert sorted(body["in_reply_to"] for body in delivered) == [f"k-{n}" for n in range(5)]


def test_kill_under_load_then_restart_answers_every_accepted_message_once(kefu, kefu_factory, callback, database):
    bodies = [web_message("七天无理由退货吗", customer_id=f"load-{n % 20}", message_id=f"load-{n}") for n in range(200)]

    async def send_all() -> list[int]:
        async with httpx.AsyncClient() as client:
            responses = await asyncio.gather(
                *(client.post(f"{kefu.url}/webhooks/web", content=b, headers=signed_headers(SECRET, b)) for b in bodies)
            )
        return [r.status_code for r in responses]

    assert set(asyncio.run(send_all())) == {200}
    kefu.kill()
    kefu_factory().start()

    delivered = callback.wait_for(lambda got: len({b["in_reply_to"] for b in got}) == 200, timeout=60)
    replies_per_message = Counter(
        in_reply_to for (in_reply_to,) in query(database, "SELECT in_reply_to FROM messages WHERE direction = 'out'")
    )
    assert len(replies_per_message) == 200 and set(replies_per_message.values()) == {1}
    # Delivery is at least once: a reply sent just before the kill may be sent again, with the same id.
    assert {b["message_id"] for b in delivered} == set(
        row[0] for row in query(database, "SELECT public_id FROM messages WHERE direction = 'out'")
    )


def test_replies_pending_when_the_callback_was_down_are_delivered_after_restart(kefu_factory, callback):
    """Killed right after a failed attempt: on PostgreSQL the reply may still be leased to the dead
    instance (2 × send timeout + 5 s, so no other instance resends it meanwhile); it goes once that expires."""
    kefu = kefu_factory(KEFU_OUTBOX__SEND_TIMEOUT_SECONDS="2")
    kefu.migrate()
    kefu.start()
    callback.failures.extend([503] * 1000)
    post_signed(kefu.url, web_message("支持花呗吗", message_id="down-1"))
    callback.wait_for_attempts(1)

    kefu.kill()
    callback.failures.clear()
    kefu_factory().start()

    [reply] = callback.wait_for(lambda got: len(got) == 1, timeout=30)
    assert reply["in_reply_to"] == "down-1"


def test_sigterm_drains_and_exits_cleanly(kefu, kefu_factory, callback, database):
    for n in range(20):
        post_signed(kefu.url, web_message("什么时候发货", customer_id=f"t{n}", message_id=f"term-{n}"))

    kefu.stop()

    assert "kefu stopped" in kefu.log_path.read_text()
    kefu_factory().start()

    callback.wait_for(lambda got: len({b["in_reply_to"] for b in got}) == 20)
    assert query(database, "SELECT count(*) FROM messages WHERE processed_at IS NULL") == [(0,)]


@pytest.mark.sqlite_only  # the outage is made with SQLite's own file lock
def test_storage_unavailable_answers_503_so_the_platform_retries(kefu, callback, database):
    body = web_message("能开发票吗", message_id="locked-1")
    blocker = sqlite3.connect(make_url(database).database, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        refused = post_signed(kefu.url, body, timeout=30)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    retried = post_signed(kefu.url, body)

    assert refused.status_code == 503 and "retry" in refused.json()["detail"]
    assert retried.json() == {"status": "accepted"}
    [reply] = callback.wait_for(lambda got: len(got) == 1)
    assert reply["in_reply_to"] == "locked-1"
