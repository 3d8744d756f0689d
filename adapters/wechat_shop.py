"""WeChat Shop (微信小店) customer service in self-built API mode (自研客服 API).

Inbound: the shop's message push (消息推送) POSTs every event of the shop to one URL, always in safe mode
and always as JSON (the shop's push settings offer no other choice): `{"ToUserName": ..., "Encrypt": ...}`
with `signature`, `timestamp`, `nonce`, `encrypt_type=aes` and `msg_signature` in the query. The
ciphertext is the Official Account scheme with the shop's AppID as receive id (adapters.wechat_crypto).
A customer's message is the event `commkf_send_msg_to_kf`; its `msg_id` is the dedupe key; every other
event on the shared URL (orders, after-sales…) is acknowledged and ignored. Plain or XML bodies are
refused. URL verification is a GET with `echostr`, signed the plain way and echoed as is.

Outbound: `/channels/ec/commkf/sendmsg` with the shop's access_token (adapters.wechat_api); our message id
is the `request_id`, which WeChat uses to drop a resent duplicate.

Documented fields (kf_msg_event, api_sendmsg): FromUserName (the customer's openid), CreateTime, Event,
msg_id, msg_type, msg_event (EVENT_TYPE_SEND_MSG) and text.content. The docs list the other message
kinds (image, video, voice, file, product_share, order_share) without their inner fields; product_id and
order_id are taken from the sendmsg body ("参考发送消息中的消息类型") and shown only when present.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from adapters.base import Adapter, Address, InboundMessage, OutboundMessage, WebhookReply, WebhookRequest
from adapters.errors import PayloadError, SignatureError
from adapters.wechat_api import WeChatAPI
from adapters.wechat_crypto import WeChatCrypto, check_timestamp, echo_verification

KF_EVENT = "commkf_send_msg_to_kf"
SEND_MSG = "EVENT_TYPE_SEND_MSG"  # msg_event of a message the customer sent
PLACEHOLDERS = {"image": "[图片]", "video": "[视频]", "voice": "[语音]", "file": "[文件]"}
PLACEHOLDERS |= {"product_share": "[商品卡片]", "order_share": "[订单卡片]"}
DETAIL_FIELDS = {"product_share": ("product_id", "商品ID"), "order_share": ("order_id", "订单号")}


class WeChatShopAdapter(Adapter):
    name = "wechat_shop"

    def __init__(
        self,
        *,
        account: str = "default",
        app_id: str,
        app_secret: str,
        token: str,
        encoding_aes_key: str,
        client: httpx.AsyncClient,
        api_base: str = "https://api.weixin.qq.com",
        timestamp_tolerance: float = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.account = account
        self.app_id = app_id
        self._token = token
        self._crypto = WeChatCrypto(token, encoding_aes_key, app_id, platform=self.name)
        self._tolerance = timestamp_tolerance
        self._clock = clock
        self._api = WeChatAPI(
            self.name, app_id=app_id, app_secret=app_secret, client=client, api_base=api_base, clock=clock
        )

    def handshake(self, request: WebhookRequest) -> WebhookReply | None:
        return echo_verification(self.name, self._token, request)

    def verify(self, request: WebhookRequest) -> None:
        query = request.query
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        check_timestamp(self.name, timestamp, now=self._clock(), tolerance=self._tolerance)
        self._crypto.verify(query.get("msg_signature", ""), timestamp, nonce, self._encrypted(request))

    def parse(self, request: WebhookRequest) -> list[InboundMessage]:
        event = self._json(self._crypto.decrypt(self._encrypted(request)).encode(), "Encrypt")
        if event.get("Event") != KF_EVENT:
            return []  # the push URL is shared by all of the shop's events
        msg_event = event.get("msg_event")
        if isinstance(msg_event, str) and msg_event != SEND_MSG:
            return []  # documented: only EVENT_TYPE_SEND_MSG; other behaviours are not customer messages
        return [
            InboundMessage(
                address=Address(self.name, self.account, self._string(event, "FromUserName")),
                platform_message_id=self._msg_id(event),
                text=self._text(event),
                sent_at=self._sent_at(event.get("CreateTime")),
            )
        ]

    def acknowledge(self, *, accepted: int, duplicates: int) -> WebhookReply:
        return WebhookReply(body=b"success", media_type="text/plain")

    async def send_text(self, message: OutboundMessage) -> bool:
        payload = {
            "request_id": message.message_id,  # WeChat drops a second send with the same id
            "open_id": message.address.customer_id,
            "msg_type": "text",
            "text": {"content": message.text},
        }
        await self._api.post("/channels/ec/commkf/sendmsg", payload)
        return True

    def _encrypted(self, request: WebhookRequest) -> str:
        """The ciphertext of a safe-mode JSON push; anything else is refused with the reason."""
        if request.body.lstrip()[:1] == b"<":
            raise PayloadError(self.name, "body: XML is not supported, WeChat Shop pushes JSON", field="body")
        encrypted = self._json(request.body, "body").get("Encrypt")
        if not isinstance(encrypted, str) or not encrypted:
            raise SignatureError(self.name, "no Encrypt in the body: only safe mode (安全模式) pushes are accepted")
        return encrypted

    def _json(self, raw: bytes, where: str) -> dict:
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: nested too deep
            raise PayloadError(self.name, f"{where}: malformed JSON", field=where) from None
        if not isinstance(data, dict):
            raise PayloadError(self.name, f"{where}: not a JSON object", field=where)
        return data

    def _string(self, data: dict, key: str, *, where: str = "") -> str:
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            raise PayloadError(self.name, f"{where}{key}: missing or empty", field=f"{where}{key}")
        return value.strip()

    def _msg_id(self, event: dict) -> str:
        """Documented as a string; a number is accepted too, as other WeChat message ids are 64-bit integers."""
        msg_id = event.get("msg_id")
        if isinstance(msg_id, int) and not isinstance(msg_id, bool):
            return str(msg_id)
        return self._string(event, "msg_id")

    def _text(self, event: dict) -> str:
        kind = _kind(event)
        if kind != "text":
            return _placeholder(kind, event.get(kind))
        text = event.get("text")
        return self._string(text if isinstance(text, dict) else {}, "content", where="text.")

    def _sent_at(self, create_time: object) -> datetime:
        try:
            if isinstance(create_time, bool):
                raise TypeError
            return datetime.fromtimestamp(int(create_time), UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            raise PayloadError(self.name, "CreateTime: missing or not unix seconds", field="CreateTime") from None


def _kind(event: dict) -> str:
    """The message kind: `msg_type`, or, since the docs also call msg_type an object, the content key present."""
    msg_type = event.get("msg_type")
    if isinstance(msg_type, str) and msg_type:
        return msg_type
    return next((key for key in ("text", *PLACEHOLDERS) if isinstance(event.get(key), dict)), "")


def _placeholder(kind: str, content: object) -> str:
    """A readable stand-in for a non-text message, e.g. "[订单卡片] 订单号 3726470000001" or "[图片]"."""
    label = PLACEHOLDERS.get(kind, "[暂不支持的消息]")
    if kind not in DETAIL_FIELDS or not isinstance(content, dict):
        return label
    key, name = DETAIL_FIELDS[kind]
    value = content.get(key)
    return f"{label} {name} {value}" if isinstance(value, str | int) and str(value).strip() else label
