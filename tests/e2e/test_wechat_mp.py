"""The Official Account channel end to end: kefu as a process, wechatpy-built callbacks, a fake Tencent API."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from wechatpy.crypto import WeChatCrypto as PlatformCrypto
from wechatpy.utils import WeChatSigner

from tests.e2e.conftest import query
from tests.utils.kefu_process import KefuProcess

ACCOUNT = "shop"  # the account name: its URL is /webhooks/wechat_mp/shop
APP_ID = "wxe2e0123456789abc"
APP_SECRET = "e2e-app-secret-0123456789abcdef"
TOKEN = "e2e-url-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
OPENID = "oE2eCustomer0000000000000001"


@dataclass
class FakeTencent:
    """/cgi-bin/token and /cgi-bin/message/custom/send on 127.0.0.1; `errcodes` answer sends in order, then 0."""

    errcodes: list[int] = field(default_factory=list)
    sends: list[dict] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address
        return f"http://{host}:{port}"

    def start(self) -> FakeTencent:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                params = parse_qs(urlsplit(self.path).query)
                if params.get("appid") != [APP_ID] or params.get("secret") != [APP_SECRET]:
                    return self._json({"errcode": 40125, "errmsg": "invalid appsecret"})
                self._json({"access_token": "e2e-access-token", "expires_in": 7200})

            def do_POST(self) -> None:
                params = parse_qs(urlsplit(self.path).query)
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                if params.get("access_token") != ["e2e-access-token"]:
                    return self._json({"errcode": 40001, "errmsg": "invalid credential"})
                with fake._lock:
                    errcode = fake.errcodes.pop(0) if fake.errcodes else 0
                    if errcode == 0:
                        fake.sends.append(body)
                self._json({"errcode": errcode, "errmsg": "ok" if errcode == 0 else "refused"})

            def _json(self, answer: dict) -> None:
                raw = json.dumps(answer).encode()
                self.send_response(200)
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
                raise AssertionError(f"only {len(self.sends)} CS sends arrived: {self.sends}")
            time.sleep(0.05)
        return list(self.sends)


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


def outbox_rows(database) -> list[tuple[str, str | None]]:
    return query(database, "SELECT status, last_error FROM outbox WHERE channel = 'wechat_mp'")


def wait_for_outbox(database, predicate: Callable[[list], bool], timeout: float = 15) -> list[tuple]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate(rows := outbox_rows(database)):
            return rows
        time.sleep(0.05)
    raise AssertionError(f"outbox never satisfied the condition; got {outbox_rows(database)}")


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
    assert wait_for_outbox(database, lambda rows: rows == [("delivered", None)])
    log = mp_kefu.log_path.read_text()
    assert "/cgi-bin/token" in log and APP_SECRET not in log and "e2e-access-token" not in log


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

    [(status, error)] = wait_for_outbox(database, lambda rows: rows and rows[0][0] != "pending")
    assert status == "failed"
    assert "48-hour reply window closed" in error
    assert tencent.sends == []
