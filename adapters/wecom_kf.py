"""WeCom customer service (企业微信 · 微信客服) channel, served at /webhooks/wecom_kf/<account>.

Inbound is a pull. WeCom POSTs an encrypted `kf_msg_or_event` callback that carries no message, only
the KF account with news (`OpenKfId`) and a `Token` valid for 10 minutes; kefu answers `success` at
once and app.engine.pull reads the messages with /cgi-bin/kf/sync_msg from the stored cursor
(adapters.wecom_kf_messages maps them). The callback crypto is adapters.wechat_crypto with the CorpID
as receive id; URL verification is a signed GET whose decrypted `echostr` is the answer.

Outbound: /cgi-bin/kf/send_msg, which WeCom allows while its session is new (0) or with the assistant
(1), within 48 hours of the customer's last message. On a handoff kefu's own agents take over and the
WeCom session stays with the assistant, unless the account sets `handoff_service_state`: 2 moves the
session to WeCom's own pool, 3 to the servicer `servicer_userid` (/cgi-bin/kf/service_state/trans).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from xml.etree.ElementTree import Element

import httpx

from adapters.base import (
    Address,
    InboundMessage,
    OutboundMessage,
    PullAdapter,
    PulledPage,
    SyncHint,
    WebhookReply,
    WebhookRequest,
)
from adapters.errors import DeliveryError, PayloadError, PlatformCallError, SignatureError
from adapters.tokens import CachedToken
from adapters.wechat_crypto import WeChatCrypto
from adapters.wechat_xml import parse_xml, text_of
from adapters.wecom_kf_messages import CHANNEL, inbound_messages, split_customer_id

log = logging.getLogger(__name__)

SYNC_PATH, SEND_PATH, TRANS_PATH = "/cgi-bin/kf/sync_msg", "/cgi-bin/kf/send_msg", "/cgi-bin/kf/service_state/trans"
SYNC_LIMIT = 1000  # the most sync_msg returns at once
TOKEN_ERRORS = {40001, 40014, 42001}  # invalid or expired access_token: fetch a new one and call once more
STALE_CALLBACK_TOKEN = 95007  # the callback's Token is invalid or older than 10 minutes
RETRYABLE_ERRORS = {-1, 45009, *TOKEN_ERRORS}  # system busy, API call limit; a token still refused after refresh
MEANINGS = {
    45015: "reply window closed: the customer last wrote over 48 hours ago, or the replies allowed since are used",
    95018: "the WeCom session's state does not allow API messages: it is in WeCom's pool or a WeCom servicer owns it",
    STALE_CALLBACK_TOKEN: "the callback token is invalid or older than 10 minutes",
}
JSON_HEADERS = {"content-type": "application/json; charset=utf-8"}
SERVICE_STATES = {2: "WeCom's pool (待接入池)", 3: "a WeCom servicer (人工接待)"}


class WeComKFAdapter(PullAdapter):
    name = CHANNEL

    def __init__(
        self,
        *,
        corp_id: str,
        secret: str,
        token: str,
        encoding_aes_key: str,
        client: httpx.AsyncClient,
        account: str = "default",
        api_base: str = "https://qyapi.weixin.qq.com",
        handoff_service_state: int | None = None,
        servicer_userid: str | None = None,
        timestamp_tolerance: float = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if handoff_service_state not in (None, *SERVICE_STATES):
            raise ValueError("handoff_service_state must be 2 (WeCom's pool), 3 (a servicer) or unset")
        if handoff_service_state == 3 and not servicer_userid:
            raise ValueError("handoff_service_state 3 needs servicer_userid")
        self.corp_id = corp_id
        self.account = account
        self._secret = secret
        self._crypto = WeChatCrypto(token, encoding_aes_key, corp_id, platform=self.name)
        self._client = client
        self._api_base = api_base.rstrip("/")
        self._handoff_state = handoff_service_state
        self._servicer = servicer_userid
        self._tolerance = timestamp_tolerance
        self._clock = clock
        self._tokens = CachedToken(self._fetch_token, clock=clock)

    # callbacks

    def handshake(self, request: WebhookRequest) -> WebhookReply | None:
        if request.method != "GET":
            return None
        query = request.query
        echostr = query.get("echostr", "")
        if not echostr:
            raise SignatureError(self.name, "URL verification without echostr")
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        self._check_timestamp(timestamp)
        plain = self._crypto.verify_url(query.get("msg_signature", ""), timestamp, nonce, echostr)
        return WebhookReply(body=plain.encode(), media_type="text/plain")

    def verify(self, request: WebhookRequest) -> None:
        query = request.query
        timestamp = query.get("timestamp", "")
        self._check_timestamp(timestamp)
        self._crypto.verify(query.get("msg_signature", ""), timestamp, query.get("nonce", ""), self._encrypted(request))

    def parse(self, request: WebhookRequest) -> list[InboundMessage]:
        """Callbacks carry no message: `sync_hints` says where to pull them from."""
        return []

    def sync_hints(self, request: WebhookRequest) -> list[SyncHint]:
        root = self._xml(self._crypto.decrypt(self._encrypted(request)).encode(), "Encrypt")
        event = (text_of(root, "MsgType"), text_of(root, "Event"))
        if event != ("event", "kf_msg_or_event"):
            log.info("wecom_kf callback %s/%s needs no pull", *event)
            return []
        stream = text_of(root, "OpenKfId")
        if not stream:
            raise PayloadError(self.name, "OpenKfId: missing or empty", field="OpenKfId")
        return [SyncHint(stream, text_of(root, "Token") or None)]

    def acknowledge(self, *, accepted: int, duplicates: int) -> WebhookReply:
        return WebhookReply(body=b"success", media_type="text/plain")

    # API calls

    async def pull(self, stream: str, cursor: str | None, token: str | None) -> PulledPage:
        payload = {"cursor": cursor, "token": token, "limit": SYNC_LIMIT, "open_kfid": stream}
        result = await self._post(SYNC_PATH, payload)
        if token and result.get("errcode") == STALE_CALLBACK_TOKEN:
            log.info("wecom_kf callback token refused for %s; pulling without it", stream)
            result = await self._post(SYNC_PATH, {**payload, "token": None})
        self._raise_for_errcode(result)
        items = result.get("msg_list") or []
        next_cursor = str(result.get("next_cursor") or "") or None
        return PulledPage(inbound_messages(items, account=self.account), next_cursor, bool(result.get("has_more")))

    async def send_text(self, message: OutboundMessage) -> bool:
        try:
            open_kfid, external_userid = split_customer_id(message.address.customer_id)
        except ValueError as exc:
            raise DeliveryError(self.name, str(exc), retryable=False) from None
        text = {"content": message.text}
        payload = {"touser": external_userid, "open_kfid": open_kfid, "msgtype": "text", "text": text}
        try:
            self._raise_for_errcode(await self._post(SEND_PATH, payload))
        except PlatformCallError as exc:
            raise DeliveryError(self.name, exc.reason, retryable=exc.retryable, retry_after=exc.retry_after) from None
        return True

    async def on_handoff(self, address: Address, queue: str) -> None:
        """Move the WeCom session to WeCom's pool or servicer when the account says so; nothing otherwise."""
        if self._handoff_state is None:
            return
        open_kfid, external_userid = split_customer_id(address.customer_id)
        payload = {"open_kfid": open_kfid, "external_userid": external_userid, "service_state": self._handoff_state}
        if self._handoff_state == 3:
            payload["servicer_userid"] = self._servicer
        self._raise_for_errcode(await self._post(TRANS_PATH, payload))
        log.info("wecom_kf session of KF account %s handed to %s", open_kfid, SERVICE_STATES[self._handoff_state])

    async def _post(self, path: str, payload: dict) -> dict:
        """POST with the cached access token; a token WeCom rejects is replaced once and the call repeated."""
        body = json.dumps({k: v for k, v in payload.items() if v is not None}, ensure_ascii=False).encode()
        token = await self._tokens.get()
        result = await self._call("POST", path, params={"access_token": token}, content=body, headers=JSON_HEADERS)
        if result.get("errcode") in TOKEN_ERRORS:
            token = await self._tokens.get(stale=token)
            result = await self._call("POST", path, params={"access_token": token}, content=body, headers=JSON_HEADERS)
        return result

    async def _fetch_token(self) -> tuple[str, float]:
        params = {"corpid": self.corp_id, "corpsecret": self._secret}
        result = await self._call("GET", "/cgi-bin/gettoken", params=params)
        if not result.get("access_token"):
            errcode, errmsg = result.get("errcode"), result.get("errmsg", "")
            raise PlatformCallError(self.name, f"access token refused: errcode {errcode} {errmsg}".rstrip())
        return str(result["access_token"]), float(result.get("expires_in", 7200))

    async def _call(self, method: str, path: str, **kwargs) -> dict:
        """One API call's JSON answer; retryable PlatformCallError on network errors, 5xx and non-JSON answers."""
        try:
            response = await self._client.request(method, self._api_base + path, **kwargs)
        except httpx.HTTPError as exc:
            raise PlatformCallError(self.name, f"{path} unreachable: {type(exc).__name__}") from None
        if not response.is_success:
            retryable = response.status_code >= 500 or response.status_code == 429
            raise PlatformCallError(self.name, f"{path} answered HTTP {response.status_code}", retryable=retryable)
        try:
            result = response.json()
        except ValueError:
            raise PlatformCallError(self.name, f"{path} answered something other than JSON") from None
        if not isinstance(result, dict):
            raise PlatformCallError(self.name, f"{path} answered something other than a JSON object")
        return result

    def _raise_for_errcode(self, result: dict) -> None:
        errcode = result.get("errcode", 0)
        if errcode == 0:
            return
        if errcode in MEANINGS:
            reason = f"{MEANINGS[errcode]} (errcode {errcode})"
        else:
            reason = f"errcode {errcode}: {result.get('errmsg', '')}".rstrip(": ")
        raise PlatformCallError(self.name, reason, retryable=errcode in RETRYABLE_ERRORS)

    # helpers

    def _check_timestamp(self, timestamp: str) -> None:
        try:
            skew = abs(self._clock() - int(timestamp))
        except ValueError:
            raise SignatureError(self.name, "timestamp is missing or not unix seconds") from None
        if skew > self._tolerance:
            raise SignatureError(self.name, f"timestamp is {int(skew)} s off (limit {int(self._tolerance)} s)")

    def _encrypted(self, request: WebhookRequest) -> str:
        encrypted = text_of(self._xml(request.body, "body"), "Encrypt")
        if not encrypted:
            raise SignatureError(self.name, "callback has no <Encrypt>")
        return encrypted

    def _xml(self, raw: bytes, where: str) -> Element:
        return parse_xml(self.name, raw, where)
