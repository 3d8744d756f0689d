"""The Telegram channel end to end: kefu as a process, Updates checked by python-telegram-bot, a fake Bot API."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.e2e.conftest import query
from tests.utils.kefu_process import KefuProcess
from tests.utils.telegram_updates import CHAT_ID, body, photo, update

ACCOUNT = "shop"  # the account name: its URL is /webhooks/telegram/shop
BOT_TOKEN = "987654321:AAE2eTestBotToken_abcdefghijklmnopq"
SECRET = "e2e-telegram-secret-token"


@dataclass
class FakeBotAPI:
    """/bot<token>/sendMessage on 127.0.0.1; `refusals` answer sends in order (status, description), then ok."""

    refusals: list[tuple[int, str]] = field(default_factory=list)
    sends: list[dict] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address
        return f"http://{host}:{port}"

    def start(self) -> FakeBotAPI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                payload = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                if self.path != f"/bot{BOT_TOKEN}/sendMessage":
                    return self._json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                with fake._lock:
                    refusal = fake.refusals.pop(0) if fake.refusals else None
                    if refusal is None:
                        fake.sends.append(payload)
                if refusal:
                    return self._json(refusal[0], {"ok": False, "error_code": refusal[0], "description": refusal[1]})
                self._json(200, {"ok": True, "result": {"message_id": len(fake.sends), "text": payload["text"]}})

            def _json(self, status: int, answer: dict) -> None:
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for_sends(self, count: int, timeout: float = 15) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.sends) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(self.sends)} sendMessage calls arrived: {self.sends}")
            time.sleep(0.05)
        return list(self.sends)


@pytest.fixture
def bot_api() -> Iterator[FakeBotAPI]:
    server = FakeBotAPI().start()
    yield server
    server.stop()


@pytest.fixture
def telegram_kefu(kefu_factory: Callable[..., KefuProcess], bot_api: FakeBotAPI) -> KefuProcess:
    account = {"bot_token": BOT_TOKEN, "secret_token": SECRET, "api_base": bot_api.url}
    process = kefu_factory(KEFU_TELEGRAM=json.dumps({ACCOUNT: account}))
    process.migrate()
    return process.start()


def post_update(base_url: str, payload: dict, *, secret: str | None = SECRET) -> httpx.Response:
    """The Update as Telegram POSTs it to the webhook, with the secret_token header set by setWebhook."""
    headers = {"content-type": "application/json"}
    if secret is not None:
        headers["x-telegram-bot-api-secret-token"] = secret
    return httpx.post(f"{base_url}/webhooks/telegram/{ACCOUNT}", content=body(payload), headers=headers, timeout=10)


def wait_for_outbox(database, predicate: Callable[[list], bool], timeout: float = 15) -> list[tuple]:
    sql = "SELECT status, last_error FROM outbox WHERE channel = 'telegram'"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate(rows := query(database, sql)):
            return rows
        time.sleep(0.05)
    raise AssertionError(f"outbox never satisfied the condition; got {query(database, sql)}")


def test_question_is_answered_with_send_message(telegram_kefu, bot_api, database):
    response = post_update(telegram_kefu.url, update(500001, text="什么时候发货"))

    assert response.status_code == 200
    assert response.json() == {"ok": True}
    [send] = bot_api.wait_for_sends(1)
    assert send["chat_id"] == str(CHAT_ID)
    assert "48小时" in send["text"]
    assert wait_for_outbox(database, lambda rows: rows == [("delivered", None)])
    log = telegram_kefu.log_path.read_text()
    assert BOT_TOKEN not in log and SECRET not in log


def test_same_update_id_twice_is_answered_once(telegram_kefu, bot_api, database):
    first = post_update(telegram_kefu.url, update(500002))
    second = post_update(telegram_kefu.url, update(500002))

    assert first.status_code == second.status_code == 200
    bot_api.wait_for_sends(1)
    time.sleep(0.5)
    assert len(bot_api.sends) == 1
    assert query(database, "SELECT count(*) FROM messages WHERE direction = 'in'") == [(1,)]


@pytest.mark.parametrize("secret", [None, "not-the-secret"])
def test_wrong_or_missing_secret_is_refused_and_nothing_stored(telegram_kefu, bot_api, database, secret):
    response = post_update(telegram_kefu.url, update(500003), secret=secret)

    assert response.status_code == 401
    assert "X-Telegram-Bot-Api-Secret-Token" in response.json()["detail"]
    assert query(database, "SELECT count(*) FROM messages") == [(0,)]
    assert bot_api.sends == []


def test_photo_with_caption_arrives_as_a_placeholder(telegram_kefu, bot_api, database):
    response = post_update(telegram_kefu.url, photo(500004, caption="这个有货吗"))

    assert response.status_code == 200
    assert query(database, "SELECT text FROM messages WHERE direction = 'in'") == [("[图片] 这个有货吗",)]


def test_blocked_bot_fails_the_delivery_for_good(telegram_kefu, bot_api, database):
    bot_api.refusals.append((403, "Forbidden: bot was blocked by the user"))

    post_update(telegram_kefu.url, update(500005))

    [(status, error)] = wait_for_outbox(database, lambda rows: rows and rows[0][0] != "pending")
    assert status == "failed"
    assert "bot was blocked by the user" in error
    assert bot_api.sends == []
