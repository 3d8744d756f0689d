"""PostgreSQL down for ten seconds: webhooks answer 503 (so platforms retry) instead of losing, then recover."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import post_signed, query
from tests.utils.databases import fresh_postgres_database
from tests.utils.signing import web_message

OUTAGE_SECONDS = 10


@pytest.fixture
def own_postgres() -> Iterator:
    """A PostgreSQL server of this test's own, so it can be stopped without harming the others."""
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        pytest.skip("needs Debian's postgresql package (installed by .ci/run)")
    from tests.utils.postgres_server import PostgresServer

    server = PostgresServer().start()
    yield server
    server.close()


def test_webhooks_answer_503_while_the_database_is_down_and_nothing_is_lost(kefu_factory, own_postgres, callback):
    with fresh_postgres_database(own_postgres.url) as url:
        kefu = kefu_factory(KEFU_DATABASE_URL=url)
        kefu.migrate()
        kefu.start()
        sent, accepted = 0, set()

        def send(message_id: str) -> int:
            nonlocal sent
            sent += 1
            status = post_signed(kefu.url, web_message("什么时候发货", customer_id=message_id, message_id=message_id))
            if status.status_code == 200:
                accepted.add(message_id)
            return status.status_code

        assert send("before") == 200
        callback.wait_for(lambda got: len(got) == 1)

        own_postgres.stop()
        refused, started = [], time.monotonic()
        while time.monotonic() - started < OUTAGE_SECONDS:
            refused.append(send(f"during-{len(refused)}"))
            time.sleep(0.5)
        assert set(refused) == {503}, "nothing is accepted that cannot be stored"
        assert httpx.get(f"{kefu.url}/readyz", timeout=10).status_code == 503

        own_postgres.start()
        deadline = time.monotonic() + 30
        while httpx.get(f"{kefu.url}/readyz", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "kefu never recovered"
            time.sleep(0.2)
        retried = [send(f"during-{n}") for n in range(len(refused))]  # the platform's retries
        assert set(retried) == {200}

        callback.wait_for(lambda got: {d["in_reply_to"] for d in got} == accepted, timeout=30)
        replies = query(url, "SELECT in_reply_to FROM messages WHERE direction = 'out'")
        assert sorted(r for (r,) in replies) == sorted(accepted), "each accepted message answered once"
        print(f"sent {sent}, accepted {len(accepted)}, answered {len(replies)}, duplicates 0, lost 0")
