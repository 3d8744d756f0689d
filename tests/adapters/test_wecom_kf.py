"""The WeCom KF adapter: callbacks made by wechatpy's enterprise crypto, Tencent's API as a MockTransport."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from datetime import UTC, datetime

import httpx
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from wechatpy.enterprise.crypto import WeChatCrypto as PlatformCrypto

from adapters.base import Address, OutboundMessage, SyncHint, WebhookRequest
from adapters.errors import DeliveryError, PayloadError, PlatformCallError, SignatureError
from adapters.wechat_crypto import signature
from adapters.wecom_kf import WeComKFAdapter
from adapters.wecom_kf_messages import customer_id, message_text, split_customer_id

CORP_ID = "ww0123456789abcdef"
TOKEN = "unit-callback-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
NOW = 1_800_000_000
OPEN_KFID = "wkAJ2GCAAAZSfhHCt7IFSvLKtMPxyJTw"
EXTERNAL_USERID = "wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw"
CALLBACK_TOKEN = "ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR"


def event_xml(*, event: str = "kf_msg_or_event", open_kfid: str = OPEN_KFID) -> str:
    """The decrypted callback as Tencent's docs show it."""
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><CreateTime>{NOW}</CreateTime>"
        f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>"
        f"<Token><![CDATA[{CALLBACK_TOKEN}]]></Token><OpenKfId><![CDATA[{open_kfid}]]></OpenKfId></xml>"
    )


def encrypted(plain: str, *, corp_id: str = CORP_ID, timestamp: int = NOW, nonce: str = "n0nce") -> tuple[str, str]:
    """(Encrypt, msg_signature) as WeCom's servers make them, by wechatpy."""
    reply = PlatformCrypto(TOKEN, AES_KEY, corp_id).encrypt_message(plain, nonce, timestamp)
    return re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]>", reply)[1], re.search(
        r"<MsgSignature><!\[CDATA\[(.*?)\]\]>", reply
    )[1]


def callback(plain: str = "", *, timestamp: int = NOW, nonce: str = "n0nce", **kwargs) -> WebhookRequest:
    ciphertext, msg_signature = encrypted(plain or event_xml(), timestamp=timestamp, nonce=nonce, **kwargs)
    body = f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{ciphertext}]]></Encrypt>"
    body += "<AgentID><![CDATA[1000002]]></AgentID></xml>"
    query = {"msg_signature": msg_signature, "timestamp": str(timestamp), "nonce": nonce}
    return WebhookRequest("POST", {}, query, body.encode())


def signed_raw(ciphertext: str, *, timestamp: int = NOW, nonce: str = "n0nce") -> WebhookRequest:
    """A callback around any ciphertext, correctly signed with our token."""
    body = f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{ciphertext}]]></Encrypt></xml>"
    query = {"msg_signature": signature(TOKEN, str(timestamp), nonce, ciphertext), "timestamp": str(timestamp)}
    return WebhookRequest("POST", {}, {**query, "nonce": nonce}, body.encode())


class FakeAPI:
    """Tencent's API for one test: scripted answers per path, every call recorded."""

    def __init__(self, **answers: list[dict]) -> None:
        self.answers = {path.replace("__", "/"): list(script) for path, script in answers.items()}
        self.calls: list[tuple[str, dict, dict | None]] = []
        self.tokens_issued = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/cgi-bin/")
        body = json.loads(request.content) if request.content else None
        self.calls.append((path, dict(request.url.params), body))
        if path == "gettoken":
            self.tokens_issued += 1
            return httpx.Response(
                200, json={"errcode": 0, "access_token": f"tok-{self.tokens_issued}", "expires_in": 7200}
            )
        script = self.answers.get(path, [])
        return httpx.Response(200, json=script.pop(0) if script else {"errcode": 0, "errmsg": "ok"})

    def bodies(self, path: str) -> list[dict]:
        return [body for called, _, body in self.calls if called == path]


def adapter(api: FakeAPI | None = None, **kwargs) -> WeComKFAdapter:
    transport = httpx.MockTransport(api or FakeAPI())
    return WeComKFAdapter(
        corp_id=CORP_ID,
        secret="unit-kf-secret",
        token=TOKEN,
        encoding_aes_key=AES_KEY,
        client=httpx.AsyncClient(transport=transport),
        api_base="https://qyapi.test",
        clock=lambda: NOW,
        **kwargs,
    )


def item(msgid: str, *, origin: int = 3, msgtype: str = "text", **body) -> dict:
    """One sync_msg `msg_list` entry as the docs show it."""
    entry = {"msgid": msgid, "open_kfid": OPEN_KFID, "external_userid": EXTERNAL_USERID, "send_time": NOW}
    entry |= {"origin": origin, "msgtype": msgtype}
    if origin == 5:
        entry["servicer_userid"] = "zhangsan"
    entry[msgtype] = body or ({"content": "什么时候发货"} if msgtype == "text" else {})
    return entry


def outbound(text: str = "一般48小时内发货") -> OutboundMessage:
    return OutboundMessage(
        "msg-1", "conv-1", Address("wecom_kf", "default", customer_id(OPEN_KFID, EXTERNAL_USERID)), "bot", text
    )


# URL verification


def test_url_verification_answers_the_decrypted_echostr():
    echostr, msg_signature = encrypted("5837397520665436492")
    query = {"msg_signature": msg_signature, "timestamp": str(NOW), "nonce": "n0nce", "echostr": echostr}

    reply = adapter().handshake(WebhookRequest("GET", {}, query, b""))

    assert reply.body == b"5837397520665436492"
    assert reply.media_type == "text/plain"


def test_url_verification_with_a_forged_signature_is_refused():
    echostr, _ = encrypted("123")
    query = {"msg_signature": "0" * 40, "timestamp": str(NOW), "nonce": "n0nce", "echostr": echostr}
    with pytest.raises(SignatureError, match="msg_signature"):
        adapter().handshake(WebhookRequest("GET", {}, query, b""))


def test_post_is_not_a_handshake():
    assert adapter().handshake(callback()) is None


# verify and the callback


def test_callback_from_wechatpy_asks_to_pull_its_kf_account():
    request = callback()
    kf = adapter()
    kf.verify(request)

    assert kf.parse(request) == []
    assert kf.sync_hints(request) == [SyncHint(OPEN_KFID, CALLBACK_TOKEN)]


def test_tampered_signature_is_refused():
    request = callback()
    forged = WebhookRequest("POST", {}, {**request.query, "msg_signature": "f" * 40}, request.body)
    with pytest.raises(SignatureError, match="msg_signature") as caught:
        adapter().verify(forged)
    assert caught.value.status_code == 401


@pytest.mark.parametrize("skew", [-301, 301])
def test_stale_timestamp_is_refused(skew):
    with pytest.raises(SignatureError, match="301 s off"):
        adapter().verify(callback(timestamp=NOW + skew))


def test_callback_without_encrypt_is_refused():
    request = WebhookRequest("POST", {}, {"msg_signature": "0" * 40, "timestamp": str(NOW), "nonce": "n"}, b"<xml/>")
    with pytest.raises(SignatureError, match="no <Encrypt>"):
        adapter().verify(request)


def test_callback_for_another_corp_is_rejected():
    request = callback(corp_id="wwSomeoneElse00000")
    kf = adapter()
    kf.verify(request)  # same token: the signature holds, the receive id does not
    with pytest.raises(PayloadError, match="receive id mismatch"):
        kf.sync_hints(request)


def test_bad_padding_is_rejected():
    key = base64.b64decode(AES_KEY + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    ciphertext = base64.b64encode(encryptor.update(b"\x00" * 31 + b"\x21") + encryptor.finalize()).decode()
    request = signed_raw(ciphertext)
    kf = adapter()
    kf.verify(request)
    with pytest.raises(PayloadError, match="bad padding"):
        kf.sync_hints(request)


def test_other_events_ask_for_no_pull():
    assert adapter().sync_hints(callback(event_xml(event="change_external_contact"))) == []


def test_kf_event_without_open_kfid_is_refused():
    with pytest.raises(PayloadError, match="OpenKfId"):
        adapter().sync_hints(callback(event_xml(open_kfid="")))


def test_acknowledge_is_plain_success():
    reply = adapter().acknowledge(accepted=0, duplicates=0)
    assert (reply.body, reply.media_type) == (b"success", "text/plain")


# sync_msg


async def test_pull_maps_customer_messages_and_skips_events_and_servicers():
    event = {"msgid": "e1", "origin": 4, "msgtype": "event", "event": {"event_type": "enter_session"}}
    page = {"errcode": 0, "next_cursor": "c2", "has_more": 1, "msg_list": [item("m1"), event, item("m2", origin=5)]}
    api = FakeAPI(kf__sync_msg=[page])

    pulled = await adapter(api, account="shop").pull(OPEN_KFID, "c1", CALLBACK_TOKEN)

    [message] = pulled.messages
    assert message.address == Address("wecom_kf", "shop", f"{OPEN_KFID}:{EXTERNAL_USERID}")
    assert (message.platform_message_id, message.text) == ("m1", "什么时候发货")
    assert message.sent_at == datetime.fromtimestamp(NOW, UTC)
    assert (pulled.next_cursor, pulled.has_more) == ("c2", True)
    assert api.bodies("kf/sync_msg") == [
        {"cursor": "c1", "token": CALLBACK_TOKEN, "limit": 1000, "open_kfid": OPEN_KFID}
    ]


async def test_first_pull_sends_no_cursor():
    api = FakeAPI(kf__sync_msg=[{"errcode": 0, "next_cursor": "c1", "has_more": 0, "msg_list": []}])
    await adapter(api).pull(OPEN_KFID, None, None)
    assert api.bodies("kf/sync_msg") == [{"limit": 1000, "open_kfid": OPEN_KFID}]


async def test_stale_callback_token_is_dropped_and_the_pull_repeated():
    stale = {"errcode": 95007, "errmsg": "invalid msg token"}
    api = FakeAPI(kf__sync_msg=[stale, {"errcode": 0, "next_cursor": "c1", "has_more": 0, "msg_list": [item("m1")]}])

    pulled = await adapter(api).pull(OPEN_KFID, "c0", "old-token")

    assert len(pulled.messages) == 1
    assert [body.get("token") for body in api.bodies("kf/sync_msg")] == ["old-token", None]


async def test_pull_refused_raises_with_the_code():
    api = FakeAPI(kf__sync_msg=[{"errcode": 95000, "errmsg": "invalid open_kfid"}])
    with pytest.raises(PlatformCallError, match="errcode 95000: invalid open_kfid"):
        await adapter(api).pull(OPEN_KFID, None, None)


@pytest.mark.parametrize(
    ("msgtype", "body", "text"),
    [
        ("image", {"media_id": "2iSLeVyqzk"}, "[图片]"),
        ("voice", {"media_id": "2iSLeVyqzk"}, "[语音]"),
        ("video", {"media_id": "2iSLeVyqzk"}, "[视频]"),
        ("file", {"media_id": "2iSLeVyqzk"}, "[文件]"),
        (
            "location",
            {"latitude": 23.1, "longitude": 113.3, "name": "漕溪北路", "address": "徐汇区"},
            "[位置] 漕溪北路 徐汇区",
        ),
        ("link", {"title": "退货说明", "desc": "…", "url": "https://x.test"}, "[链接] 退货说明"),
        ("business_card", {"userid": "zhangsan"}, "[名片]"),
        ("miniprogram", {"title": "小店", "appid": "wx1"}, "[小程序] 小店"),
        (
            "channels_shop_product",
            {"product_id": "1", "title": "保温杯", "sales_price": "99.00"},
            "[视频号商品] 保温杯 99.00",
        ),
        ("channels_shop_order", {"order_id": "3705", "product_titles": "保温杯"}, "[视频号订单] 3705 保温杯"),
        ("unknown_future_type", {}, "[暂不支持的消息]"),
    ],
)
def test_non_text_messages_become_readable_notices(msgtype, body, text):
    assert message_text(item("m", msgtype=msgtype, **body)) == text


def test_customer_id_round_trips():
    assert split_customer_id(customer_id(OPEN_KFID, EXTERNAL_USERID)) == (OPEN_KFID, EXTERNAL_USERID)
    with pytest.raises(ValueError):
        split_customer_id("no-separator")


# send_msg


async def test_send_text_posts_to_the_customer_through_the_kf_account():
    api = FakeAPI()
    assert await adapter(api).send_text(outbound("一般48小时内发货")) is True
    [(path, params, body)] = [call for call in api.calls if call[0] == "kf/send_msg"]
    assert params == {"access_token": "tok-1"}
    assert body == {
        "touser": EXTERNAL_USERID,
        "open_kfid": OPEN_KFID,
        "msgtype": "text",
        "text": {"content": "一般48小时内发货"},
    }


async def test_rejected_access_token_is_refreshed_once_and_the_send_repeated():
    api = FakeAPI(kf__send_msg=[{"errcode": 40001, "errmsg": "invalid credential"}])
    assert await adapter(api).send_text(outbound()) is True
    assert [params["access_token"] for path, params, _ in api.calls if path == "kf/send_msg"] == ["tok-1", "tok-2"]


async def test_access_token_is_cached_between_calls():
    api = FakeAPI()
    kf = adapter(api)
    await kf.send_text(outbound())
    await kf.send_text(outbound())
    assert api.tokens_issued == 1
    assert [params for path, params, _ in api.calls if path == "gettoken"] == [
        {"corpid": CORP_ID, "corpsecret": "unit-kf-secret"}
    ]


@pytest.mark.parametrize(
    ("errcode", "meaning"),
    [(45015, "over 48 hours ago"), (95018, "a WeCom servicer owns it")],
)
async def test_send_refusals_fail_for_good_with_their_meaning(errcode, meaning):
    api = FakeAPI(kf__send_msg=[{"errcode": errcode, "errmsg": "refused"}])
    with pytest.raises(DeliveryError, match=meaning) as caught:
        await adapter(api).send_text(outbound())
    assert caught.value.retryable is False
    assert f"errcode {errcode}" in caught.value.reason


async def test_unknown_send_error_carries_code_and_message():
    api = FakeAPI(kf__send_msg=[{"errcode": 95001, "errmsg": "some limit"}])
    with pytest.raises(DeliveryError, match="errcode 95001: some limit"):
        await adapter(api).send_text(outbound())


async def test_system_busy_is_retryable():
    api = FakeAPI(kf__send_msg=[{"errcode": -1, "errmsg": "system busy"}])
    with pytest.raises(DeliveryError) as caught:
        await adapter(api).send_text(outbound())
    assert caught.value.retryable is True


async def test_unreachable_api_is_a_retryable_delivery_error():
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    kf = WeComKFAdapter(
        corp_id=CORP_ID,
        secret="s",
        token=TOKEN,
        encoding_aes_key=AES_KEY,
        client=httpx.AsyncClient(transport=httpx.MockTransport(down)),
    )
    with pytest.raises(DeliveryError, match="unreachable") as caught:
        await kf.send_text(outbound())
    assert caught.value.retryable is True


# handoff


async def test_handoff_does_nothing_by_default():
    api = FakeAPI()
    await adapter(api).on_handoff(outbound().address, "presale")
    assert api.calls == []


async def test_handoff_to_the_wecom_pool():
    api = FakeAPI()
    await adapter(api, handoff_service_state=2).on_handoff(outbound().address, "presale")
    assert api.bodies("kf/service_state/trans") == [
        {"open_kfid": OPEN_KFID, "external_userid": EXTERNAL_USERID, "service_state": 2}
    ]


async def test_handoff_to_a_servicer_names_them():
    api = FakeAPI()
    await adapter(api, handoff_service_state=3, servicer_userid="zhangsan").on_handoff(outbound().address, "presale")
    [body] = api.bodies("kf/service_state/trans")
    assert (body["service_state"], body["servicer_userid"]) == (3, "zhangsan")


async def test_refused_handoff_raises_with_the_code():
    api = FakeAPI(kf__service_state__trans=[{"errcode": 95016, "errmsg": "invalid state transition"}])
    with pytest.raises(PlatformCallError, match="95016"):
        await adapter(api, handoff_service_state=2).on_handoff(outbound().address, "presale")


def test_state_3_without_servicer_is_a_configuration_error():
    with pytest.raises(ValueError, match="servicer_userid"):
        adapter(handoff_service_state=3)


def test_concurrent_sends_fetch_one_token():
    api = FakeAPI()
    kf = adapter(api)

    async def both():
        await asyncio.gather(kf.send_text(outbound()), kf.send_text(outbound()))

    asyncio.run(both())
    assert api.tokens_issued == 1
