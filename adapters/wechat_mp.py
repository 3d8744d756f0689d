"""WeChat Official Account (公众号) channel.

Inbound: WeChat POSTs the customer's message as XML to `/webhooks/wechat_mp?signature=&timestamp=&nonce=`.
In safe mode (EncodingAESKey set) the query adds `encrypt_type=aes&msg_signature=` and the message sits,
AES-encrypted, in `<Encrypt>`; see adapters.wechat_crypto. Plain-mode signatures cover only the token,
timestamp and nonce, not the body, so once safe mode is configured plain messages are refused.
URL verification is a GET with `echostr`, signed the plain way in both modes.

Outbound: a passive reply must come within 5 seconds, which the bot and human agents cannot promise, so
the callback is answered `success` at once and every answer goes through the customer-service message
API (客服消息), allowed for 48 hours after the customer last wrote.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from xml.etree.ElementTree import Element

import httpx

from adapters.base import Adapter, Address, InboundMessage, OutboundMessage, WebhookReply, WebhookRequest
from adapters.errors import PayloadError, SignatureError
from adapters.wechat_api import WeChatAPI
from adapters.wechat_crypto import WeChatCrypto, check_signature, check_timestamp, echo_verification
from adapters.wechat_xml import parse_xml, text_of

PERMANENT_REASONS = {
    45015: "48-hour reply window closed: the customer last wrote more than 48 hours ago",
    45047: "per-message reply limit reached: too many replies since the customer's last message",
}
PLACEHOLDERS = {"image": "[图片]", "voice": "[语音]", "video": "[视频]", "shortvideo": "[小视频]"}
PLACEHOLDERS |= {"location": "[位置]", "link": "[链接]", "file": "[文件]"}
DETAIL_FIELDS = {"location": "Label", "link": "Title", "voice": "Recognition", "file": "Title"}


class WeChatMPAdapter(Adapter):
    name = "wechat_mp"

    def __init__(
        self,
        *,
        app_id: str,
        account: str = "default",
        app_secret: str,
        token: str,
        encoding_aes_key: str | None,
        client: httpx.AsyncClient,
        api_base: str = "https://api.weixin.qq.com",
        timestamp_tolerance: float = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app_id = app_id
        self.account = account
        self._token = token
        self._crypto = WeChatCrypto(token, encoding_aes_key, app_id, platform=self.name) if encoding_aes_key else None
        self._tolerance = timestamp_tolerance
        self._clock = clock
        self._api = WeChatAPI(
            self.name,
            app_id=app_id,
            app_secret=app_secret,
            client=client,
            api_base=api_base,
            permanent_reasons=PERMANENT_REASONS,
            clock=clock,
        )

    def handshake(self, request: WebhookRequest) -> WebhookReply | None:
        return echo_verification(self.name, self._token, request)

    def verify(self, request: WebhookRequest) -> None:
        query = request.query
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        check_timestamp(self.name, timestamp, now=self._clock(), tolerance=self._tolerance)
        encrypted = self._encrypted(request)
        if encrypted is None:
            check_signature(self.name, self._token, query.get("signature", ""), timestamp, nonce)
        else:
            self._crypto.verify(query.get("msg_signature", ""), timestamp, nonce, encrypted)

    def parse(self, request: WebhookRequest) -> list[InboundMessage]:
        encrypted = self._encrypted(request)
        if encrypted is None:
            return self._messages(self._xml(request.body, "body"))
        return self._messages(self._xml(self._crypto.decrypt(encrypted).encode(), "Encrypt"))

    def acknowledge(self, *, accepted: int, duplicates: int) -> WebhookReply:
        return WebhookReply(body=b"success", media_type="text/plain")

    async def send_text(self, message: OutboundMessage) -> bool:
        payload = {"touser": message.address.customer_id, "msgtype": "text", "text": {"content": message.text}}
        await self._api.post("/cgi-bin/message/custom/send", payload)
        return True

    def _encrypted(self, request: WebhookRequest) -> str | None:
        """The <Encrypt> ciphertext in safe mode, None in plain mode; refuses a mismatch with our settings."""
        if self._crypto is None:
            if request.query.get("encrypt_type") == "aes":
                raise SignatureError(self.name, "safe-mode message but no EncodingAESKey is configured")
            return None
        encrypted = text_of(self._xml(request.body, "body"), "Encrypt")
        if not encrypted:
            raise SignatureError(self.name, "safe mode is configured but the message has no <Encrypt>")
        return encrypted

    def _xml(self, raw: bytes, where: str) -> Element:
        return parse_xml(self.name, raw, where)

    def _messages(self, root: Element) -> list[InboundMessage]:
        msg_type = self._required(root, "MsgType")
        if msg_type == "event":
            return []
        text = self._required(root, "Content") if msg_type == "text" else _placeholder(root, msg_type)
        return [
            InboundMessage(
                address=Address(self.name, self.account, self._required(root, "FromUserName")),
                platform_message_id=self._required(root, "MsgId"),
                text=text,
                sent_at=self._created_at(root),
            )
        ]

    def _required(self, root: Element, field: str) -> str:
        value = text_of(root, field)
        if not value:
            raise PayloadError(self.name, f"{field}: missing or empty", field=field)
        return value

    def _created_at(self, root: Element) -> datetime:
        try:
            return datetime.fromtimestamp(int(self._required(root, "CreateTime")), UTC)
        except (ValueError, OverflowError, OSError):
            raise PayloadError(self.name, "CreateTime: not unix seconds", field="CreateTime") from None


def _placeholder(root: Element, msg_type: str) -> str:
    """A readable stand-in for a non-text message, e.g. "[位置] 上海市徐汇区" or "[图片]"."""
    label = PLACEHOLDERS.get(msg_type, "[暂不支持的消息]")
    detail = text_of(root, DETAIL_FIELDS[msg_type]) if msg_type in DETAIL_FIELDS else ""
    return f"{label} {detail}" if detail else label
