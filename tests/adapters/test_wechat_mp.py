"""The Official Account adapter: callbacks signed and encrypted by wechatpy, Tencent's API as a MockTransport."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime

import httpx
import pytest
from wechatpy.crypto import WeChatCrypto as PlatformCrypto
from wechatpy.utils import WeChatSigner

from adapters.base import Address, OutboundMessage, WebhookRequest
from adapters.errors import DeliveryError, PayloadError, SignatureError
from adapters.wechat_mp import WeChatMPAdapter

APP_ID = "wx1234567890abcdef"
TOKEN = "unit-url-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
NOW = 1_800_000_000
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


def text_xml(content: str = "什么时候发货", *, msg_id: str = "23456789012345678", msg_type: str = "text") -> bytes:
    """An inbound message as Tencent's docs show it."""
    body = f"<Content><![CDATA[{content}]]></Content>" if msg_type == "text" else ""
    return (
        f"<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><FromUserName><![CDATA[{OPENID}]]></FromUserName>"
        f"<CreateTime>{NOW}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>{body}<MsgId>{msg_id}</MsgId></xml>"
    ).encode()


def signed_query(timestamp: int = NOW, nonce: str = "n0nce") -> dict[str, str]:
    signer = WeChatSigner()
    signer.add_data(TOKEN, str(timestamp), nonce)
    return {"signature": signer.signature, "timestamp": str(timestamp), "nonce": nonce}


def safe_request(plain_xml: bytes, *, timestamp: int = NOW, nonce: str = "n0nce") -> WebhookRequest:
    """A safe-mode POST as WeChat sends it: the message encrypted by wechatpy, msg_signature in the query."""
    reply = PlatformCrypto(TOKEN, AES_KEY, APP_ID).encrypt_message(plain_xml.decode(), nonce, timestamp)
    encrypted = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]>", reply)[1]
    msg_signature = re.search(r"<MsgSignature><!\[CDATA\[(.*?)\]\]>", reply)[1]
    body = f"<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    query = {**signed_query(timestamp, nonce), "encrypt_type": "aes", "msg_signature": msg_signature}
    return WebhookRequest("POST", {}, query, body.encode())


def plain_request(body: bytes, query: dict[str, str] | None = None) -> WebhookRequest:
    return WebhookRequest("POST", {}, signed_query() if query is None else query, body)


def adapter(handler=None, *, aes_key: str | None = None, clock=lambda: NOW) -> WeChatMPAdapter:
    transport = httpx.MockTransport(handler or (lambda request: httpx.Response(200, json={"errcode": 0})))
    return WeChatMPAdapter(
        app_id=APP_ID,
        app_secret="unit-app-secret",
        token=TOKEN,
        encoding_aes_key=aes_key,
        client=httpx.AsyncClient(transport=transport),
        api_base="https://api.test",
        clock=clock,
    )


def outbound(text: str = "一般48小时内发货") -> OutboundMessage:
    return OutboundMessage("msg-1", "conv-1", Address("wechat_mp", "default", OPENID), "bot", text)


# URL verification


def test_url_verification_echoes_echostr():
    query = {**signed_query(), "echostr": "5837397520665436492"}
    reply = adapter(aes_key=AES_KEY).handshake(WebhookRequest("GET", {}, query, b""))
    assert reply.body == b"5837397520665436492"
    assert reply.media_type == "text/plain"


def test_url_verification_with_bad_signature_is_refused():
    query = {**signed_query(), "signature": "0" * 40, "echostr": "123"}
    with pytest.raises(SignatureError, match="does not match"):
        adapter().handshake(WebhookRequest("GET", {}, query, b""))


def test_post_is_not_a_handshake():
    assert adapter().handshake(plain_request(text_xml())) is None


# verify and parse


def test_plain_text_message_is_parsed():
    request = plain_request(text_xml("什么时候发货", msg_id="1001"))
    bot = adapter()
    bot.verify(request)
    [message] = bot.parse(request)
    assert message.address == Address("wechat_mp", "default", OPENID)
    assert message.platform_message_id == "1001"
    assert message.text == "什么时候发货"
    assert message.sent_at == datetime.fromtimestamp(NOW, UTC)


def test_safe_mode_message_from_wechatpy_is_decrypted():
    request = safe_request(text_xml("能开发票吗", msg_id="2002"))
    bot = adapter(aes_key=AES_KEY)
    bot.verify(request)
    [message] = bot.parse(request)
    assert (message.text, message.platform_message_id) == ("能开发票吗", "2002")


def test_safe_mode_with_wrong_msg_signature_is_refused():
    request = safe_request(text_xml())
    forged = WebhookRequest("POST", {}, {**request.query, "msg_signature": "0" * 40}, request.body)
    with pytest.raises(SignatureError, match="msg_signature"):
        adapter(aes_key=AES_KEY).verify(forged)


def test_plain_message_is_refused_once_safe_mode_is_configured():
    with pytest.raises(SignatureError, match="no <Encrypt>"):
        adapter(aes_key=AES_KEY).verify(plain_request(text_xml()))


@pytest.mark.parametrize("skew", [-301, 301])
def test_stale_timestamp_is_refused(skew):
    request = plain_request(text_xml(), signed_query(timestamp=NOW + skew))
    with pytest.raises(SignatureError, match="301 s off"):
        adapter().verify(request)


def test_plain_message_with_bad_signature_is_refused():
    with pytest.raises(SignatureError):
        adapter().verify(plain_request(text_xml(), {**signed_query(), "signature": "f" * 40}))


def test_subscribe_event_carries_no_message():
    body = (
        f"<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><FromUserName><![CDATA[{OPENID}]]></FromUserName>"
        f"<CreateTime>{NOW}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event></xml>"
    ).encode()
    assert adapter().parse(plain_request(body)) == []


def test_image_becomes_a_placeholder():
    [message] = adapter().parse(plain_request(text_xml(msg_type="image", msg_id="3003")))
    assert (message.text, message.platform_message_id) == ("[图片]", "3003")


def test_malformed_xml_is_refused():
    with pytest.raises(PayloadError, match="malformed XML") as info:
        adapter().parse(plain_request(b"<xml><MsgType>text</xml>"))
    assert info.value.field == "body"


def test_missing_field_is_named():
    body = text_xml().replace(f"<FromUserName><![CDATA[{OPENID}]]></FromUserName>".encode(), b"")
    with pytest.raises(PayloadError, match="FromUserName") as info:
        adapter().parse(plain_request(body))
    assert info.value.field == "FromUserName"


def test_dtd_and_entities_are_refused():
    body = b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaa">]><xml><Content>&a;&a;</Content></xml>'
    with pytest.raises(PayloadError, match="DTDs and entities"):
        adapter().parse(plain_request(body))


# send_text


class FakeTencent:
    """Tencent's API: token fetches and CS sends recorded; `send_answers` are returned in order, then errcode 0."""

    def __init__(self, *send_answers: httpx.Response) -> None:
        self.tokens_issued = 0
        self.sends: list[tuple[str, dict]] = []
        self._answers = list(send_answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/cgi-bin/token":
            assert request.url.params["appid"] == APP_ID and request.url.params["secret"] == "unit-app-secret"
            self.tokens_issued += 1
            return httpx.Response(200, json={"access_token": f"token-{self.tokens_issued}", "expires_in": 7200})
        assert request.url.path == "/cgi-bin/message/custom/send"
        self.sends.append((request.url.params["access_token"], json.loads(request.content)))
        return self._answers.pop(0) if self._answers else httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})


async def test_token_is_fetched_once_and_cached():
    tencent = FakeTencent()
    bot = adapter(tencent)
    assert await bot.send_text(outbound("一般48小时内发货")) is True
    assert await bot.send_text(outbound("还有别的问题吗")) is True
    assert tencent.tokens_issued == 1
    assert tencent.sends[0] == (
        "token-1",
        {"touser": OPENID, "msgtype": "text", "text": {"content": "一般48小时内发货"}},
    )
    assert [token for token, _ in tencent.sends] == ["token-1", "token-1"]


async def test_token_is_refetched_five_minutes_before_expiry():
    now = [NOW]
    tencent = FakeTencent()
    bot = adapter(tencent, clock=lambda: now[0])
    await bot.send_text(outbound())
    now[0] += 7200 - 300
    await bot.send_text(outbound())
    assert tencent.tokens_issued == 2


async def test_expired_token_is_refreshed_and_the_send_retried_once():
    tencent = FakeTencent(httpx.Response(200, json={"errcode": 42001, "errmsg": "access_token expired"}))
    assert await adapter(tencent).send_text(outbound()) is True
    assert [token for token, _ in tencent.sends] == ["token-1", "token-2"]


async def test_closed_reply_window_is_not_retried():
    tencent = FakeTencent(httpx.Response(200, json={"errcode": 45015, "errmsg": "response out of time limit"}))
    with pytest.raises(DeliveryError, match="48-hour reply window closed") as info:
        await adapter(tencent).send_text(outbound())
    assert info.value.retryable is False


async def test_reply_limit_is_not_retried():
    tencent = FakeTencent(httpx.Response(200, json={"errcode": 45047, "errmsg": "out of response count limit"}))
    with pytest.raises(DeliveryError, match="reply limit") as info:
        await adapter(tencent).send_text(outbound())
    assert info.value.retryable is False


@pytest.mark.parametrize(
    "answer",
    [httpx.Response(200, json={"errcode": 45009, "errmsg": "reach max api daily quota limit"}), httpx.Response(500)],
)
async def test_rate_limit_and_server_errors_are_retryable(answer):
    with pytest.raises(DeliveryError) as info:
        await adapter(FakeTencent(answer)).send_text(outbound())
    assert info.value.retryable is True


async def test_network_error_is_retryable():
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    with pytest.raises(DeliveryError, match="unreachable") as info:
        await adapter(unreachable).send_text(outbound())
    assert info.value.retryable is True


async def test_other_errcode_is_reported_and_not_retried():
    tencent = FakeTencent(httpx.Response(200, json={"errcode": 40003, "errmsg": "invalid openid"}))
    with pytest.raises(DeliveryError, match="errcode 40003: invalid openid") as info:
        await adapter(tencent).send_text(outbound())
    assert info.value.retryable is False


async def test_concurrent_sends_share_one_token_fetch():
    tencent = FakeTencent()

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.01)  # let the other sends run while the token is on its way
        return tencent(request)

    bot = adapter(slow)
    assert await asyncio.gather(*(bot.send_text(outbound()) for _ in range(5))) == [True] * 5
    assert tencent.tokens_issued == 1


async def test_refused_token_fetch_names_the_errcode_but_not_the_secret():
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"errcode": 40125, "errmsg": "invalid appsecret"})

    with pytest.raises(DeliveryError, match="errcode 40125 invalid appsecret") as info:
        await adapter(refuse).send_text(outbound())
    assert "unit-app-secret" not in str(info.value)
