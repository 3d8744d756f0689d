"""The outbound client against a real socket server: what arrives, what comes back, and each
failure as the httpx error the adapters catch (the outbox backs off on those, not on a crash)."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from app.http_client import http_client

Behaviour = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0
    )
    return head, await reader.readexactly(length)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Behaviour], Awaitable[str]]]:
    servers: list[asyncio.Server] = []

    async def start(behaviour: Behaviour) -> str:
        server = await asyncio.start_server(behaviour, "127.0.0.1", 0)
        servers.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/send"

    yield start
    for server in servers:
        server.close()


async def test_sends_the_request_as_built_and_reads_the_response(serve) -> None:
    seen: list[tuple[bytes, bytes]] = []

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await _read_request(reader))
        body = gzip.compress('{"ok": true, "text": "已发货"}'.encode())
        writer.write(
            b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Type: application/json\r\n"
            b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body) + body
        )
        await writer.drain()
        writer.close()

    url = await serve(echo)
    async with http_client(5) as client:
        response = await client.post(url, params={"access_token": "t"}, content=b'{"a": 1}', headers={"X-Sig": "s1"})
    head, body = seen[0]
    assert head.startswith(b"POST /send?access_token=t HTTP/1.1\r\n")
    assert b"\r\nx-sig: s1\r\n" in head.lower()
    assert body == b'{"a": 1}'
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json() == {"ok": True, "text": "已发货"}  # decoded by httpx from gzip


async def test_a_cookie_the_server_sets_is_not_sent_back(serve) -> None:
    heads: list[bytes] = []

    async def sets_a_cookie(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while not reader.at_eof():  # keep-alive: both requests may come on this connection
            try:
                heads.append((await _read_request(reader))[0])
            except asyncio.IncompleteReadError:
                break
            writer.write(b"HTTP/1.1 200 OK\r\nSet-Cookie: session=abc; Path=/\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
        writer.close()

    url = await serve(sets_a_cookie)
    async with http_client(5) as client:
        await client.post(url, content=b"1")
        await client.post(url, content=b"2")
        assert not client.cookies
    assert len(heads) == 2
    assert b"cookie:" not in heads[1].lower()


async def test_a_multipart_upload_is_sent_whole(serve) -> None:
    bodies: list[bytes] = []

    async def upload(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        bodies.append((await _read_request(reader))[1])
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    url = await serve(upload)
    async with http_client(5) as client:
        await client.post(url, files={"media": ("receipt.jpg", b"\xff\xd8 image bytes", "image/jpeg")})
    assert b'name="media"; filename="receipt.jpg"' in bodies[0]
    assert b"\xff\xd8 image bytes" in bodies[0]


class _KeepAlive:
    """Answers every request on a connection with 200 "ok", noting the connections and each request's head."""

    def __init__(self) -> None:
        self.connections = 0
        self.heads: list[bytes] = []

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        while not reader.at_eof():
            try:
                self.heads.append((await _read_request(reader))[0])
            except asyncio.IncompleteReadError:
                break
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()


async def test_keeps_connections_alive_between_requests(serve) -> None:
    server = _KeepAlive()
    url = await serve(server)
    async with http_client(5) as client:
        for _ in range(5):
            assert (await client.get(url)).text == "ok"
    assert server.connections == 1


async def test_one_url_called_with_different_params_sends_each_its_own(serve) -> None:
    """The client parses a URL string once and keeps it: a request's params must not stay on it."""
    server = _KeepAlive()
    url = await serve(server)
    async with http_client(5) as client:
        await client.post(url, params={"access_token": "old"})
        await client.post(url, params={"access_token": "new"})
        await client.post(url + "?page=2")
        await client.post(url)
    assert [head.split(b" ")[1] for head in server.heads] == [
        b"/send?access_token=old",
        b"/send?access_token=new",
        b"/send?page=2",
        b"/send",
    ]


async def _drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    writer.close()


async def _garble(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    writer.write(b"this is not HTTP\r\n\r\n")
    await writer.drain()
    writer.close()


async def _stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    await asyncio.sleep(5)


async def _cut_short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
    await writer.drain()
    writer.close()


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [
        (_drop, httpx.RemoteProtocolError),
        (_garble, httpx.RemoteProtocolError),
        (_stall, httpx.ReadTimeout),
        (_cut_short, httpx.ReadError),
    ],
)
async def test_a_failing_server_raises_the_httpx_error_it_means(serve, behaviour, error) -> None:
    url = await serve(behaviour)
    async with http_client(0.3) as client:
        with pytest.raises(error):
            await client.post(url, content=b"{}")


async def test_nothing_listening_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: connections are refused
        async with http_client(1) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.1:{port}/send")


async def test_an_egress_proxy_from_the_environment_is_used_except_for_no_proxy_hosts(serve, monkeypatch) -> None:
    request_lines: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head, _ = await _read_request(reader)
        request_lines.append(head.split(b"\r\n")[0])
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    proxy_url = (await serve(proxy)).removesuffix("/send")
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with http_client(5) as client:
        assert (await client.post("http://api.shop.example/send", content=b"{}")).status_code == 200
        assert (await client.post(f"{proxy_url}/direct", content=b"{}")).status_code == 200
    assert request_lines == [b"POST http://api.shop.example/send HTTP/1.1", b"POST /direct HTTP/1.1"]
