"""The Telegram channel end to end: kefu as a process, Updates checked by python-telegram-bot, a fake Bot API."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import yaml

from tests.e2e.conftest import query, wait_for_outbox
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


def test_question_is_answered_with_send_message(telegram_kefu, bot_api, database):
    response = post_update(telegram_kefu.url, update(500001, text="什么时候发货"))

    assert response.status_code == 200
    assert response.json() == {"ok": True}
    [send] = bot_api.wait_for_sends(1)
    assert send["chat_id"] == str(CHAT_ID)
    assert "48小时" in send["text"]
    assert wait_for_outbox(database, "telegram", lambda rows: rows == [("delivered", None)])
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

    [(status, error)] = wait_for_outbox(database, "telegram", lambda rows: rows and rows[0][0] != "pending")
    assert status == "failed"
    assert "bot was blocked by the user" in error
    assert bot_api.sends == []


POLICY_LINE = "退换货须知：签收后七天内可申请无理由退货，商品需保持完好。" * 3
RETURNS_POLICY = "\n".join(f"{i}. {POLICY_LINE}" for i in range(1, 121))  # about 12,000 characters


def test_reply_over_4096_characters_arrives_as_several_messages_in_order(kefu_factory, bot_api, tmp_path):
    folder = tmp_path / "long-faq"
    folder.mkdir()
    entry = {"id": "returns_policy", "questions": ["退换货须知"], "answer": RETURNS_POLICY}
    (folder / "faq.yaml").write_text(yaml.safe_dump({"entries": [entry]}, allow_unicode=True), encoding="utf-8")
    account = {"bot_token": BOT_TOKEN, "secret_token": SECRET, "api_base": bot_api.url}
    process = kefu_factory(KEFU_TELEGRAM=json.dumps({ACCOUNT: account}), KEFU_FAQ_DIR=str(folder))
    process.migrate()
    process.start()

    post_update(process.url, update(500006, text="退换货须知"))

    sends = bot_api.wait_for_sends(3)
    time.sleep(0.5)
    texts = [send["text"] for send in bot_api.sends]
    assert len(texts) == 3 and all(len(text) <= 4096 for text in texts)
    assert "\n".join(texts) == RETURNS_POLICY  # cut between whole lines, in order, nothing lost
    assert {send["chat_id"] for send in sends} == {str(CHAT_ID)}
