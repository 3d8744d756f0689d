"""The processes and servers of benchmarks/load.py: kefu, the trivial ceiling app, the callback receiver."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from benchmarks.load_traffic import Connection, request_bytes

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_cpu(pid: int, *, reaped: bool = False) -> float:
    """User + system seconds of a process and its threads; with `reaped`, plus those of its children that
    exited and were waited for (how a forking server such as PostgreSQL keeps its closed sessions' time)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(map(int, fields[11:15] if reaped else fields[11:13])) / TICKS  # utime, stime, cutime, cstime


def children(pid: int) -> list[int]:
    """The running processes whose parent is `pid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:  # ppid, field 4
                found.append(int(stat.parent.name))
        except (OSError, ValueError):
            pass  # gone meanwhile
    return found


def trivial_app() -> FastAPI:
    """The ceiling: a FastAPI POST that does nothing."""
    app = FastAPI()

    @app.post("/webhooks/web")
    async def receive_webhook() -> dict[str, bool]:
        return {"ok": True}

    return app


def serve_trivial_app(port: int) -> None:
    """The ceiling's process: uvicorn as `kefu serve` runs it, its HTTP protocol included."""
    import uvicorn

    from app.http_server import HttpProtocol

    uvicorn.run(trivial_app(), port=port, http=HttpProtocol, access_log=False, log_level="warning", log_config=None)


@dataclass
class Served:
    """A server process on 127.0.0.1; its CPU time is read from /proc."""

    process: subprocess.Popen
    port: int
    log: Path

    def cpu_seconds(self) -> float:
        """User + system time so far of the process and its threads, and of its running children
        (kefu's engine and delivery processes, with KEFU_ENGINE__PROCESS and KEFU_OUTBOX__PROCESS)."""
        used = process_cpu(self.process.pid)
        for child in children(self.process.pid):
            try:
                used += process_cpu(child)
            except OSError:
                pass  # gone meanwhile
        return used

    async def wait_ready(self, method: str, path: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.process.args} exited:\n{self.log.read_text()[-3000:]}")
            connection = Connection(self.port)
            try:
                if await connection.send(request_bytes(method, path)) in (200, 422):
                    return
            except (OSError, asyncio.IncompleteReadError):
                await asyncio.sleep(0.1)
            finally:
                connection.close()
        raise RuntimeError(f"{self.process.args} not ready after {timeout} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _spawn(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)


def clean_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    return {**env, "PYTHONPATH": str(ROOT), **settings}


async def start_kefu(workdir: Path, settings: dict[str, str], *, migrate: bool = True) -> Served:
    """`kefu migrate` (unless another instance did), then `kefu serve` on a free port, as an operator
    would; waits for /readyz."""
    env, log, port = clean_env(**settings), workdir / "kefu.log", free_port()
    if migrate:
        subprocess.run([BIN / "kefu", "migrate"], cwd=workdir, env=env, check=True, capture_output=True)
    served = Served(_spawn([str(BIN / "kefu"), "serve", "--port", str(port)], workdir, env, log), port, log)
    await served.wait_ready("GET", "/readyz")
    return served


async def start_ceiling(workdir: Path) -> Served:
    """The trivial app under uvicorn with kefu's settings: one worker, uvloop and httptools (kefu's
    protocol: each response in one write), no access log."""
    port, log = free_port(), workdir / "ceiling.log"
    command = [
        sys.executable,
        "-c",
        f"from benchmarks.load_servers import serve_trivial_app; serve_trivial_app({port})",
    ]
    served = Served(_spawn(command, ROOT, clean_env(), log), port, log)
    await served.wait_ready("POST", "/webhooks/web")
    return served


class CallbackReceiver:
    """The shop's callback endpoint, on this process's event loop: when the first reply to each message arrived.

    It shares the 2-core machine with kefu, so it does as little as it can while kefu is measured:
    a minimal HTTP/1.1 server (kefu's client sends each body with a Content-Length, one request at a
    time per connection) that notes each callback's arrival and raw bytes and answers 200. The
    signatures are checked and the bodies parsed when the figures are read, after the phase. With
    the callbacks served by uvicorn and checked on arrival, and each request signed as it left,
    generator and receiver took 21% of a core at 1,000 msg/s; now 12-15%.
    """

    def __init__(self, secret: str, port: int | None = None) -> None:
        self.secret = secret
        self.port = port or free_port()
        self._received: list[tuple[float, bytes, bytes]] = []  # (perf_counter, head, body), in arrival order
        self._read = 0  # how many of them are counted below
        self._first: dict[str, float] = {}
        self._unprompted: list[float] = []
        self._arrivals: Counter = Counter()
        self._unsigned = 0
        self._server: asyncio.Server | None = None
        self.connections: set[asyncio.BaseTransport] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/callback"

    @property
    def first(self) -> dict[str, float]:
        """The customer's message id -> perf_counter when the first reply to it arrived."""
        return self._settled()._first

    @property
    def unprompted(self) -> list[float]:
        """Arrivals without in_reply_to: wait notices and the like."""
        return self._settled()._unprompted

    @property
    def arrivals(self) -> Counter:
        """kefu's id of each reply -> times it arrived."""
        return self._settled()._arrivals

    @property
    def deliveries(self) -> int:
        return len(self._received)

    @property
    def unsigned(self) -> int:
        return self._settled()._unsigned

    def note(self, arrived: float, head: bytes, body: bytes) -> None:
        self._received.append((arrived, head, body))

    def _settled(self) -> CallbackReceiver:
        """Counts every callback received so far (the work the server leaves for later)."""
        for arrived, head, body in self._received[self._read :]:
            headers = _headers(head)
            self._unsigned += not self._signed(headers, body)
            payload = json.loads(body)
            self._arrivals[payload.get("message_id")] += 1
            key = payload.get("in_reply_to")
            if not key:
                self._unprompted.append(arrived)
            elif key not in self._first:
                self._first[key] = arrived
        self._read = len(self._received)
        return self

    def _signed(self, headers: dict[bytes, bytes], body: bytes) -> bool:
        ts = headers.get(b"x-kefu-timestamp", b"")
        digest = hmac.new(self.secret.encode(), ts + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(headers.get(b"x-kefu-signature", b""), f"sha256={digest}".encode())

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _CallbackProtocol(self), "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for connection in list(self.connections):
                connection.close()
            await self._server.wait_closed()


OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)


class _CallbackProtocol(asyncio.Protocol):
    """One connection to CallbackReceiver: each request's head and body handed over, then 200."""

    def __init__(self, receiver: CallbackReceiver) -> None:
        self._receiver = receiver
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._receiver.connections.add(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._receiver.connections.discard(self._transport)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            head = bytes(self._buffer[:end])
            length = CONTENT_LENGTH.search(head)
            if length is None:  # not what kefu's client sends: say so rather than guess
                raise ValueError(f"callback without Content-Length: {head[:200]!r}")
            size = end + 4 + int(length.group(1))
            if len(self._buffer) < size:
                return
            self._receiver.note(time.perf_counter(), head, bytes(self._buffer[end + 4 : size]))
            del self._buffer[:size]
            self._transport.write(OK)


def _headers(head: bytes) -> dict[bytes, bytes]:
    """The request's header fields, names in lower case."""
    fields = (line.split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line)
    return {name.strip().lower(): value.strip() for name, value in fields}
