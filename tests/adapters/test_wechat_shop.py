"""The WeChat Shop adapter: pushes encrypted and signed by wechatpy, Tencent's API as a MockTransport."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import httpx
import pytest
from wechatpy.crypto import WeChatCrypto as PlatformCrypto
from wechatpy.utils import WeChatSigner

from adapters.base import Address, OutboundMessage, WebhookRequest
from adapters.errors import DeliveryError, PayloadError, SignatureError
from adapters.wechat_shop import WeChatShopAdapter

APP_ID = "wxshop0123456789ab"
APP_SECRET = "unit-shop-app-secret"
TOKEN = "unit-shop-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
NOW = 1_800_000_000
OPENID = "o7eep4jVQelr2eyoDSmE1unit"


def kf_event(text: str | None = "什么时候发货", *, msg_id: str | int = "3895464567618158592", **fields) -> dict:
    """A commkf_send_msg_to_kf push, decrypted, with the fields the kf_msg_event doc lists."""
    event = {
        "ToUserName": "gh_0123456789ab",
        "FromUserName": OPENID,
        "CreateTime": NOW,
        "MsgType": "event",
        "Event": "commkf_send_msg_to_kf",
        "msg_id": msg_id,
        "msg_type": "text",
        "msg_event": "EVENT_TYPE_SEND_MSG",
    }
    if text is not None:
        event["text"] = {"content": text}
    return {**event, **fields}


def signed_query(timestamp: int = NOW, nonce: str = "n0nce") -> dict[str, str]:
    signer = WeChatSigner()
    signer.add_data(TOKEN, str(timestamp), nonce)
    return {"signature": signer.signature, "timestamp": str(timestamp), "nonce": nonce}


def push(event: dict, *, app_id: str = APP_ID, timestamp: int = NOW, nonce: str = "n0nce") -> WebhookRequest:
    """The push as the shop sends it: JSON encrypted by wechatpy, {"ToUserName", "Encrypt"}, msg_signature."""
    plain = json.dumps(event, ensure_ascii=False)
    reply = PlatformCrypto(TOKEN, AES_KEY, app_id).encrypt_message(plain, nonce, timestamp)
    encrypted = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]>", reply)[1]
    msg_signature = re.search(r"<MsgSignature><!\[CDATA\[(.*?)\]\]>", reply)[1]
    body = json.dumps({"ToUserName": "gh_0123456789ab", "Encrypt": encrypted}).encode()
    query = {**signed_query(timestamp, nonce), "openid": OPENID, "encrypt_type": "aes", "msg_signature": msg_signature}
    return WebhookRequest("POST", {"content-type": "application/json"}, query, body)


def adapter(handler=None, *, clock=lambda: NOW) -> WeChatShopAdapter:
    transport = httpx.MockTransport(handler or (lambda request: httpx.Response(200, json={"errcode": 0})))
    return WeChatShopAdapter(
        account="shop",
        app_id=APP_ID,
        app_secret=APP_SECRET,
        token=TOKEN,
        encoding_aes_key=AES_KEY,
        client=httpx.AsyncClient(transport=transport),
        api_base="https://api.test",
        clock=clock,
    )


def received(request: WebhookRequest) -> list:
    bot = adapter()
    bot.verify(request)
    return bot.parse(request)


def outbound(text: str = "一般48小时内发货") -> OutboundMessage:
    return OutboundMessage("msg-1", "conv-1", Address("wechat_shop", "shop", OPENID), "bot", text)


# URL verification


def test_url_verification_echoes_echostr():
    query = {**signed_query(), "echostr": "4375120948345356249"}
    reply = adapter().handshake(WebhookRequest("GET", {}, query, b""))
    assert (reply.body, reply.media_type) == (b"4375120948345356249", "text/plain")


def test_url_verification_with_bad_signature_is_refused():
    query = {**signed_query(), "signature": "0" * 40, "echostr": "123"}
    with pytest.raises(SignatureError, match="does not match"):
        adapter().handshake(WebhookRequest("GET", {}, query, b""))


def test_post_is_not_a_handshake():
    assert adapter().handshake(push(kf_event())) is None


# verify and parse


def test_text_message_from_wechatpy_is_parsed():
    [message] = received(push(kf_event("能开发票吗", msg_id="3895464567618158593")))
    assert message.address == Address("wechat_shop", "shop", OPENID)
    assert message.platform_message_id == "3895464567618158593"
    assert message.text == "能开发票吗"
    assert message.sent_at == datetime.fromtimestamp(NOW, UTC)


def test_numeric_msg_id_is_accepted_as_text():
    [message] = received(push(kf_event(msg_id=3895464567618158594)))
    assert message.platform_message_id == "3895464567618158594"


def test_tampered_msg_signature_is_refused_with_401():
    request = push(kf_event())
    forged = WebhookRequest("POST", {}, {**request.query, "msg_signature": "0" * 40}, request.body)
    with pytest.raises(SignatureError, match="msg_signature") as info:
        adapter().verify(forged)
    assert info.value.status_code == 401


def test_tampered_ciphertext_is_refused():
    request = push(kf_event())
    body = json.loads(request.body)
    body["Encrypt"] = body["Encrypt"][:-8] + "AAAAAAA="
    with pytest.raises(SignatureError, match="msg_signature"):
        adapter().verify(WebhookRequest("POST", {}, request.query, json.dumps(body).encode()))


def test_push_encrypted_for_another_appid_is_refused():
    request = push(kf_event(), app_id="wxsomeoneelse000001")
    bot = adapter()
    bot.verify(request)  # signed with our token: only the receive id inside tells
    with pytest.raises(PayloadError, match="receive id mismatch") as info:
        bot.parse(request)
    assert info.value.status_code == 422


@pytest.mark.parametrize("skew", [-301, 301])
def test_stale_timestamp_is_refused(skew):
    with pytest.raises(SignatureError, match="301 s off"):
        adapter().verify(push(kf_event(), timestamp=NOW + skew))


def test_plain_json_push_is_refused_as_unsigned():
    request = WebhookRequest("POST", {}, signed_query(), json.dumps(kf_event()).encode())
    with pytest.raises(SignatureError, match="only safe mode") as info:
        adapter().verify(request)
    assert info.value.status_code == 401


def test_xml_push_is_refused_with_the_reason():
    body = b"<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><Encrypt><![CDATA[abc]]></Encrypt></xml>"
    with pytest.raises(PayloadError, match="XML is not supported") as info:
        adapter().verify(WebhookRequest("POST", {}, signed_query(), body))
    assert info.value.status_code == 422


def test_malformed_json_is_refused():
    with pytest.raises(PayloadError, match="malformed JSON"):
        adapter().verify(WebhookRequest("POST", {}, signed_query(), b'{"Encrypt": '))


def test_other_shop_events_carry_no_message():
    order_paid = {"ToUserName": "gh_0123456789ab", "FromUserName": OPENID, "CreateTime": NOW, "MsgType": "event"}
    order_paid |= {"Event": "channels_ec_order_pay", "order_info": {"order_id": 3705115058471208928}}
    assert received(push(order_paid)) == []


def test_kf_event_that_is_not_a_sent_message_carries_nothing():
    assert received(push(kf_event(msg_event="EVENT_TYPE_SOMETHING_ELSE"))) == []


@pytest.mark.parametrize(
    ("kind", "content", "text"),
    [
        ("image", {}, "[图片]"),
        ("voice", {}, "[语音]"),
        ("video", {}, "[视频]"),
        ("file", {}, "[文件]"),
        ("product_share", {"product_id": "10000029995561"}, "[商品卡片] 商品ID 10000029995561"),
        ("order_share", {"order_id": "3726470000000000001"}, "[订单卡片] 订单号 3726470000000000001"),
        ("order_share", {}, "[订单卡片]"),
        ("miniprogram", {}, "[暂不支持的消息]"),
    ],
)
def test_non_text_messages_become_notices_for_the_agent(kind, content, text):
    [message] = received(push(kf_event(None, msg_type=kind, **{kind: content})))
    assert message.text == text


def test_kind_is_taken_from_the_content_when_msg_type_is_not_a_string():
    event = kf_event(None, msg_type={"order_share": {}}, order_share={"order_id": "3726470000000000002"})
    [message] = received(push(event))
    assert message.text == "[订单卡片] 订单号 3726470000000000002"


@pytest.mark.parametrize(
    ("breakage", "field"),
    [
        (lambda e: e.pop("msg_id"), "msg_id"),
        (lambda e: e.pop("FromUserName"), "FromUserName"),
        (lambda e: e.update(text={"content": " "}), "text.content"),
        (lambda e: e.update(CreateTime="yesterday"), "CreateTime"),
    ],
)
def test_missing_or_bad_fields_are_named(breakage, field):
    event = kf_event()
    breakage(event)
    with pytest.raises(PayloadError, match=field) as info:
        received(push(event))
    assert info.value.field == field


def test_acknowledge_is_success():
    reply = adapter().acknowledge(accepted=1, duplicates=0)
    assert (reply.status_code, reply.body) == (200, b"success")


# send_text


class FakeTencent:
    """Token fetches and sendmsg calls recorded; `send_answers` are returned in order, then errcode 0."""

    def __init__(self, *send_answers: httpx.Response) -> None:
        self.tokens_issued = 0
        self.sends: list[tuple[str, dict]] = []
        self._answers = list(send_answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/cgi-bin/token":
            assert request.url.params["appid"] == APP_ID and request.url.params["secret"] == APP_SECRET
            self.tokens_issued += 1
            return httpx.Response(200, json={"access_token": f"token-{self.tokens_issued}", "expires_in": 7200})
        assert request.url.path == "/channels/ec/commkf/sendmsg"
        self.sends.append((request.url.params["access_token"], json.loads(request.content)))
        answer = {"errcode": 0, "errmsg": "ok", "msg_id": "3895464567618158592"}
        return self._answers.pop(0) if self._answers else httpx.Response(200, json=answer)


async def test_send_posts_sendmsg_with_the_message_id_as_request_id():
    tencent = FakeTencent()
    bot = adapter(tencent)
    assert await bot.send_text(outbound("一般48小时内发货")) is True
    assert await bot.send_text(outbound("还有别的问题吗")) is True
    assert tencent.tokens_issued == 1
    assert tencent.sends[0] == (
        "token-1",
        {"request_id": "msg-1", "open_id": OPENID, "msg_type": "text", "text": {"content": "一般48小时内发货"}},
    )


@pytest.mark.parametrize("errcode", [40001, 42001])
async def test_rejected_token_is_refreshed_and_the_send_retried_once(errcode):
    tencent = FakeTencent(httpx.Response(200, json={"errcode": errcode, "errmsg": "invalid credential"}))
    assert await adapter(tencent).send_text(outbound()) is True
    assert [token for token, _ in tencent.sends] == ["token-1", "token-2"]


async def test_token_still_refused_after_refresh_is_retried_later():
    refuse = httpx.Response(200, json={"errcode": 40001, "errmsg": "invalid credential"})
    tencent = FakeTencent(refuse, refuse)
    with pytest.raises(DeliveryError, match="errcode 40001") as info:
        await adapter(tencent).send_text(outbound())
    assert info.value.retryable is True
    assert len(tencent.sends) == 2


@pytest.mark.parametrize(
    "answer", [httpx.Response(200, json={"errcode": -1, "errmsg": "system error"}), httpx.Response(502)]
)
async def test_busy_and_server_errors_are_retryable(answer):
    with pytest.raises(DeliveryError) as info:
        await adapter(FakeTencent(answer)).send_text(outbound())
    assert info.value.retryable is True


async def test_other_errcode_is_reported_and_not_retried():
    tencent = FakeTencent(httpx.Response(200, json={"errcode": 40003, "errmsg": "invalid openid"}))
    with pytest.raises(DeliveryError, match="errcode 40003: invalid openid") as info:
        await adapter(tencent).send_text(outbound())
    assert info.value.retryable is False
    assert APP_SECRET not in str(info.value)
