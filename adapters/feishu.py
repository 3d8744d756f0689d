"""Feishu (飞书) / Lark bot channel: event subscription v2 (schema 2.0) over HTTP.

Inbound: Feishu POSTs events as JSON. With an Encrypt Key configured the body is `{"encrypt": base64}`
(AES-256-CBC, key sha256(encrypt_key), the IV in the first 16 bytes, PKCS#7) and signed in
`X-Lark-Signature` = sha256(timestamp + nonce + encrypt_key + raw body); without one, only the
Verification Token inside the event proves its origin. URL verification is a `url_verification` POST
answered with its challenge. `im.message.receive_v1` becomes an InboundMessage keyed on the event_id.

Outbound: the IM send API (`/open-apis/im/v1/messages`) to the chat, with a tenant_access_token that is
cached until five minutes before it expires and refetched once when Feishu calls it invalid.
"""

from __future__ import annotations

import hmac
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from adapters.base import Adapter, Address, InboundMessage, OutboundMessage, WebhookReply, WebhookRequest
from adapters.errors import DeliveryError, PayloadError, SignatureError
from adapters.feishu_crypto import decrypt, signature
from adapters.tokens import CachedToken

TOKEN_ERRORS = {99991661, 99991663}  # tenant_access_token missing/malformed, invalid or expired
RATE_LIMITED = {99991400, 230020}  # app-wide and per-chat frequency limits
PLACEHOLDERS = {"image": "[图片]", "sticker": "[表情]", "audio": "[语音]", "media": "[视频]", "file": "[文件]"}
PLACEHOLDERS |= {"location": "[位置]", "share_chat": "[群名片]", "share_user": "[名片]", "post": "[富文本]"}
PLACEHOLDERS |= {"merge_forward": "[合并转发]", "interactive": "[卡片]"}
DETAIL_FIELDS = {"file": "file_name", "location": "name", "post": "title"}
MENTION = re.compile(r"@_user_\d+\s*")


class FeishuAdapter(Adapter):
    name = "feishu"

    def __init__(
        self,
        *,
        account: str = "default",
        app_id: str,
        app_secret: str,
        verification_token: str | None,
        encrypt_key: str | None,
        client: httpx.AsyncClient,
        api_base: str = "https://open.feishu.cn",
        timestamp_tolerance: float = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.account = account
        self.app_id = app_id
        self._secret = app_secret
        self._verification_token = verification_token
        self._encrypt_key = encrypt_key
        self._client = client
        self._api_base = api_base.rstrip("/")
        self._tolerance = timestamp_tolerance
        self._clock = clock
        self._tokens = CachedToken(self._fetch_token, clock=clock)

    def handshake(self, request: WebhookRequest) -> WebhookReply | None:
        try:
            event = self._event(request)
        except PayloadError:
            return None  # not a challenge we can read: verify() and parse() refuse it properly
        if request.method != "POST" or event.get("type") != "url_verification":
            return None
        if self._verification_token:
            self._check_token(event.get("token"))
        elif not (self._encrypt_key and "encrypt" in json.loads(request.body)):  # decrypting proved the key
            raise SignatureError(self.name, "unencrypted challenge and no verification_token is configured")
        return WebhookReply(body=json.dumps({"challenge": event.get("challenge", "")}).encode())

    def verify(self, request: WebhookRequest) -> None:
        if not self._encrypt_key:
            self._check_token(self._header(self._event(request)).get("token"))
            return
        timestamp = request.headers.get("x-lark-request-timestamp", "")
        nonce = request.headers.get("x-lark-request-nonce", "")
        given = request.headers.get("x-lark-signature", "")
        if not (timestamp and nonce and given):
            raise SignatureError(
                self.name, "missing X-Lark-Request-Timestamp, X-Lark-Request-Nonce or X-Lark-Signature"
            )
        try:
            skew = abs(self._clock() - int(timestamp))
        except ValueError:
            raise SignatureError(self.name, "X-Lark-Request-Timestamp is not unix seconds") from None
        if skew > self._tolerance:
            raise SignatureError(self.name, f"timestamp is {int(skew)} s off (limit {int(self._tolerance)} s)")
        expected = signature(timestamp, nonce, self._encrypt_key, request.body)
        if not hmac.compare_digest(expected.encode(), given.encode()):
            raise SignatureError(self.name, "X-Lark-Signature does not match")
        if self._verification_token:
            self._check_token(self._header(self._event(request)).get("token"))

    def parse(self, request: WebhookRequest) -> list[InboundMessage]:
        event = self._event(request)
        header = self._header(event)
        if header.get("event_type") != "im.message.receive_v1":
            return []
        message = self._object(event.get("event"), "event")
        message = self._object(message.get("message"), "event.message")
        msg_type = self._string(message, "message_type")
        content = self._content(message)
        text = MENTION.sub("", str(content.get("text", ""))).strip() if msg_type == "text" else ""
        return [
            InboundMessage(
                address=Address(self.name, self.account, self._string(message, "chat_id")),
                platform_message_id=self._string(header, "event_id", where="header"),
                text=text or _placeholder(msg_type, content),
                sent_at=self._sent_at(message.get("create_time")),
            )
        ]

    def acknowledge(self, *, accepted: int, duplicates: int) -> WebhookReply:
        return WebhookReply(body=b"{}")

    async def send_text(self, message: OutboundMessage) -> bool:
        await self.post_text(message.address.customer_id, message.text)
        return True

    async def post_text(self, chat_id: str, text: str) -> None:
        """Post `text` to a chat the bot is in (a customer's, or a staff group for alerts); DeliveryError if not."""
        body = {"receive_id": chat_id, "msg_type": "text"}
        body["content"] = json.dumps({"text": text}, ensure_ascii=False)
        token = await self._tokens.get()
        result = await self._call_send(body, token)
        if result.get("code") in TOKEN_ERRORS:
            result = await self._call_send(body, await self._tokens.get(stale=token))
        code = result.get("code")
        if code == 0:
            return
        reason = f"code {code}: {result.get('msg', '')}".rstrip(": ")
        raise DeliveryError(self.name, reason, retryable=code in TOKEN_ERRORS or code in RATE_LIMITED)

    def _event(self, request: WebhookRequest) -> dict:
        """The event as JSON, decrypted when it came as {"encrypt": ...}."""
        event = self._json(request.body, "body")
        if "encrypt" not in event:
            return event
        if not self._encrypt_key:
            raise SignatureError(self.name, "encrypted event but no encrypt_key is configured")
        try:
            return self._json(decrypt(self._encrypt_key, str(event["encrypt"])), "encrypt")
        except ValueError as exc:
            raise PayloadError(self.name, f"encrypt: cannot decrypt ({exc})", field="encrypt") from None

    def _json(self, raw: bytes, where: str) -> dict:
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: nested too deep
            raise PayloadError(self.name, f"{where}: malformed JSON", field=where) from None
        return self._object(data, where)

    def _object(self, value: object, where: str) -> dict:
        if not isinstance(value, dict):
            raise PayloadError(self.name, f"{where}: missing or not an object", field=where)
        return value

    def _string(self, data: dict, key: str, *, where: str = "event.message") -> str:
        value = data.get(key)
        if not isinstance(value, str) or not value:
            raise PayloadError(self.name, f"{where}.{key}: missing or empty", field=f"{where}.{key}")
        return value

    def _header(self, event: dict) -> dict:
        if event.get("schema") != "2.0":
            raise PayloadError(self.name, "schema: only event subscription 2.0 is supported", field="schema")
        return self._object(event.get("header"), "header")

    def _check_token(self, token: object) -> None:
        if not self._verification_token:
            raise SignatureError(self.name, "no verification_token or encrypt_key is configured")
        if not isinstance(token, str) or not hmac.compare_digest(token.encode(), self._verification_token.encode()):
            raise SignatureError(self.name, "verification token does not match")

    def _content(self, message: dict) -> dict:
        try:
            content = json.loads(self._string(message, "content"))
        except (ValueError, RecursionError):
            raise PayloadError(
                self.name, "event.message.content: malformed JSON", field="event.message.content"
            ) from None
        return self._object(content, "event.message.content")

    def _sent_at(self, create_time: object) -> datetime:
        try:
            return datetime.fromtimestamp(int(str(create_time)) / 1000, UTC)
        except (ValueError, OverflowError, OSError):
            field = "event.message.create_time"
            raise PayloadError(self.name, f"{field}: missing or not unix milliseconds", field=field) from None

    async def _fetch_token(self) -> tuple[str, float]:
        path = "/open-apis/auth/v3/tenant_access_token/internal"
        result = await self._call(path, json={"app_id": self.app_id, "app_secret": self._secret})
        if result.get("code") != 0 or not result.get("tenant_access_token"):
            reason = f"tenant_access_token refused: code {result.get('code')} {result.get('msg', '')}"
            raise DeliveryError(self.name, reason.rstrip())
        return str(result["tenant_access_token"]), float(result.get("expire", 7200))

    async def _call_send(self, body: dict, token: str) -> dict:
        path = "/open-apis/im/v1/messages?receive_id_type=chat_id"
        return await self._call(path, json=body, headers={"authorization": f"Bearer {token}"})

    async def _call(self, path: str, **kwargs) -> dict:
        """One API call's JSON answer (Feishu puts `code` in 4xx bodies too); network errors, 5xx, 429 retry."""
        try:
            response = await self._client.post(self._api_base + path, **kwargs)
        except httpx.HTTPError as exc:
            raise DeliveryError(self.name, f"{path} unreachable: {type(exc).__name__}") from None
        status = response.status_code
        if status == 429:
            reset = response.headers.get("x-ogw-ratelimit-reset", "")
            retry_after = float(reset) if reset.isdigit() else None
            raise DeliveryError(self.name, f"{path} answered HTTP 429", retry_after=retry_after)
        try:
            result = response.json()
        except ValueError:
            result = None
        if not isinstance(result, dict) or "code" not in result or status >= 500:
            raise DeliveryError(self.name, f"{path} answered HTTP {status}", retryable=not 400 <= status < 500)
        return result


def _placeholder(msg_type: str, content: dict) -> str:
    """A readable stand-in for a non-text message, e.g. "[文件] 订单.pdf" or "[图片]"."""
    label = PLACEHOLDERS.get(msg_type, "[暂不支持的消息]")
    detail = content.get(DETAIL_FIELDS[msg_type]) if msg_type in DETAIL_FIELDS else None
    return f"{label} {detail}" if isinstance(detail, str) and detail.strip() else label
