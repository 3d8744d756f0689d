"""A real HTTP server on 127.0.0.1 standing in for a shop's callback endpoint."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.utils.signing import verify_signature


@dataclass
class Delivery:
    status: int
    body: dict
    signed: bool


@dataclass
class CallbackServer:
    """Records every POST; answers with queued status codes first (e.g. [500, 500, 500]), then 200."""

    secret: str
    failures: list[int] = field(default_factory=list)
    attempts: list[Delivery] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address
        return f"http://{host}:{port}/callback"

    @property
    def delivered(self) -> list[dict]:
        """Bodies answered with 2xx: what the shop actually received."""
        with self._lock:
            return [d.body for d in self.attempts if 200 <= d.status < 300]

    def start(self) -> CallbackServer:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with recorder._lock:
                    status = recorder.failures.pop(0) if recorder.failures else 200
                    recorder.attempts.append(
                        Delivery(status, json.loads(raw), verify_signature(recorder.secret, headers, raw))
                    )
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def wait_for_attempts(self, count: int, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while len(self.attempts) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(self.attempts)} delivery attempts arrived")
            time.sleep(0.05)

    def wait_for(self, predicate: Callable[[list[dict]], bool], timeout: float = 15) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.delivered):
                return self.delivered
            time.sleep(0.05)
        raise AssertionError(f"callback never satisfied the condition; got {self.delivered}")
