"""kefu's uvicorn protocol sends each response in one write: one TCP data segment per answer.

The server runs on this test's event loop, over a real TCP connection on 127.0.0.1; Linux counts
the data segments the server's socket sent (tcp_info's tcpi_data_segs_out)."""

from __future__ import annotations

import asyncio
import socket
import struct

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from app.http_server import HttpProtocol

REQUEST = b"POST /webhooks/web HTTP/1.1\r\nhost: kefu\r\ncontent-length: 2\r\n\r\n{}"
BODY = b'{"status": "accepted"}'
DATA_SEGMENTS_OUT = 156  # offset of tcpi_data_segs_out (u32) in Linux's struct tcp_info


async def answer(scope, receive, send):
    await receive()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})


async def exchange(
    protocol_class: type[HttpToolsProtocol], requests: int = 1, request: bytes = REQUEST
) -> tuple[bytes, int | None]:
    """What the client read once it had `requests` answers, and how many data segments the server
    sent (None once it has closed the connection)."""
    config = Config(answer, http=protocol_class, lifespan="off", log_config=None)
    config.load()
    served: list[HttpToolsProtocol] = []

    def serve() -> HttpToolsProtocol:
        served.append(protocol_class(config=config, server_state=ServerState(), app_state={}))
        return served[-1]

    loop = asyncio.get_running_loop()
    server = await loop.create_server(serve, "127.0.0.1", 0)
    client = socket.create_connection(server.sockets[0].getsockname())
    client.setblocking(False)
    try:
        for _ in range(requests):
            await loop.sock_sendall(client, request)
        read = b""
        while read.count(BODY) < requests:
            chunk = await asyncio.wait_for(loop.sock_recv(client, 65536), 5)
            if not chunk:  # the server closed the connection
                break
            read += chunk
        if served[0].transport.is_closing():
            return read, None
        sent = served[0].transport.get_extra_info("socket")
        info = sent.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
        return read, struct.unpack_from("I", info, DATA_SEGMENTS_OUT)[0]
    finally:
        client.close()
        server.close()
        await server.wait_closed()


async def test_status_line_headers_and_body_leave_in_one_segment():
    read, segments = await exchange(HttpProtocol)

    assert segments == 1
    head, body = read.split(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"content-type: application/json" in head
    assert body == BODY


async def test_uvicorns_own_protocol_sends_the_head_and_the_body_apart():
    """What HttpProtocol changes: without it, one answer is two writes and two TCP segments."""
    _, segments = await exchange(HttpToolsProtocol)

    assert segments == 2


async def test_requests_one_after_another_on_one_connection_each_get_their_whole_answer():
    read, segments = await exchange(HttpProtocol, requests=3)

    assert read.count(b"HTTP/1.1 200 OK") == 3 and read.endswith(BODY)
    assert segments <= 3


async def test_an_answer_written_just_before_the_connection_closes_is_sent_whole():
    closing = REQUEST.replace(b"host: kefu\r\n", b"host: kefu\r\nconnection: close\r\n")
    read, _ = await exchange(HttpProtocol, request=closing)

    assert read.startswith(b"HTTP/1.1 200 OK\r\n") and b"connection: close" in read and read.endswith(BODY)
