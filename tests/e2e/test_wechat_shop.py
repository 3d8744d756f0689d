"""The WeChat Shop channel end to end: kefu as a process, wechatpy-encrypted pushes, a fake Tencent API."""

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

ACCOUNT = "shop"  # the account name: its URL is /webhooks/wechat_shop/shop
APP_ID = "wxe2eshop01234567"
APP_SECRET = "e2e-shop-app-secret-0123456789ab"
TOKEN = "e2e-shop-push-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
OPENID = "o7eep4jVQelr2eyoDSmE1e2e0001"


class FakeTencent(FakePlatform):
    """/cgi-bin/token and /channels/ec/commkf/sendmsg; `revoke_token` revokes the token the next send carries."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens_issued = 0  # to kefu
        self.generation = 0  # each fetch, kefu's or another tool's, replaces the valid token
        self.send_calls: list[str] = []  # the access_token of every sendmsg call, accepted or not
        self.revoke_token = False

    @property
    def valid_token(self) -> str:
        return f"e2e-shop-token-{self.generation}"

    def answer(self, call: Call) -> tuple[int, dict]:
        if call.path == "/cgi-bin/token":
            if call.query.get("appid") != [APP_ID] or call.query.get("secret") != [APP_SECRET]:
                return 200, {"errcode": 40125, "errmsg": "invalid appsecret"}
            self.tokens_issued += 1
            self.generation += 1
            return 200, {"access_token": self.valid_token, "expires_in": 7200}
        if call.path != "/channels/ec/commkf/sendmsg":
            return 404, {"errcode": 404, "errmsg": "not found"}
        token = call.query.get("access_token", [""])[0]
        self.send_calls.append(token)
        if self.revoke_token:
            self.revoke_token = False
            self.generation += 1  # another tool of the shop fetched a token: ours is no longer valid
        if token != self.valid_token:
            return 200, {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
        self.sends.append(call.body)
        return 200, {"errcode": 0, "errmsg": "ok", "msg_id": str(3895464567618158592 + len(self.sends))}


@pytest.fixture
def tencent() -> Iterator[FakeTencent]:
    server = FakeTencent().start()
    yield server
    server.stop()


@pytest.fixture
def shop_kefu(kefu_factory: Callable[..., KefuProcess], tencent: FakeTencent) -> KefuProcess:
    shop = {"app_id": APP_ID, "app_secret": APP_SECRET, "token": TOKEN, "encoding_aes_key": AES_KEY}
    process = kefu_factory(KEFU_WECHAT_SHOP=json.dumps({ACCOUNT: {**shop, "api_base": tencent.url}}))
    process.migrate()
    return process.start()


def signed_params(nonce: str) -> dict[str, str]:
    timestamp = str(int(time.time()))
    signer = WeChatSigner()
    signer.add_data(TOKEN, timestamp, nonce)
    return {"signature": signer.signature, "timestamp": timestamp, "nonce": nonce}


def post_message(base_url: str, content: str, msg_id: str, *, msg_signature: str | None = None) -> httpx.Response:
    """A commkf_send_msg_to_kf push, JSON encrypted and signed by wechatpy as the shop's servers would."""
    params = signed_params(f"nonce{msg_id}")
    timestamp, nonce = params["timestamp"], params["nonce"]
    event = {
        "ToUserName": "gh_e2eshop0000",
        "FromUserName": OPENID,
        "CreateTime": int(timestamp),
        "MsgType": "event",
        "Event": "commkf_send_msg_to_kf",
        "msg_id": msg_id,
        "msg_type": "text",
        "msg_event": "EVENT_TYPE_SEND_MSG",
        "text": {"content": content},
    }
    reply = PlatformCrypto(TOKEN, AES_KEY, APP_ID).encrypt_message(json.dumps(event, ensure_ascii=False), nonce)
    encrypted = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]>", reply)[1]
    signed = re.search(r"<MsgSignature><!\[CDATA\[(.*?)\]\]>", reply)[1]
    params.update(openid=OPENID, encrypt_type="aes", msg_signature=msg_signature or signed)
    body = json.dumps({"ToUserName": "gh_e2eshop0000", "Encrypt": encrypted}).encode()
    url = f"{base_url}/webhooks/wechat_shop/{ACCOUNT}"
    headers = {"content-type": "application/json"}
    return httpx.post(url, params=params, content=body, headers=headers, timeout=10)


def test_url_verification_echoes_echostr(shop_kefu):
    params = {**signed_params("verify1"), "echostr": "4375120948345356249"}

    response = httpx.get(f"{shop_kefu.url}/webhooks/wechat_shop/{ACCOUNT}", params=params, timeout=10)

    assert response.status_code == 200
    assert response.text == "4375120948345356249"


def test_question_is_answered_through_sendmsg(shop_kefu, tencent, database):
    response = post_message(shop_kefu.url, "什么时候发货", "3895464567618158001")

    assert response.status_code == 200
    assert response.text == "success"
    [send] = tencent.wait_for_sends(1)
    assert send["open_id"] == OPENID and send["msg_type"] == "text"
    assert "48小时" in send["text"]["content"]
    assert len(send["request_id"]) == 32
    assert wait_for_outbox(database, "wechat_shop", lambda rows: rows == [("delivered", None)])
    log = shop_kefu.log_path.read_text()
    assert APP_SECRET not in log and "e2e-shop-token-" not in log


def test_same_msg_id_twice_is_answered_once(shop_kefu, tencent, database):
    first = post_message(shop_kefu.url, "什么时候发货", "3895464567618158002")
    second = post_message(shop_kefu.url, "什么时候发货", "3895464567618158002")

    assert first.text == second.text == "success"
    tencent.wait_for_sends(1)
    time.sleep(0.5)
    assert len(tencent.sends) == 1
    assert query(database, "SELECT count(*) FROM messages WHERE direction = 'in'") == [(1,)]


def test_revoked_token_is_refreshed_and_the_reply_resent_once(shop_kefu, tencent, database):
    post_message(shop_kefu.url, "什么时候发货", "3895464567618158003")
    tencent.wait_for_sends(1)
    tencent.revoke_token = True

    post_message(shop_kefu.url, "能开发票吗", "3895464567618158004")

    tencent.wait_for_sends(2)
    assert wait_for_outbox(database, "wechat_shop", lambda rows: rows == [("delivered", None)] * 2)
    assert tencent.send_calls == ["e2e-shop-token-1", "e2e-shop-token-1", "e2e-shop-token-3"]
    assert tencent.tokens_issued == 2
    assert query(database, "SELECT attempts FROM outbox WHERE channel = 'wechat_shop' ORDER BY id") == [(1,), (1,)]


def test_tampered_msg_signature_is_refused_and_nothing_stored(shop_kefu, tencent, database):
    response = post_message(shop_kefu.url, "什么时候发货", "3895464567618158005", msg_signature="0" * 40)

    assert response.status_code == 401
    assert "msg_signature" in response.json()["detail"]
    assert query(database, "SELECT count(*) FROM messages") == [(0,)]
    assert tencent.sends == []
