"""kefu as a real process against a real callback server, both on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.utils.callback_server import CallbackServer, running_callback
from tests.utils.databases import query  # noqa: F401  (the e2e tests import it from here)
from tests.utils.kefu_process import KefuProcess
from tests.utils.signing import signed_headers

SECRET = "e2e-test-secret-0123456789abcdef"


@pytest.fixture
def callback() -> Iterator[CallbackServer]:
    with running_callback(SECRET) as server:
        yield server


@pytest.fixture
def database(database_url: str) -> str:
    """The URL of this test's kefu database: SQLite, or PostgreSQL under `make test-pg`."""
    return database_url


@pytest.fixture
def kefu_factory(
    tmp_path: Path, database: str, redis_url: str | None, callback: CallbackServer
) -> Iterator[Callable[..., KefuProcess]]:
    started: list[KefuProcess] = []

    def make(**env: str) -> KefuProcess:
        process = KefuProcess(
            tmp_path,
            {
                "KEFU_ENV": "test",
                "KEFU_DATABASE_URL": database,
                "KEFU_WEB__SECRET": SECRET,
                "KEFU_WEB__CALLBACK_URL": callback.url,
                "KEFU_OUTBOX__BASE_DELAY_SECONDS": "0.05",
                "KEFU_OUTBOX__POLL_SECONDS": "0.05",
                **({"KEFU_REDIS_URL": redis_url} if redis_url else {}),
                **env,
            },
        )
        started.append(process)
        return process

    yield make
    for process in started:
        process.kill()


@pytest.fixture
def kefu(kefu_factory: Callable[..., KefuProcess]) -> KefuProcess:
    process = kefu_factory()
    process.migrate()
    return process.start()


REFUNDS_FAQ = (
    "entries:\n"
    "  - id: refund_card\n    questions: [退款退到银行卡要多久]\n    answer: 银行卡1-7个工作日\n"
    "  - id: refund_huabei\n    questions: [退款退到花呗要多久]\n    answer: 花呗即时到账\n"
    "  - id: invoice\n    questions: [能开发票吗]\n    answer: 可以\n"
)


@pytest.fixture
def refunds_kefu(kefu_factory: Callable[..., KefuProcess], tmp_path: Path) -> KefuProcess:
    """kefu with a tiny FAQ whose two refund entries are close: "退款要多久" gets suggestions."""
    folder = tmp_path / "refunds"
    folder.mkdir()
    (folder / "faq.yaml").write_text(REFUNDS_FAQ, encoding="utf-8")
    process = kefu_factory(KEFU_FAQ_DIR=str(folder))
    process.migrate()
    return process.start()


def post_signed(base_url: str, body: bytes, *, timestamp: int | None = None, timeout: float = 10) -> httpx.Response:
    headers = signed_headers(SECRET, body, timestamp=timestamp)
    return httpx.post(f"{base_url}/webhooks/web", content=body, headers=headers, timeout=timeout)


def wait_for_outbox(database: str, channel: str, predicate: Callable[[list], bool], timeout: float = 15) -> list[tuple]:
    """The channel's outbox rows, (status, last_error), once `predicate` holds for them."""
    sql = f"SELECT status, last_error FROM outbox WHERE channel = '{channel}'"
    deadline = time.monotonic() + timeout
    while not predicate(rows := query(database, sql)):
        if time.monotonic() > deadline:
            raise AssertionError(f"the {channel} outbox never satisfied the condition; got {rows}")
        time.sleep(0.05)
    return rows
