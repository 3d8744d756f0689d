"""The Telegram channel end to end: kefu as a process, Updates checked by python-telegram-bot, a fake Bot API."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.e2e.conftest import query
from tests.utils.fake_platform import Call, FakePlatform
from tests.utils.kefu_process import KefuProcess
from tests.utils.telegram_updates import CHAT_ID, body, photo, update

ACCOUNT = "shop"  # the account name: its URL is /webhooks/telegram/shop
BOT_TOKEN = "987654321:AAE2eTestBotToken_abcdefghijklmnopq"
SECRET = "e2e-telegram-secret-token"


class FakeBotAPI(FakePlatform):
    """The Bot API's sendMessage on 127.0.0.1; `refusals` answer sends in order (status, description)."""

    def __init__(self) -> None:
        super().__init__()
        self.refusals: list[tuple[int, str]] = []

    def answer(self, call: Call) -> tuple[int, dict]:
        if call.path != f"/bot{BOT_TOKEN}/sendMessage":
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        if self.refusals:
            status, description = self.refusals.pop(0)
            return status, {"ok": False, "error_code": status, "description": description}
        self.sends.append(call.body)
        return 200, {"ok": True, "result": {"message_id": len(self.sends), "text": call.body["text"]}}


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
