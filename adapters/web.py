"""kefu's own web channel: shop websites, mini-programs and custom integrations.

Inbound: `POST /webhooks/web` with `X-Kefu-Timestamp` and
`X-Kefu-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`.
Outbound: the same signature on a POST to the shop's callback URL.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.base import (
    Adapter,
    Address,
    CustomerProfile,
    InboundMessage,
    OutboundMessage,
    WebhookReply,
    WebhookRequest,
)
from adapters.errors import DeliveryError, PayloadError, PayloadTooLarge, SignatureError

TIMESTAMP_HEADER = "x-kefu-timestamp"
SIGNATURE_HEADER = "x-kefu-signature"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp` (unix seconds, as text)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


# Built once: encoding them cost a few percent of the webhook's CPU.
_ACCEPTED = WebhookReply(body=json.dumps({"status": "accepted"}).encode())
_DUPLICATE = WebhookReply(body=json.dumps({"status": "duplicate"}).encode())


class _Customer(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str | None = Field(default=None, max_length=100)
    vip: bool = False
    tags: list[str] = Field(default_factory=list, max_length=50)


class _WebInbound(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    message_id: str = Field(min_length=1, max_length=128)
    customer_id: str = Field(min_length=1, max_length=128)
    text: str = Field(min_length=1)
    sent_at: datetime | None = None
    customer: _Customer | None = None


class WebAdapter(Adapter):
    name = "web"

    def __init__(
        self,
        *,
        secret: str | None,
        callback_url: str | None,
        client: httpx.AsyncClient,
        account: str = "default",
        max_body_bytes: int = 64 * 1024,
        max_text_chars: int = 4000,
        timestamp_tolerance: float = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret
        self._callback_url = httpx.URL(callback_url) if callback_url else None  # parsed once, not per reply
        self._client = client
        self.account = account
        self.max_body_bytes = max_body_bytes
        self.max_text_chars = max_text_chars
        self._tolerance = timestamp_tolerance
        self._clock = clock

    def verify(self, request: WebhookRequest) -> None:
        if not self._secret:
            raise SignatureError(self.name, "the web channel has no secret configured (KEFU_WEB__SECRET)")
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not timestamp or not signature:
            raise SignatureError(self.name, "missing X-Kefu-Timestamp or X-Kefu-Signature header")
        try:
            skew = abs(self._clock() - int(timestamp))
        except ValueError:
            raise SignatureError(self.name, "X-Kefu-Timestamp is not unix seconds") from None
        if skew > self._tolerance:
            raise SignatureError(self.name, f"timestamp is {int(skew)} s off (limit {int(self._tolerance)} s)")
        expected = sign(self._secret, timestamp, request.body)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise SignatureError(self.name, "signature does not match")

    def parse(self, request: WebhookRequest) -> list[InboundMessage]:
        return [self.parse_payload(request.body)]

    def parse_payload(self, payload: bytes | dict) -> InboundMessage:
        """Validate one message, from a signed webhook body or from the chat widget."""
        try:
            if isinstance(payload, bytes):
                data = _WebInbound.model_validate_json(payload)
            else:
                data = _WebInbound.model_validate(payload)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(part) for part in error["loc"]) or "body"
            raise PayloadError(self.name, f"{field}: {error['msg']}", field=field) from None
        if len(data.text) > self.max_text_chars:
            raise PayloadTooLarge(self.name, f"text has {len(data.text)} characters (limit {self.max_text_chars})")
        customer = data.customer
        return InboundMessage(
            address=Address(self.name, self.account, data.customer_id),
            platform_message_id=data.message_id,
            text=data.text,
            sent_at=data.sent_at,
            customer=CustomerProfile(customer.name, customer.vip, tuple(customer.tags)) if customer else None,
        )

    def acknowledge(self, *, accepted: int, duplicates: int) -> WebhookReply:
        return _DUPLICATE if duplicates and not accepted else _ACCEPTED

    async def send_text(self, message: OutboundMessage) -> bool:
        if not self._callback_url:
            return False
        body = {
            "message_id": message.message_id,
            "conversation_id": message.conversation_id,
            "customer_id": message.address.customer_id,
            "sender": message.sender,
            "text": message.text,
        }
        if message.in_reply_to:
            body["in_reply_to"] = message.in_reply_to
        raw = json.dumps(body, ensure_ascii=False).encode()
        timestamp = str(int(self._clock()))
        headers = {
            "content-type": "application/json; charset=utf-8",
            "x-kefu-timestamp": timestamp,
            "x-kefu-signature": sign(self._secret or "", timestamp, raw),
        }
        try:
            response = await self._client.post(self._callback_url, content=raw, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(self.name, f"callback unreachable: {type(exc).__name__}") from exc
        if response.is_success:
            return True
        raise DeliveryError(
            self.name,
            f"callback answered {response.status_code}",
            retry_after=retry_after_seconds(response.headers.get("retry-after"), self._clock()),
        )


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None
