"""WeCom customer service end to end: kefu as a process, wechatpy-built callbacks, a fake WeCom API that pages."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from wechatpy.enterprise.crypto import WeChatCrypto as PlatformCrypto

from tests.e2e.conftest import query
from tests.utils.fake_platform import Call, FakePlatform
from tests.utils.kefu_process import KefuProcess
from tests.utils.waiting import wait_until

ACCOUNT = "shop"  # its URL is /webhooks/wecom_kf/shop
CORP_ID = "wwe2e0123456789ab"
SECRET = "e2e-kf-secret-0123456789abcdef"
TOKEN = "e2e-kf-callback-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
OPEN_KFID = "wkE2eKfAccount000000000000000001"
CUSTOMER = "wmE2eCustomer0000000000000000001"


class FakeWeCom(FakePlatform):
    """gettoken, kf/sync_msg (pages of `page_size` over `items`), kf/send_msg and kf/service_state/trans.

    Cursors are "cur-<index>" into `items`; no cursor starts at the oldest, as WeCom's three days do.
    `send_errcodes` answer sends in order, then 0; `sync_delay` makes each page slow.
    """

    def __init__(self, *, page_size: int = 2, sync_delay: float = 0.0) -> None:
        super().__init__()
        self.page_size, self.sync_delay = page_size, sync_delay
        self.items: list[dict] = []
        self.syncs: list[dict] = []
        self.transfers: list[dict] = []
        self.paths: list[str] = []  # every successful call, in order
        self.send_errcodes: list[int] = []
        self.tokens_issued = 0

    def customer_writes(self, msgid: str, text: str) -> None:
        self.items.append(_item(msgid, 3, "text", {"content": text}))

    def servicer_writes(self, msgid: str, text: str) -> None:
        self.items.append({**_item(msgid, 5, "text", {"content": text}), "servicer_userid": "zhangsan"})

    def event_happens(self, msgid: str, event_type: str) -> None:
        self.items.append(_item(msgid, 4, "event", {"event_type": event_type, "open_kfid": OPEN_KFID}))

    def answer(self, call: Call) -> tuple[int, dict]:
        if call.path == "/cgi-bin/gettoken":
            if call.query.get("corpid") != [CORP_ID] or call.query.get("corpsecret") != [SECRET]:
                return 200, {"errcode": 40001, "errmsg": "invalid secret"}
            self.tokens_issued += 1
            return 200, {"errcode": 0, "access_token": f"e2e-kf-access-{self.tokens_issued}", "expires_in": 7200}
        if not call.query.get("access_token", [""])[0].startswith("e2e-kf-access-"):
            return 200, {"errcode": 40014, "errmsg": "invalid access_token"}
        result = {
            "/cgi-bin/kf/sync_msg": self._sync,
            "/cgi-bin/kf/send_msg": self._send,
            "/cgi-bin/kf/service_state/trans": self._trans,
        }[call.path](call.body)
        if result["errcode"] == 0:
            self.paths.append(call.path)
        return 200, result

    def _sync(self, body: dict) -> dict:
        time.sleep(self.sync_delay)
        self.syncs.append(body)
        if body.get("open_kfid") != OPEN_KFID:
            return {"errcode": 95000, "errmsg": "invalid open_kfid"}
        start = int(body["cursor"].removeprefix("cur-")) if body.get("cursor") else 0
        page = self.items[start : start + self.page_size]
        end = start + len(page)
        return {"errcode": 0, "next_cursor": f"cur-{end}", "has_more": int(end < len(self.items)), "msg_list": page}

    def _send(self, body: dict) -> dict:
        errcode = self.send_errcodes.pop(0) if self.send_errcodes else 0
        if errcode == 0:
            self.sends.append(body)
        return {"errcode": errcode, "errmsg": "ok" if errcode == 0 else "refused", "msgid": f"out-{len(self.sends)}"}

    def _trans(self, body: dict) -> dict:
        self.transfers.append(body)
        return {"errcode": 0, "errmsg": "ok"}


def _item(msgid: str, origin: int, msgtype: str, content: dict) -> dict:
    item = {"msgid": msgid, "open_kfid": OPEN_KFID, "send_time": int(time.time()), "origin": origin}
    if origin != 4:
        item["external_userid"] = CUSTOMER
    return {**item, "msgtype": msgtype, msgtype: content}


@pytest.fixture
def wecom() -> Iterator[FakeWeCom]:
    server = FakeWeCom().start()
    yield server
    server.stop()


def kf_env(wecom: FakeWeCom, **extra) -> dict[str, str]:
    account = {"corp_id": CORP_ID, "secret": SECRET, "token": TOKEN, "encoding_aes_key": AES_KEY}
    return {"KEFU_WECOM_KF": json.dumps({ACCOUNT: {**account, "api_base": wecom.url, **extra}})}


@pytest.fixture
def kf_kefu(kefu_factory: Callable[..., KefuProcess], wecom: FakeWeCom) -> KefuProcess:
    process = kefu_factory(**kf_env(wecom))
    process.migrate()
    return process.start()


def signed_callback(callback_token: str = "cb-token-1", *, nonce: str = "n0nce") -> dict:
    """A kf_msg_or_event callback, encrypted and signed by wechatpy as WeCom's servers would: httpx.post kwargs."""
    timestamp = str(int(time.time()))
    plain = (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><CreateTime>{timestamp}</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>"
        f"<Token><![CDATA[{callback_token}]]></Token><OpenKfId><![CDATA[{OPEN_KFID}]]></OpenKfId></xml>"
    )
    reply = PlatformCrypto(TOKEN, AES_KEY, CORP_ID).encrypt_message(plain, nonce, timestamp)
    encrypted = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]>", reply)[1]
    msg_signature = re.search(r"<MsgSignature><!\[CDATA\[(.*?)\]\]>", reply)[1]
    body = f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
    body += "<AgentID><![CDATA[]]></AgentID></xml>"
    params = {"msg_signature": msg_signature, "timestamp": timestamp, "nonce": nonce}
    return {"params": params, "content": body.encode(), "timeout": 10}


def post_callback(base_url: str, request: dict | None = None) -> httpx.Response:
    return httpx.post(f"{base_url}/webhooks/wecom_kf/{ACCOUNT}", **(request or signed_callback()))


def test_url_verification_answers_the_decrypted_echostr(kf_kefu):
    timestamp = str(int(time.time()))
    reply = PlatformCrypto(TOKEN, AES_KEY, CORP_ID).encrypt_message("4242e2e", "vnonce", timestamp)
    echostr = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]>", reply)[1]
    msg_signature = re.search(r"<MsgSignature><!\[CDATA\[(.*?)\]\]>", reply)[1]
    params = {"msg_signature": msg_signature, "timestamp": timestamp, "nonce": "vnonce", "echostr": echostr}

    response = httpx.get(f"{kf_kefu.url}/webhooks/wecom_kf/{ACCOUNT}", params=params, timeout=10)

    assert response.status_code == 200
    assert response.text == "4242e2e"


def test_tampered_callback_is_refused_and_nothing_pulled(kf_kefu, wecom):
    request = signed_callback()
    request["params"]["msg_signature"] = "0" * 40

    response = post_callback(kf_kefu.url, request)

    assert response.status_code == 401
    assert "msg_signature" in response.json()["detail"]
    time.sleep(0.3)
    assert wecom.syncs == []


def test_customer_question_is_pulled_and_answered_through_send_msg(kf_kefu, wecom, database):
    wecom.event_happens("ev-1", "enter_session")
    wecom.customer_writes("msg-1", "什么时候发货")

    response = post_callback(kf_kefu.url, signed_callback("cb-token-1"))

    assert (response.status_code, response.text) == (200, "success")
    [send] = wecom.wait_for_sends(1)
    assert (send["touser"], send["open_kfid"], send["msgtype"]) == (CUSTOMER, OPEN_KFID, "text")
    assert "48小时" in send["text"]["content"]
    assert wecom.syncs[0] == {"token": "cb-token-1", "limit": 1000, "open_kfid": OPEN_KFID}
    assert query(database, "SELECT customer_id FROM messages WHERE direction = 'in'") == [(f"{OPEN_KFID}:{CUSTOMER}",)]
    assert query(database, "SELECT stream, cursor FROM sync_cursors") == [(OPEN_KFID, "cur-2")]
    log = kf_kefu.log_path.read_text()
    assert SECRET not in log and "e2e-kf-access-1" not in log and "cb-token-1" not in log


def test_repeated_and_overlapping_callbacks_answer_each_message_once(slow_kefu, database):
    kefu, wecom = slow_kefu
    wecom.customer_writes("msg-1", "什么时候发货")
    wecom.servicer_writes("msg-2", "您好，我是小王")
    wecom.customer_writes("msg-3", "发什么快递")
    wecom.event_happens("ev-4", "session_status_change")
    wecom.customer_writes("msg-5", "怎么查物流")
    same = signed_callback("cb-token-1")

    for request in (same, same, signed_callback("cb-token-2", nonce="other")):
        assert post_callback(kefu.url, request).text == "success"

    wecom.wait_for_sends(3)
    time.sleep(1.5)
    assert len(wecom.sends) == 3
    assert query(database, "SELECT platform_message_id FROM messages WHERE direction = 'in' ORDER BY id") == [
        ("msg-1",),
        ("msg-3",),
        ("msg-5",),
    ]
    # one pass over three pages, then exactly one more for the callbacks that came during it
    assert [sync.get("cursor") for sync in wecom.syncs] == [None, "cur-2", "cur-4", "cur-5"]
    assert wecom.syncs[-1]["token"] == "cb-token-2"


@pytest.fixture
def slow_kefu(kefu_factory: Callable[..., KefuProcess]) -> Iterator[tuple[KefuProcess, FakeWeCom]]:
    server = FakeWeCom(page_size=2, sync_delay=0.3).start()
    process = kefu_factory(**kf_env(server))
    process.migrate()
    yield process.start(), server
    server.stop()


def test_restart_goes_on_from_the_stored_cursor(kefu_factory, wecom, database):
    first = kefu_factory(**kf_env(wecom))
    first.migrate()
    first.start()
    wecom.customer_writes("msg-1", "什么时候发货")
    post_callback(first.url)
    wecom.wait_for_sends(1)
    first.stop()  # SIGTERM: drains, as an orchestrator would stop it
    synced_before = len(wecom.syncs)

    wecom.customer_writes("msg-2", "发什么快递")
    second = kefu_factory(**kf_env(wecom)).start()
    post_callback(second.url, signed_callback("cb-token-after-restart"))

    wecom.wait_for_sends(2)
    time.sleep(1.0)
    assert len(wecom.sends) == 2
    assert "中通" in wecom.sends[1]["text"]["content"]
    after_restart = wecom.syncs[synced_before:]
    assert after_restart and all(sync.get("cursor") for sync in after_restart)
    assert after_restart[0]["cursor"] == "cur-1"
    assert query(database, "SELECT count(*) FROM messages WHERE direction = 'in'") == [(2,)]


def test_rejected_access_token_is_refreshed_once_and_the_reply_sent(kf_kefu, wecom, database):
    wecom.send_errcodes.append(40001)
    wecom.customer_writes("msg-1", "什么时候发货")

    post_callback(kf_kefu.url)

    [send] = wecom.wait_for_sends(1)
    assert "48小时" in send["text"]["content"]
    assert wecom.tokens_issued == 2
    wait_until(lambda: query(database, "SELECT status FROM outbox") == [("delivered",)], "the reply delivered")


def test_closed_session_fails_the_delivery_with_its_meaning(kf_kefu, wecom, database):
    wecom.send_errcodes.append(95018)
    wecom.customer_writes("msg-1", "什么时候发货")

    post_callback(kf_kefu.url)

    wait_until(lambda: query(database, "SELECT status FROM outbox") == [("failed",)], "the delivery failed")
    [(error,)] = query(database, "SELECT last_error FROM outbox")
    assert "does not allow API messages" in error and "95018" in error


def test_angry_customer_is_handed_to_the_wecom_pool_after_the_notice(kefu_factory, wecom, database):
    process = kefu_factory(**kf_env(wecom, handoff_service_state=2))
    process.migrate()
    process.start()
    wecom.customer_writes("msg-1", "你们这什么垃圾服务！！！发错货还不给退，转人工")

    post_callback(process.url)

    wait_until(lambda: wecom.transfers, "service_state/trans called")
    assert wecom.transfers == [{"open_kfid": OPEN_KFID, "external_userid": CUSTOMER, "service_state": 2}]
    assert wecom.paths.index("/cgi-bin/kf/send_msg") < wecom.paths.index("/cgi-bin/kf/service_state/trans")
    assert query(database, "SELECT state FROM conversations") == [("queued",)]


def test_without_handoff_setting_the_wecom_session_stays_with_kefu(kf_kefu, wecom, database):
    wecom.customer_writes("msg-1", "转人工")

    post_callback(kf_kefu.url)

    wecom.wait_for_sends(1)
    wait_until(lambda: query(database, "SELECT state FROM conversations") == [("queued",)], "the chat queued")
    time.sleep(0.5)
    assert wecom.transfers == []


def test_a_wecom_conversation_from_question_to_handoff_to_an_agent_reply(kf_kefu, wecom, database):
    """callback → sync → bot answer → angry message → handoff → a kefu agent's reply through send_msg."""
    wecom.customer_writes("msg-1", "什么时候发货")
    post_callback(kf_kefu.url)
    assert "48小时" in wecom.wait_for_sends(1)[0]["text"]["content"]

    wecom.customer_writes("msg-2", "你们这什么垃圾服务！！！")
    post_callback(kf_kefu.url)
    wecom.wait_for_sends(2)
    wait_until(lambda: query(database, "SELECT state FROM conversations") == [("queued",)], "the chat queued")

    token = kf_kefu.add_agent("zhaoliu", skills="complaints")
    headers = {"authorization": f"Bearer {token}"}
    assert (
        httpx.put(f"{kf_kefu.url}/api/agents/me/status", json={"status": "online"}, headers=headers).status_code == 200
    )
    wait_until(lambda: query(database, "SELECT state FROM conversations") == [("with_agent",)], "the chat assigned")
    [(conversation_id,)] = query(database, "SELECT id FROM conversations")
    reply = {"text": "您好，我是客服，马上为您处理"}
    url = f"{kf_kefu.url}/api/conversations/{conversation_id}/messages"
    assert httpx.post(url, json=reply, headers=headers, timeout=10).status_code == 200

    wait_until(lambda: any(s["text"]["content"] == reply["text"] for s in wecom.sends), "the agent's reply sent")
    assert {s["touser"] for s in wecom.sends} == {CUSTOMER}
    assert wecom.transfers == [], "by default the WeCom session stays with the assistant, so the API may send"
