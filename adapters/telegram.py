"""Telegram bot channel (Bot API webhooks).

Inbound: Telegram POSTs each Update as JSON to the URL given to `setWebhook`, with the `secret_token`
from that call echoed in `X-Telegram-Bot-Api-Secret-Token`; the header is the only proof of origin.
Only new `message`s become InboundMessages (edits, callback queries, membership changes are answered
and dropped); the `update_id` is the dedupe key, since Telegram redelivers an update until it gets a 2xx.

Outbound: `sendMessage` to the chat. A text over Telegram's 4,096-character limit goes out as several
messages, in order, each cut at the last line break that fits (mid-line only for a longer line); when a
later part fails, the retry starts from that part instead of repeating the ones already delivered
(remembered in memory only). The bot token is part of every API URL, so no URL, request or httpx
exception text ever goes into an error message.
"""

from __future__ import annotations

import hmac
import json
from datetime import UTC, datetime

import httpx

from adapters.base import (
    Adapter,
    Address,
    CustomerProfile,
    InboundMessage,
    OutboundMessage,
    WebhookReply,
    WebhookRequest,
)
from adapters.errors import DeliveryError, PayloadError, SignatureError

SECRET_HEADER = "x-telegram-bot-api-secret-token"
# Checked in this order: an animation also carries `document`, a venue also carries `location`.
PLACEHOLDERS = {
    "photo": "[图片]",
    "sticker": "[表情]",
    "voice": "[语音]",
    "audio": "[音频]",
    "video": "[视频]",
    "video_note": "[视频消息]",
    "animation": "[动图]",
    "document": "[文件]",
    "venue": "[位置]",
    "location": "[位置]",
    "contact": "[名片]",
    "poll": "[投票]",
    "dice": "[骰子]",
}
DETAIL_FIELDS = {"sticker": "emoji", "document": "file_name", "venue": "title", "poll": "question"}
MAX_TEXT = 4096  # sendMessage's limit, counted here in UTF-16 code units as Telegram counts entity offsets


class TelegramAdapter(Adapter):
    name = "telegram"

    def __init__(
        self,
        *,
        account: str = "default",
        bot_token: str,
        secret_token: str,
        client: httpx.AsyncClient,
        api_base: str = "https://api.telegram.org",
    ) -> None:
        self.account = account
        self._bot_token = bot_token
        self._secret_token = secret_token
        self._client = client
        self._api_base = api_base.rstrip("/")
        self._parts_sent: dict[str, int] = {}  # message id -> parts delivered before a retryable failure

    def verify(self, request: WebhookRequest) -> None:
        given = request.headers.get(SECRET_HEADER, "")
        if not given:
            raise SignatureError(self.name, "missing X-Telegram-Bot-Api-Secret-Token header")
        if not hmac.compare_digest(given.encode(), self._secret_token.encode()):
            raise SignatureError(self.name, "X-Telegram-Bot-Api-Secret-Token does not match")

    def parse(self, request: WebhookRequest) -> list[InboundMessage]:
        try:
            update = json.loads(request.body)
        except (ValueError, RecursionError):  # RecursionError: nested too deep
            raise PayloadError(self.name, "body: malformed JSON", field="body") from None
        if not isinstance(update, dict):
            raise PayloadError(self.name, "body: not a JSON object", field="body")
        update_id = update.get("update_id")
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            raise PayloadError(self.name, "update_id: missing or not an integer", field="update_id")
        message = update.get("message")
        if message is None:
            return []
        if not isinstance(message, dict):
            raise PayloadError(self.name, "message: not an object", field="message")
        return [self._message(update_id, message)]

    def acknowledge(self, *, accepted: int, duplicates: int) -> WebhookReply:
        return WebhookReply(body=b'{"ok": true}')

    async def send_text(self, message: OutboundMessage) -> bool:
        parts = split_text(message.text)
        first = self._parts_sent.pop(message.message_id, 0)
        for index in range(first, len(parts)):
            try:
                await self._send_message(message.address.customer_id, parts[index])
            except DeliveryError as exc:
                if exc.retryable and index:
                    self._parts_sent[message.message_id] = index
                raise
        return True

    async def _send_message(self, chat_id: str, text: str) -> None:
        payload = {"chat_id": chat_id, "text": text}
        url = f"{self._api_base}/bot{self._bot_token}/sendMessage"
        try:
            response = await self._client.post(url, json=payload)
        except httpx.HTTPError as exc:
            raise DeliveryError(self.name, f"sendMessage unreachable: {type(exc).__name__}") from None
        try:
            result = response.json()
        except ValueError:
            result = None
        if not isinstance(result, dict):
            status = response.status_code
            retryable = not 400 <= status < 500 or status == 429
            raise DeliveryError(self.name, f"sendMessage answered HTTP {response.status_code}", retryable=retryable)
        if result.get("ok") is not True:
            raise self._error(result, response.status_code)

    def _message(self, update_id: int, message: dict) -> InboundMessage:
        chat = message.get("chat")
        chat_id = chat.get("id") if isinstance(chat, dict) else None
        if not isinstance(chat_id, int) or isinstance(chat_id, bool):
            raise PayloadError(self.name, "message.chat.id: missing or not an integer", field="message.chat.id")
        text = message.get("text")
        if not isinstance(text, str) or not text.strip():
            text = _placeholder(message)
        return InboundMessage(
            address=Address(self.name, self.account, str(chat_id)),
            platform_message_id=str(update_id),
            text=text,
            sent_at=self._sent_at(message.get("date")),
            customer=_customer(message.get("from")),
        )

    def _sent_at(self, date: object) -> datetime:
        try:
            if isinstance(date, bool) or not isinstance(date, int):
                raise TypeError
            return datetime.fromtimestamp(date, UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            raise PayloadError(self.name, "message.date: missing or not unix seconds", field="message.date") from None

    def _error(self, result: dict, status: int) -> DeliveryError:
        code = result.get("error_code", status)
        reason = f"error {code}: {result.get('description', '')}".rstrip(": ")
        if code == 429:
            parameters = result.get("parameters")
            retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
            retry_after = float(retry_after) if isinstance(retry_after, int | float) else None
            return DeliveryError(self.name, reason, retryable=True, retry_after=retry_after)
        retryable = not isinstance(code, int) or code >= 500
        return DeliveryError(self.name, reason, retryable=retryable)


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """`text` in parts of at most `limit` UTF-16 units, each cut at its last line break, else mid-line.

    >>> split_text("一二\\n三四五", limit=4)
    ['一二', '三四五']
    """
    parts = []
    while _utf16_units(text) > limit:
        head = _prefix(text, limit)
        cut = text[: len(head) + 1].rfind("\n")  # a break right after the limit still makes a full part
        if cut > 0:
            parts.append(text[:cut])
            text = text[cut + 1 :]
        else:
            parts.append(head)
            text = text[len(head) :]
    parts.append(text)
    return [part for part in parts if part.strip()] or parts[:1]


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _prefix(text: str, limit: int) -> str:
    """The longest prefix of `text` within `limit` UTF-16 units (an emoji outside the BMP counts two)."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return text[:index]
    return text


def _customer(sender: object) -> CustomerProfile | None:
    if not isinstance(sender, dict):
        return None
    full_name = " ".join(str(sender[key]) for key in ("first_name", "last_name") if sender.get(key))
    username = sender.get("username")
    return CustomerProfile(name=full_name or (username if isinstance(username, str) else None) or None)


def _placeholder(message: dict) -> str:
    """A readable stand-in for a non-text message, e.g. "[图片] 这个有货吗" (with its caption) or "[表情] 👍"."""
    kind = next((key for key in PLACEHOLDERS if key in message), None)
    parts = [PLACEHOLDERS[kind] if kind else "[暂不支持的消息]"]
    content = message.get(kind) if kind else None
    if kind in DETAIL_FIELDS and isinstance(content, dict) and content.get(DETAIL_FIELDS[kind]):
        parts.append(str(content[DETAIL_FIELDS[kind]]))
    if isinstance(message.get("caption"), str) and message["caption"].strip():
        parts.append(message["caption"].strip())
    return " ".join(parts)
