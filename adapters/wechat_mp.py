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

import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from xml.etree.ElementTree import Element, ParseError

import httpx
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from adapters.base import Adapter, Address, InboundMessage, OutboundMessage, WebhookReply, WebhookRequest
from adapters.errors import DeliveryError, PayloadError, SignatureError
from adapters.tokens import CachedToken
from adapters.wechat_crypto import WeChatCrypto, signature

TOKEN_ERRORS = {40001, 40014, 42001}  # invalid or expired access_token
RETRYABLE_ERRORS = {-1, 45009, *TOKEN_ERRORS}  # system busy, API call limit; a token still refused after refresh
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
        self._secret = app_secret
        self._token = token
        self._crypto = WeChatCrypto(token, encoding_aes_key, app_id, platform=self.name) if encoding_aes_key else None
        self._client = client
        self._api_base = api_base.rstrip("/")
        self._tolerance = timestamp_tolerance
        self._clock = clock
        self._tokens = CachedToken(self._fetch_token, clock=clock)

    def handshake(self, request: WebhookRequest) -> WebhookReply | None:
        if request.method != "GET":
            return None
        query = request.query
        echostr = query.get("echostr", "")
        if not echostr:
            raise SignatureError(self.name, "URL verification without echostr")
        self._check_plain_signature(query.get("signature", ""), query.get("timestamp", ""), query.get("nonce", ""))
        return WebhookReply(body=echostr.encode(), media_type="text/plain")

    def verify(self, request: WebhookRequest) -> None:
        query = request.query
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        self._check_timestamp(timestamp)
        encrypted = self._encrypted(request)
        if encrypted is None:
            self._check_plain_signature(query.get("signature", ""), timestamp, nonce)
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
        body = json.dumps(payload, ensure_ascii=False).encode()
        token = await self._tokens.get()
        result = await self._call_send(body, token)
        if result.get("errcode") in TOKEN_ERRORS:
            result = await self._call_send(body, await self._tokens.get(stale=token))
        self._raise_for_errcode(result)
        return True

    def _check_timestamp(self, timestamp: str) -> None:
        try:
            skew = abs(self._clock() - int(timestamp))
        except ValueError:
            raise SignatureError(self.name, "timestamp is missing or not unix seconds") from None
        if skew > self._tolerance:
            raise SignatureError(self.name, f"timestamp is {int(skew)} s off (limit {int(self._tolerance)} s)")

    def _check_plain_signature(self, given: str, timestamp: str, nonce: str) -> None:
        if not (given and timestamp and nonce):
            raise SignatureError(self.name, "missing signature, timestamp or nonce")
        if not hmac.compare_digest(signature(self._token, timestamp, nonce).encode(), given.encode()):
            raise SignatureError(self.name, "signature does not match")

    def _encrypted(self, request: WebhookRequest) -> str | None:
        """The <Encrypt> ciphertext in safe mode, None in plain mode; refuses a mismatch with our settings."""
        if self._crypto is None:
            if request.query.get("encrypt_type") == "aes":
                raise SignatureError(self.name, "safe-mode message but no EncodingAESKey is configured")
            return None
        encrypted = _text(self._xml(request.body, "body"), "Encrypt")
        if not encrypted:
            raise SignatureError(self.name, "safe mode is configured but the message has no <Encrypt>")
        return encrypted

    def _xml(self, raw: bytes, where: str) -> Element:
        try:
            root = fromstring(raw, forbid_dtd=True)
        except DefusedXmlException:
            raise PayloadError(self.name, f"{where}: DTDs and entities are not allowed", field=where) from None
        except ParseError as exc:
            raise PayloadError(self.name, f"{where}: malformed XML ({exc})", field=where) from None
        if root.tag != "xml":
            raise PayloadError(self.name, f"{where}: root element must be <xml>", field=where)
        return root

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
        value = _text(root, field)
        if not value:
            raise PayloadError(self.name, f"{field}: missing or empty", field=field)
        return value

    def _created_at(self, root: Element) -> datetime:
        try:
            return datetime.fromtimestamp(int(self._required(root, "CreateTime")), UTC)
        except (ValueError, OverflowError, OSError):
            raise PayloadError(self.name, "CreateTime: not unix seconds", field="CreateTime") from None

    async def _fetch_token(self) -> tuple[str, float]:
        params = {"grant_type": "client_credential", "appid": self.app_id, "secret": self._secret}
        result = await self._call("GET", "/cgi-bin/token", params=params)
        if "access_token" not in result:
            errcode, errmsg = result.get("errcode"), result.get("errmsg", "")
            raise DeliveryError(self.name, f"access token refused: errcode {errcode} {errmsg}".rstrip())
        return str(result["access_token"]), float(result.get("expires_in", 7200))

    async def _call_send(self, body: bytes, token: str) -> dict:
        headers = {"content-type": "application/json; charset=utf-8"}
        params = {"access_token": token}
        return await self._call("POST", "/cgi-bin/message/custom/send", params=params, content=body, headers=headers)

    async def _call(self, method: str, path: str, **kwargs) -> dict:
        """One API call's JSON answer; retryable DeliveryError on network errors, 5xx and non-JSON answers."""
        try:
            response = await self._client.request(method, self._api_base + path, **kwargs)
        except httpx.HTTPError as exc:
            raise DeliveryError(self.name, f"{path} unreachable: {type(exc).__name__}") from None
        if not response.is_success:
            retryable = response.status_code >= 500 or response.status_code == 429
            raise DeliveryError(self.name, f"{path} answered HTTP {response.status_code}", retryable=retryable)
        try:
            result = response.json()
        except ValueError:
            raise DeliveryError(self.name, f"{path} answered something other than JSON") from None
        if not isinstance(result, dict):
            raise DeliveryError(self.name, f"{path} answered something other than a JSON object")
        return result

    def _raise_for_errcode(self, result: dict) -> None:
        errcode = result.get("errcode", 0)
        if errcode == 0:
            return
        if errcode in PERMANENT_REASONS:
            raise DeliveryError(self.name, PERMANENT_REASONS[errcode], retryable=False)
        reason = f"errcode {errcode}: {result.get('errmsg', '')}".rstrip(": ")
        raise DeliveryError(self.name, reason, retryable=errcode in RETRYABLE_ERRORS)


def _text(root: Element, field: str) -> str:
    return (root.findtext(field) or "").strip()


def _placeholder(root: Element, msg_type: str) -> str:
    """A readable stand-in for a non-text message, e.g. "[位置] 上海市徐汇区" or "[图片]"."""
    label = PLACEHOLDERS.get(msg_type, "[暂不支持的消息]")
    detail = _text(root, DETAIL_FIELDS[msg_type]) if msg_type in DETAIL_FIELDS else ""
    return f"{label} {detail}" if detail else label
