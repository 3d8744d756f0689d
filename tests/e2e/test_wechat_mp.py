"""The Official Account channel end to end: kefu as a process, wechatpy-built callbacks, a fake Tencent API."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from wechatpy.crypto import WeChatCrypto as PlatformCrypto
from wechatpy.utils import WeChatSigner

from tests.e2e.conftest import query, wait_for_outbox
from tests.utils.fake_platform import Call, FakePlatform
from tests.utils.kefu_process import KefuProcess

ACCOUNT = "shop"  # the account name: its URL is /webhooks/wechat_mp/shop
APP_ID = "wxe2e0123456789abc"
APP_SECRET = "e2e-app-secret-0123456789abcdef"
TOKEN = "e2e-url-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
OPENID = "oE2eCustomer0000000000000001"


class FakeTencent(FakePlatform):
    """/cgi-bin/token and /cgi-bin/message/custom/send on 127.0.0.1; `errcodes` answer sends in order, then 0."""

    def __init__(self) -> None:
        super().__init__()
        self.errcodes: list[int] = []

    def answer(self, call: Call) -> tuple[int, dict]:
        if call.method == "GET":
            if call.query.get("appid") != [APP_ID] or call.query.get("secret") != [APP_SECRET]:
                return 200, {"errcode": 40125, "errmsg": "invalid appsecret"}
            return 200, {"access_token": "e2e-access-token", "expires_in": 7200}
        if call.query.get("access_token") != ["e2e-access-token"]:
            return 200, {"errcode": 40001, "errmsg": "invalid credential"}
        errcode = self.errcodes.pop(0) if self.errcodes else 0
        if errcode == 0:
            self.sends.append(call.body)
        return 200, {"errcode": errcode, "errmsg": "ok" if errcode == 0 else "refused"}


@pytest.fixture
def tencent() -> Iterator[FakeTencent]:
    server = FakeTencent().start()
    yield server
    server.stop()


@pytest.fixture
def mp_kefu(kefu_factory: Callable[..., KefuProcess], tencent: FakeTencent) -> KefuProcess:
    account = {"app_id": APP_ID, "app_secret": APP_SECRET, "token": TOKEN, "encoding_aes_key": AES_KEY}
    process = kefu_factory(KEFU_WECHAT_MP=json.dumps({ACCOUNT: {**account, "api_base": tencent.url}}))
    process.migrate()
    return process.start()


def signed_params(nonce: str) -> dict[str, str]:
    """The query WeChat signs every callback with: sha1 over the sorted token, timestamp and nonce."""
    timestamp = str(int(time.time()))
    signer = WeChatSigner()
    signer.add_data(TOKEN, timestamp, nonce)
    return {"signature": signer.signature, "timestamp": timestamp, "nonce": nonce}


def post_message(base_url: str, content: str, msg_id: str, *, msg_signature: str | None = None) -> httpx.Response:
    """A safe-mode text message, encrypted and signed by wechatpy as WeChat's servers would."""
    params = signed_params(f"nonce{msg_id}")
    timestamp, nonce = params["timestamp"], params["nonce"]
    plain = (
        f"<xml><ToUserName><![CDATA[gh_e2e000000000]]></ToUserName><FromUserName><![CDATA[{OPENID}]]></FromUserName>"
        f"<CreateTime>{timestamp}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )
    reply = PlatformCrypto(TOKEN, AES_KEY, APP_ID).encrypt_message(plain, nonce, timestamp)
    encrypted = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]>", reply)[1]
    signed = re.search(r"<MsgSignature><!\[CDATA\[(.*?)\]\]>", reply)[1]
    params.update(openid=OPENID, encrypt_type="aes", msg_signature=msg_signature or signed)
    body = f"<xml><ToUserName><![CDATA[gh_e2e000000000]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    return httpx.post(f"{base_url}/webhooks/wechat_mp/{ACCOUNT}", params=params, content=body.encode(), timeout=10)


def test_url_verification_echoes_echostr(mp_kefu):
    params = {**signed_params("verify1"), "echostr": "42e2e"}

    response = httpx.get(f"{mp_kefu.url}/webhooks/wechat_mp/{ACCOUNT}", params=params, timeout=10)

    assert response.status_code == 200
    assert response.text == "42e2e"
    assert response.headers["content-type"].startswith("text/plain")


def test_safe_mode_question_is_answered_through_the_cs_api(mp_kefu, tencent, database):
    response = post_message(mp_kefu.url, "什么时候发货", "7000000000000000001")

    assert response.status_code == 200
    assert response.text == "success"
    [send] = tencent.wait_for_sends(1)
    assert send["touser"] == OPENID and send["msgtype"] == "text"
    assert "48小时" in send["text"]["content"]
    assert wait_for_outbox(database, "wechat_mp", lambda rows: rows == [("delivered", None)])
    log = mp_kefu.log_path.read_text()
    # At INFO no outbound call is logged at all; at DEBUG they are, masked (tests/e2e/test_security.py)
    assert "/cgi-bin/token" not in log and APP_SECRET not in log and "e2e-access-token" not in log


def test_same_msg_id_twice_is_answered_once(mp_kefu, tencent, database):
    first = post_message(mp_kefu.url, "什么时候发货", "7000000000000000002")
    second = post_message(mp_kefu.url, "什么时候发货", "7000000000000000002")

    assert first.text == second.text == "success"
    tencent.wait_for_sends(1)
    time.sleep(0.5)
    assert len(tencent.sends) == 1
    assert query(database, "SELECT count(*) FROM messages WHERE direction = 'in'") == [(1,)]


def test_bad_msg_signature_is_refused_and_nothing_stored(mp_kefu, tencent, database):
    response = post_message(mp_kefu.url, "什么时候发货", "7000000000000000003", msg_signature="0" * 40)

    assert response.status_code == 401
    assert "msg_signature" in response.json()["detail"]
    assert query(database, "SELECT count(*) FROM messages") == [(0,)]
    assert tencent.sends == []


def test_closed_reply_window_fails_the_delivery_for_good(mp_kefu, tencent, database):
    tencent.errcodes.append(45015)

    post_message(mp_kefu.url, "什么时候发货", "7000000000000000004")

    [(status, error)] = wait_for_outbox(database, "wechat_mp", lambda rows: rows and rows[0][0] != "pending")
    assert status == "failed"
    assert "48-hour reply window closed" in error
    assert tencent.sends == []
