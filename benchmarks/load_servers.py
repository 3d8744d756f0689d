"""The processes and servers of benchmarks/load.py: kefu, the trivial ceiling app, the callback receiver."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
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
    """The ceiling: a FastAPI POST that does nothing (`uvicorn --factory benchmarks.load_servers:trivial_app`)."""
    app = FastAPI()

    @app.post("/webhooks/web")
    async def receive_webhook() -> dict[str, bool]:
        return {"ok": True}

    return app


@dataclass
class Served:
    """A server process on 127.0.0.1; its CPU time is read from /proc."""

    process: subprocess.Popen
    port: int
    log: Path

    def cpu_seconds(self) -> float:
        """User + system time so far of the process and its threads, and of its running children
        (kefu's delivery process, with KEFU_OUTBOX__PROCESS=true)."""
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
    """The trivial app under uvicorn with kefu's settings: one worker, uvloop and httptools, no access log."""
    port, log = free_port(), workdir / "ceiling.log"
    factory = "benchmarks.load_servers:trivial_app"
    command = [sys.executable, "-m", "uvicorn", "--factory", factory, "--port", str(port), "--no-access-log"]
    served = Served(_spawn([*command, "--log-level", "warning"], ROOT, clean_env(), log), port, log)
    await served.wait_ready("POST", "/webhooks/web")
    return served


@dataclass
class CallbackReceiver:
    """The shop's callback endpoint, on this process's event loop: when the first reply to each message arrived."""

    secret: str
    port: int = field(default_factory=free_port)
    first: dict[str, float] = field(default_factory=dict)  # the customer's message id -> perf_counter
    unprompted: list[float] = field(default_factory=list)  # arrivals without in_reply_to: wait notices and the like
    arrivals: Counter = field(default_factory=Counter)  # kefu's id of each reply -> times it arrived
    deliveries: int = 0
    unsigned: int = 0
    _server: uvicorn.Server | None = None
    _task: asyncio.Task | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/callback"

    async def __call__(self, scope, receive, send) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        arrived = time.perf_counter()
        headers = dict(scope["headers"])
        self.deliveries += 1
        self.unsigned += not self._signed(headers, body)
        payload = json.loads(body)
        self.arrivals[payload.get("message_id")] += 1
        key = payload.get("in_reply_to")
        if not key:
            self.unprompted.append(arrived)
        elif key not in self.first:
            self.first[key] = arrived
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    def _signed(self, headers: dict[bytes, bytes], body: bytes) -> bool:
        ts = headers.get(b"x-kefu-timestamp", b"")
        digest = hmac.new(self.secret.encode(), ts + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(headers.get(b"x-kefu-signature", b""), f"sha256={digest}".encode())

    async def start(self) -> None:
        config = uvicorn.Config(
            self, host="127.0.0.1", port=self.port, lifespan="off", access_log=False, log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            await self._task
