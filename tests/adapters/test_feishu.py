"""The Feishu adapter: events encrypted and signed as lark-oapi expects them, the open API as a MockTransport."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import httpx
import pytest

from adapters.base import Address, OutboundMessage, WebhookRequest
from adapters.errors import DeliveryError, PayloadError, SignatureError
from adapters.feishu import FeishuAdapter
from tests.utils.feishu_events import APP_ID, CHAT_ID, NOW_MS, challenge, message_event, other_event, signed

TOKEN = "unit-verification-token"
ENCRYPT_KEY = "unit-encrypt-key-0123456789"
NOW = NOW_MS // 1000


def request(payload: dict, *, encrypt_key: str | None = ENCRYPT_KEY, timestamp: int = NOW) -> WebhookRequest:
    headers, body = signed(payload, encrypt_key=encrypt_key, token=TOKEN, timestamp=timestamp)
    return WebhookRequest("POST", headers, {}, body)


def adapter(handler=None, *, encrypt_key: str | None = ENCRYPT_KEY, token: str | None = TOKEN, clock=lambda: NOW):
    transport = httpx.MockTransport(handler or FakeFeishu())
    return FeishuAdapter(
        account="shop",
        app_id=APP_ID,
        app_secret="unit-app-secret",
        verification_token=token,
        encrypt_key=encrypt_key,
        client=httpx.AsyncClient(transport=transport),
        api_base="https://open.test",
        clock=clock,
    )


def outbound(text: str = "一般48小时内发货") -> OutboundMessage:
    return OutboundMessage("msg-1", "conv-1", Address("feishu", "shop", CHAT_ID), "bot", text)


# URL verification


@pytest.mark.parametrize("encrypt_key", [ENCRYPT_KEY, None])
def test_url_verification_answers_the_challenge(encrypt_key):
    reply = adapter(encrypt_key=encrypt_key).handshake(request(challenge(TOKEN), encrypt_key=encrypt_key))
    assert json.loads(reply.body) == {"challenge": "ajls384kdjx98XX"}


def test_url_verification_with_the_wrong_token_is_refused():
    forged = WebhookRequest("POST", {}, {}, json.dumps(challenge("not-the-token")).encode())
    with pytest.raises(SignatureError, match="verification token"):
        adapter(encrypt_key=None).handshake(forged)


def test_with_only_an_encrypt_key_a_plain_challenge_is_refused():
    plain = WebhookRequest("POST", {}, {}, json.dumps(challenge("anything")).encode())
    with pytest.raises(SignatureError, match="unencrypted challenge"):
        adapter(token=None).handshake(plain)
    reply = adapter(token=None).handshake(request(challenge(TOKEN)))
    assert json.loads(reply.body) == {"challenge": "ajls384kdjx98XX"}


def test_an_event_is_not_a_handshake():
    assert adapter().handshake(request(message_event("ev_1", token=TOKEN))) is None


# verify and parse


@pytest.mark.parametrize("encrypt_key", [ENCRYPT_KEY, None])
def test_text_message_is_parsed(encrypt_key):
    webhook = request(message_event("ev_1001", "什么时候发货", token=TOKEN), encrypt_key=encrypt_key)
    bot = adapter(encrypt_key=encrypt_key)
    bot.verify(webhook)
    [message] = bot.parse(webhook)
    assert message.address == Address("feishu", "shop", CHAT_ID)
    assert message.platform_message_id == "ev_1001"
    assert message.text == "什么时候发货"
    assert message.sent_at == datetime.fromtimestamp(NOW, UTC)


def test_mentions_are_dropped_from_group_messages():
    [message] = adapter().parse(request(message_event("ev_1002", "@_user_1 能开发票吗", token=TOKEN)))
    assert message.text == "能开发票吗"


def test_wrong_signature_is_refused():
    webhook = request(message_event("ev_1", token=TOKEN))
    forged = WebhookRequest("POST", {**webhook.headers, "x-lark-signature": "0" * 64}, {}, webhook.body)
    with pytest.raises(SignatureError, match="X-Lark-Signature does not match"):
        adapter().verify(forged)


def test_missing_signature_headers_are_refused():
    webhook = request(message_event("ev_1", token=TOKEN))
    with pytest.raises(SignatureError, match="missing"):
        adapter().verify(WebhookRequest("POST", {}, {}, webhook.body))


@pytest.mark.parametrize("skew", [-301, 301])
def test_stale_timestamp_is_refused(skew):
    with pytest.raises(SignatureError, match="301 s off"):
        adapter().verify(request(message_event("ev_1", token=TOKEN), timestamp=NOW + skew))


def test_plain_event_with_the_wrong_token_is_refused():
    body = json.dumps(message_event("ev_1", token="not-the-token")).encode()
    with pytest.raises(SignatureError, match="verification token does not match"):
        adapter(encrypt_key=None).verify(WebhookRequest("POST", {}, {}, body))


def test_without_token_or_key_every_event_is_refused():
    body = json.dumps(message_event("ev_1", token=TOKEN)).encode()
    with pytest.raises(SignatureError, match="no verification_token or encrypt_key"):
        adapter(encrypt_key=None, token=None).verify(WebhookRequest("POST", {}, {}, body))


def test_encrypted_event_without_a_configured_key_is_refused():
    with pytest.raises(SignatureError, match="no encrypt_key"):
        adapter(encrypt_key=None).verify(request(message_event("ev_1", token=TOKEN)))


@pytest.mark.parametrize(
    ("message_type", "content", "text"),
    [
        ("image", {"image_key": "img_v2_041b"}, "[图片]"),
        ("file", {"file_key": "file_v2_1", "file_name": "订单.pdf"}, "[文件] 订单.pdf"),
        ("audio", {"file_key": "file_v2_2", "duration": 2000}, "[语音]"),
        ("sticker", {"file_key": "file_v2_3"}, "[表情]"),
        ("todo", {"task_id": "t"}, "[暂不支持的消息]"),
    ],
)
def test_non_text_messages_become_placeholders(message_type, content, text):
    event = message_event("ev_1003", token=TOKEN, message_type=message_type, content=content)
    [message] = adapter().parse(request(event))
    assert message.text == text


def test_other_events_carry_no_message():
    assert adapter().parse(request(other_event("ev_1004", "im.chat.member.bot.added_v1", token=TOKEN))) == []


@pytest.mark.parametrize(
    ("breakage", "field"),
    [
        (lambda e: e["header"].pop("event_id"), "header.event_id"),
        (lambda e: e["event"]["message"].pop("chat_id"), "event.message.chat_id"),
        (lambda e: e["event"]["message"].update(content="{not json"), "event.message.content"),
        (lambda e: e["event"]["message"].update(create_time="today"), "event.message.create_time"),
        (lambda e: e.update(schema="1.0"), "schema"),
    ],
)
def test_missing_or_bad_fields_are_named(breakage, field):
    event = message_event("ev_1005", token=TOKEN)
    breakage(event)
    body = json.dumps(event).encode()
    with pytest.raises(PayloadError, match=field) as info:
        adapter(encrypt_key=None).parse(WebhookRequest("POST", {}, {}, body))
    assert info.value.field == field


def test_undecryptable_body_is_refused():
    with pytest.raises(PayloadError, match="cannot decrypt") as info:
        adapter().parse(WebhookRequest("POST", {}, {}, b'{"encrypt": "bm90IG91ciBjaXBoZXJ0ZXh0IGF0IGFsbA=="}'))
    assert info.value.field == "encrypt"


def test_acknowledge_is_an_empty_json_object():
    reply = adapter().acknowledge(accepted=1, duplicates=0)
    assert (reply.status_code, reply.body) == (200, b"{}")


# send_text


class FakeFeishu:
    """The open API: tokens issued and sends recorded; `send_answers` are returned in order, then code 0."""

    def __init__(self, *send_answers: httpx.Response) -> None:
        self.tokens_issued = 0
        self.sends: list[tuple[str, dict]] = []
        self._answers = list(send_answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/open-apis/auth/v3/tenant_access_token/internal":
            assert json.loads(request.content) == {"app_id": APP_ID, "app_secret": "unit-app-secret"}
            self.tokens_issued += 1
            token = f"t-{self.tokens_issued}"
            return httpx.Response(200, json={"code": 0, "msg": "ok", "tenant_access_token": token, "expire": 7200})
        assert request.url.path == "/open-apis/im/v1/messages"
        assert request.url.params["receive_id_type"] == "chat_id"
        self.sends.append((request.headers["authorization"], json.loads(request.content)))
        return self._answers.pop(0) if self._answers else httpx.Response(200, json={"code": 0, "msg": "success"})


async def test_send_posts_a_text_message_to_the_chat_with_a_cached_token():
    feishu = FakeFeishu()
    bot = adapter(feishu)
    assert await bot.send_text(outbound("一般48小时内发货")) is True
    assert await bot.send_text(outbound("还有别的问题吗")) is True
    assert feishu.tokens_issued == 1
    authorization, body = feishu.sends[0]
    assert authorization == "Bearer t-1"
    assert body == {"receive_id": CHAT_ID, "msg_type": "text", "content": '{"text": "一般48小时内发货"}'}


async def test_token_is_refetched_five_minutes_before_expiry():
    now = [NOW]
    feishu = FakeFeishu()
    bot = adapter(feishu, clock=lambda: now[0])
    await bot.send_text(outbound())
    now[0] += 7200 - 300
    await bot.send_text(outbound())
    assert feishu.tokens_issued == 2


@pytest.mark.parametrize("code", [99991663, 99991661])
async def test_invalid_token_is_refreshed_and_the_send_retried_once(code):
    feishu = FakeFeishu(httpx.Response(400, json={"code": code, "msg": "Invalid access token for authorization"}))
    assert await adapter(feishu).send_text(outbound()) is True
    assert [authorization for authorization, _ in feishu.sends] == ["Bearer t-1", "Bearer t-2"]


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(400, json={"code": 99991400, "msg": "request trigger frequency limit"}),
        httpx.Response(429, headers={"x-ogw-ratelimit-reset": "3"}),
        httpx.Response(500, json={"code": 1, "msg": "internal error"}),
    ],
)
async def test_rate_limits_and_server_errors_are_retryable(answer):
    with pytest.raises(DeliveryError) as info:
        await adapter(FakeFeishu(answer)).send_text(outbound())
    assert info.value.retryable is True


async def test_http_429_passes_on_the_reset_hint():
    with pytest.raises(DeliveryError) as info:
        await adapter(FakeFeishu(httpx.Response(429, headers={"x-ogw-ratelimit-reset": "3"}))).send_text(outbound())
    assert info.value.retry_after == 3.0


async def test_bot_not_in_chat_fails_for_good_with_the_message():
    feishu = FakeFeishu(httpx.Response(400, json={"code": 230002, "msg": "Bot/User can NOT be out of the chat."}))
    with pytest.raises(DeliveryError, match="code 230002: Bot/User can NOT be out of the chat.") as info:
        await adapter(feishu).send_text(outbound())
    assert info.value.retryable is False


async def test_network_error_is_retryable():
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    with pytest.raises(DeliveryError, match="unreachable") as info:
        await adapter(unreachable).send_text(outbound())
    assert info.value.retryable is True


async def test_refused_token_fetch_names_the_code_but_not_the_secret():
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"code": 10014, "msg": "app secret invalid"})

    with pytest.raises(DeliveryError, match="code 10014 app secret invalid") as info:
        await adapter(refuse).send_text(outbound())
    assert "unit-app-secret" not in str(info.value)


async def test_concurrent_sends_share_one_token_fetch():
    feishu = FakeFeishu()

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.01)
        return feishu(request)

    bot = adapter(slow)
    assert await asyncio.gather(*(bot.send_text(outbound()) for _ in range(5))) == [True] * 5
    assert feishu.tokens_issued == 1
