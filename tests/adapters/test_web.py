"""The web channel adapter: signature rules, parsing, and the signed callback it sends."""

from __future__ import annotations

import json

import httpx
import pytest

from adapters.base import Address, OutboundMessage, WebhookRequest
from adapters.errors import DeliveryError, PayloadError, PayloadTooLarge, SignatureError
from adapters.web import WebAdapter
from tests.utils.signing import signed_headers, verify_signature, web_message

SECRET = "unit-secret-0123456789"
NOW = 1_800_000_000


def adapter(
    handler=None, *, secret: str | None = SECRET, callback_url: str | None = "http://shop.test/cb"
) -> WebAdapter:
    transport = httpx.MockTransport(handler or (lambda request: httpx.Response(200)))
    return WebAdapter(
        secret=secret, callback_url=callback_url, client=httpx.AsyncClient(transport=transport), clock=lambda: NOW
    )


def request(body: bytes, headers: dict[str, str]) -> WebhookRequest:
    return WebhookRequest("POST", {k.lower(): v for k, v in headers.items()}, {}, body)


def test_valid_signature_passes():
    body = web_message("你好")
    adapter().verify(request(body, signed_headers(SECRET, body, timestamp=NOW)))


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing"),
        ({"x-kefu-timestamp": "soon", "x-kefu-signature": "sha256=00"}, "unix seconds"),
        ({"x-kefu-timestamp": str(NOW - 301), "x-kefu-signature": "sha256=00"}, "301 s off"),
        ({"x-kefu-timestamp": str(NOW + 301), "x-kefu-signature": "sha256=00"}, "301 s off"),
        ({"x-kefu-timestamp": str(NOW), "x-kefu-signature": "sha256=00"}, "does not match"),
    ],
)
def test_bad_signatures_are_refused_with_a_reason(headers, reason):
    with pytest.raises(SignatureError, match=reason):
        adapter().verify(request(b"{}", headers))


def test_body_changed_after_signing_is_refused():
    headers = signed_headers(SECRET, web_message("原文"), timestamp=NOW)
    with pytest.raises(SignatureError):
        adapter().verify(request(web_message("篡改"), headers))


def test_without_a_secret_nothing_is_accepted():
    body = web_message("你好")
    with pytest.raises(SignatureError, match="KEFU_WEB__SECRET"):
        adapter(secret=None).verify(request(body, signed_headers("", body, timestamp=NOW)))


def test_parse_builds_the_common_message():
    body = web_message(
        "发票怎么开", customer_id="u9", message_id="m9", sent_at="2026-11-11T00:00:05+08:00", customer={"vip": True}
    )
    [message] = adapter().parse(request(body, {}))
    assert message.address == Address("web", "default", "u9")
    assert message.platform_message_id == "m9"
    assert message.text == "发票怎么开"
    assert message.customer.vip is True
    assert message.sent_at.utcoffset().total_seconds() == 8 * 3600


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"[]", "body"),
        (b'{"customer_id": "c", "text": "x"}', "message_id"),
        (b'{"message_id": "m", "customer_id": "c", "text": "   "}', "text"),
        (b'{"message_id": "m", "customer_id": "c", "text": "x", "sent_at": "yesterday"}', "sent_at"),
    ],
)
def test_malformed_bodies_name_the_field(body, field):
    with pytest.raises(PayloadError) as raised:
        adapter().parse(request(body, {}))
    assert raised.value.field == field


def test_text_over_the_limit_is_too_large():
    with pytest.raises(PayloadTooLarge, match="4001 characters"):
        adapter().parse(request(web_message("字" * 4001), {}))


def outbound(text: str = "亲，48小时内发货") -> OutboundMessage:
    return OutboundMessage("r1", "conv1", Address("web", "default", "u9"), "bot", text, in_reply_to="m9")


async def test_send_posts_the_documented_body_signed():
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(204)

    assert await adapter(handler).send_text(outbound()) is True
    [req] = seen
    assert json.loads(req.content) == {
        "message_id": "r1",
        "conversation_id": "conv1",
        "customer_id": "u9",
        "sender": "bot",
        "text": "亲，48小时内发货",
        "in_reply_to": "m9",
    }
    assert verify_signature(SECRET, dict(req.headers), req.content)


async def test_send_failure_carries_retry_after():
    failing = adapter(lambda req: httpx.Response(429, headers={"retry-after": "7"}))
    with pytest.raises(DeliveryError, match="429") as raised:
        await failing.send_text(outbound())
    assert raised.value.retry_after == 7 and raised.value.retryable


async def test_unreachable_callback_is_a_retryable_delivery_error():
    def refuse(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=req)

    with pytest.raises(DeliveryError, match="unreachable") as raised:
        await adapter(refuse).send_text(outbound())
    assert raised.value.retryable


async def test_without_a_callback_url_there_is_nowhere_to_send():
    assert await adapter(callback_url=None).send_text(outbound()) is False
