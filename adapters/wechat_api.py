"""Tencent's server API (api.weixin.qq.com) for one AppID, shared by Official Accounts and WeChat Shop.

Every call carries an access_token from `/cgi-bin/token`, cached until five minutes before it expires
(adapters.tokens). WeChat answers HTTP 200 with an `errcode`: 0 is success; an invalid or expired token
(40001, 40014, 42001) makes the call fetch a new token and resend once; "system busy" and rate limits are
retried later by the outbox; the caller may name errcodes that mean "never retry" with a human reason.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping

import httpx

from adapters.errors import DeliveryError
from adapters.tokens import CachedToken

TOKEN_ERRORS = {40001, 40014, 42001}  # invalid or expired access_token
RETRYABLE_ERRORS = {-1, 45009, *TOKEN_ERRORS}  # system busy, API call limit; a token still refused after refresh


class WeChatAPI:
    def __init__(
        self,
        platform: str,
        *,
        app_id: str,
        app_secret: str,
        client: httpx.AsyncClient,
        api_base: str = "https://api.weixin.qq.com",
        permanent_reasons: Mapping[int, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.platform = platform
        self.app_id = app_id
        self._secret = app_secret
        self._client = client
        self._api_base = api_base.rstrip("/")
        self._permanent = dict(permanent_reasons or {})
        self._tokens = CachedToken(self._fetch_token, clock=clock)

    async def post(self, path: str, payload: dict) -> dict:
        """POST `payload` as JSON with the access_token, resent once with a fresh token if WeChat refuses it."""
        body = json.dumps(payload, ensure_ascii=False).encode()
        token = await self._tokens.get()
        result = await self._post(path, body, token)
        if result.get("errcode") in TOKEN_ERRORS:
            result = await self._post(path, body, await self._tokens.get(stale=token))
        self._raise_for_errcode(result)
        return result

    async def _fetch_token(self) -> tuple[str, float]:
        params = {"grant_type": "client_credential", "appid": self.app_id, "secret": self._secret}
        result = await self._call("GET", "/cgi-bin/token", params=params)
        if "access_token" not in result:
            errcode, errmsg = result.get("errcode"), result.get("errmsg", "")
            raise DeliveryError(self.platform, f"access token refused: errcode {errcode} {errmsg}".rstrip())
        return str(result["access_token"]), float(result.get("expires_in", 7200))

    async def _post(self, path: str, body: bytes, token: str) -> dict:
        headers = {"content-type": "application/json; charset=utf-8"}
        return await self._call("POST", path, params={"access_token": token}, content=body, headers=headers)

    async def _call(self, method: str, path: str, **kwargs) -> dict:
        """One API call's JSON answer; retryable DeliveryError on network errors, 5xx and non-JSON answers."""
        try:
            response = await self._client.request(method, self._api_base + path, **kwargs)
        except httpx.HTTPError as exc:
            raise DeliveryError(self.platform, f"{path} unreachable: {type(exc).__name__}") from None
        if not response.is_success:
            retryable = response.status_code >= 500 or response.status_code == 429
            raise DeliveryError(self.platform, f"{path} answered HTTP {response.status_code}", retryable=retryable)
        try:
            result = response.json()
        except ValueError:
            raise DeliveryError(self.platform, f"{path} answered something other than JSON") from None
        if not isinstance(result, dict):
            raise DeliveryError(self.platform, f"{path} answered something other than a JSON object")
        return result

    def _raise_for_errcode(self, result: dict) -> None:
        errcode = result.get("errcode", 0)
        if errcode == 0:
            return
        if errcode in self._permanent:
            raise DeliveryError(self.platform, self._permanent[errcode], retryable=False)
        reason = f"errcode {errcode}: {result.get('errmsg', '')}".rstrip(": ")
        raise DeliveryError(self.platform, reason, retryable=errcode in RETRYABLE_ERRORS)
