"""The one outbound HTTP client: httpx's API (what adapters call) over aiohttp's connection pool.

httpx's own async transport (httpcore over anyio, h11 in pure Python) cost 0.6 to 1 ms of CPU
per request here, more the more requests were in flight: one delivered reply cost more than
answering the message. aiohttp's pool and C parser cost about 0.3 ms, flat with concurrency
(benchmarks/results/http_client.md).
Adapters keep httpx's requests, responses and errors; only the transport is swapped.

The client keeps no cookies: platform APIs and shops' callbacks authenticate with tokens and
signatures, and httpx's cookie jar puts every response through urllib's cookie machinery (a
stand-in request and response object each), a sizeable share of the client's CPU per request.

httpx-aiohttp does the same, but it reports a dropped connection as ConnectTimeout and lets
other aiohttp errors escape httpx's hierarchy, which the outbox would take for a crash and retry
at once, without backing off. Here every aiohttp failure becomes the httpx error it means.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.request import getproxies, proxy_bypass_environment

import aiohttp
import httpx

# Most specific first: aiohttp's timeouts are also connection errors, its connect failures also OSErrors.
_ERRORS: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (TimeoutError, httpx.PoolTimeout),  # aiohttp's `connect`: waiting for a free connection
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.ReadError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),  # a malformed status line or header
    (aiohttp.ClientError, httpx.NetworkError),
)


def http_client(timeout_seconds: float, max_connections: int = 100) -> httpx.AsyncClient:
    return CookielessClient(timeout=timeout_seconds, transport=AiohttpTransport(max_connections))


class CookielessClient(httpx.AsyncClient):
    """httpx's client whose cookie jar keeps no response's Set-Cookie, so none is sent back, and which
    parses each URL string once."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._jar = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:  # read-only: replacing the jar is an error
        return self._jar

    def build_request(self, method: str, url: httpx.URL | str, **options: Any) -> httpx.Request:
        """Adapters call the same few URLs (a shop's callback, a platform's send endpoint), and httpx parses
        a URL string in pure Python on every request: about a sixth of a request's CPU here (ad hoc)."""
        return super().build_request(method, _parsed(url) if isinstance(url, str) else url, **options)


class _NoCookies(httpx.Cookies):
    def extract_cookies(self, response: httpx.Response) -> None:
        pass


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends an httpx request with aiohttp and reads the whole response (kefu never streams one)."""

    def __init__(self, max_connections: int = 100) -> None:
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None  # made on first use: it needs the running loop
        # HTTP(S)_PROXY and NO_PROXY apply as with httpx's own transport; read once (aiohttp's
        # trust_env reads the whole environment again for every request)
        self._proxies = getproxies()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        try:
            async with self._open().request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=await request.aread() or None,  # read: a multipart upload is a stream until then
                proxy=self._proxy_for(request.url),
                allow_redirects=False,  # httpx follows redirects itself, when asked to
                auto_decompress=False,  # httpx decodes the body by its Content-Encoding
                timeout=aiohttp.ClientTimeout(
                    connect=timeout.get("pool"), sock_connect=timeout.get("connect"), sock_read=timeout.get("read")
                ),
            ) as response:
                content = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _httpx_error(exc, request) from exc
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            content=content,
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode()},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections, ssl=httpx.create_ssl_context())
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    def _proxy_for(self, url: httpx.URL) -> str | None:
        if not self._proxies or proxy_bypass_environment(url.host, self._proxies):
            return None
        return self._proxies.get(url.scheme)


@lru_cache(maxsize=256)
def _parsed(url: str) -> httpx.URL:
    return httpx.URL(url)  # immutable: a request's params give it a new URL


def _httpx_error(exc: BaseException, request: httpx.Request) -> httpx.TransportError:
    kind = next(kind for cause, kind in _ERRORS if isinstance(exc, cause))
    return kind(str(exc) or type(exc).__name__, request=request)
