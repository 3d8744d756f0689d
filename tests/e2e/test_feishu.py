"""The Feishu channel end to end: kefu as a process, events checked by lark-oapi, a fake open API."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.e2e.conftest import post_signed, query, wait_for_outbox
from tests.utils.fake_platform import Call, FakePlatform
from tests.utils.feishu_events import APP_ID, CHAT_ID, challenge, message_event, signed
from tests.utils.kefu_process import KefuProcess
from tests.utils.signing import web_message

ACCOUNT = "shop"  # the account name: its URL is /webhooks/feishu/shop
APP_SECRET = "e2e-feishu-app-secret-0123456789"
TOKEN = "e2e-verification-token"
ENCRYPT_KEY = "e2e-encrypt-key-0123456789abcdef"
TENANT_TOKEN = "t-e2e-tenant-access-token"


class FakeFeishu(FakePlatform):
    """tenant_access_token and im/v1/messages on 127.0.0.1; `refusals` answer sends in order (code, msg), then 0."""

    def __init__(self) -> None:
        super().__init__()
        self.refusals: list[tuple[int, str]] = []

    def answer(self, call: Call) -> tuple[int, dict]:
        if call.path == "/open-apis/auth/v3/tenant_access_token/internal":
            if call.body != {"app_id": APP_ID, "app_secret": APP_SECRET}:
                return 400, {"code": 10014, "msg": "app secret invalid"}
            return 200, {"code": 0, "msg": "ok", "tenant_access_token": TENANT_TOKEN, "expire": 7200}
        if call.path != "/open-apis/im/v1/messages" or call.query != {"receive_id_type": ["chat_id"]}:
            return 404, {"code": 404, "msg": "not found"}
        if call.headers.get("authorization") != f"Bearer {TENANT_TOKEN}":
            return 400, {"code": 99991663, "msg": "Invalid access token for authorization"}
        code, msg = self.refusals.pop(0) if self.refusals else (0, "success")
        if code == 0:
            self.sends.append(call.body)
        return 200 if code == 0 else 400, {"code": code, "msg": msg}


@pytest.fixture
def feishu() -> Iterator[FakeFeishu]:
    server = FakeFeishu().start()
    yield server
    server.stop()


@pytest.fixture
def feishu_kefu(kefu_factory: Callable[..., KefuProcess], feishu: FakeFeishu) -> KefuProcess:
    app = {"app_id": APP_ID, "app_secret": APP_SECRET, "verification_token": TOKEN, "encrypt_key": ENCRYPT_KEY}
    process = kefu_factory(KEFU_FEISHU=json.dumps({ACCOUNT: {**app, "api_base": feishu.url}}))
    process.migrate()
    return process.start()


def post_event(base_url: str, payload: dict, *, signature: str | None = None) -> httpx.Response:
    """The event encrypted and signed as Feishu sends it (and as lark-oapi accepts it)."""
    headers, body = signed(payload, encrypt_key=ENCRYPT_KEY, token=TOKEN)
    if signature is not None:
        headers["x-lark-signature"] = signature
    return httpx.post(f"{base_url}/webhooks/feishu/{ACCOUNT}", content=body, headers=headers, timeout=10)


def test_url_verification_answers_the_challenge(feishu_kefu):
    response = post_event(feishu_kefu.url, challenge(TOKEN))

    assert response.status_code == 200
    assert response.json() == {"challenge": "ajls384kdjx98XX"}


def test_question_is_answered_in_the_chat(feishu_kefu, feishu, database):
    response = post_event(feishu_kefu.url, message_event("ev_e2e_1", "什么时候发货", token=TOKEN))

    assert response.status_code == 200
    assert response.json() == {}
    [send] = feishu.wait_for_sends(1)
    assert send["receive_id"] == CHAT_ID and send["msg_type"] == "text"
    assert "48小时" in json.loads(send["content"])["text"]
    assert wait_for_outbox(database, "feishu", lambda rows: rows == [("delivered", None)])
    log = feishu_kefu.log_path.read_text()
    assert APP_SECRET not in log and ENCRYPT_KEY not in log


def test_same_event_id_twice_is_answered_once(feishu_kefu, feishu, database):
    first = post_event(feishu_kefu.url, message_event("ev_e2e_2", token=TOKEN))
    second = post_event(feishu_kefu.url, message_event("ev_e2e_2", token=TOKEN))

    assert first.status_code == second.status_code == 200
    feishu.wait_for_sends(1)
    time.sleep(0.5)
    assert len(feishu.sends) == 1
    assert query(database, "SELECT count(*) FROM messages WHERE direction = 'in'") == [(1,)]


def test_bad_signature_is_refused_and_nothing_stored(feishu_kefu, feishu, database):
    response = post_event(feishu_kefu.url, message_event("ev_e2e_3", token=TOKEN), signature="0" * 64)

    assert response.status_code == 401
    assert "X-Lark-Signature" in response.json()["detail"]
    assert query(database, "SELECT count(*) FROM messages") == [(0,)]
    assert feishu.sends == []


def test_image_arrives_as_a_placeholder(feishu_kefu, feishu, database):
    event = message_event("ev_e2e_4", token=TOKEN, message_type="image", content={"image_key": "img_v2_041b"})

    assert post_event(feishu_kefu.url, event).status_code == 200
    assert query(database, "SELECT text FROM messages WHERE direction = 'in'") == [("[图片]",)]


def test_bot_outside_the_chat_fails_the_delivery_for_good(feishu_kefu, feishu, database):
    feishu.refusals.append((230002, "Bot/User can NOT be out of the chat."))

    post_event(feishu_kefu.url, message_event("ev_e2e_5", token=TOKEN))

    [(status, error)] = wait_for_outbox(database, "feishu", lambda rows: rows and rows[0][0] != "pending")
    assert status == "failed"
    assert "Bot/User can NOT be out of the chat" in error
    assert feishu.sends == []


STAFF_CHAT = "oc_e2e_staff_group_0001"


def test_l3_escalation_is_posted_to_the_staff_group(kefu_factory, feishu):
    app = {"app_id": APP_ID, "app_secret": APP_SECRET, "verification_token": TOKEN, "encrypt_key": ENCRYPT_KEY}
    process = kefu_factory(
        KEFU_FEISHU=json.dumps({ACCOUNT: {**app, "api_base": feishu.url}}),
        KEFU_ALERTS__FEISHU_ACCOUNT=ACCOUNT,
        KEFU_ALERTS__FEISHU_CHAT_ID=STAFF_CHAT,
        KEFU_ALERTS__CONSOLE_URL="https://kefu.e2e.test/",
    )
    process.migrate()
    process.start()

    message = web_message("我要打12315投诉你们，我电话13812345678", customer_id="angry-1", message_id="l3-1")
    assert post_signed(process.url, message).status_code == 200

    [alert] = feishu.wait_for_sends(1)
    assert alert["receive_id"] == STAFF_CHAT and alert["msg_type"] == "text"
    text = json.loads(alert["content"])["text"]
    assert "L3" in text and "客户：angry-1" in text and "渠道：网页 · default" in text
    assert "原因：投诉/曝光威胁 12315" in text
    assert "最后消息：我要打12315投诉你们，我电话138****5678" in text and "13812345678" not in text
    assert "控制台：https://kefu.e2e.test/console" in text
    log = process.wait_for_log("L3 alert for conversation")
    assert re.search(r"L3 alert for conversation \S+ posted to Feishu", log)
