"""A platform's HTTP API (token and send endpoints) as a real server on 127.0.0.1, for end-to-end tests.

Subclasses answer each request in `answer`, one at a time; what they accept as sent goes to `sends`.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: dict | None
    raw: bytes  # as sent, for signature checks


class FakePlatform:
    def __init__(self) -> None:
        self.sends: list[dict] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def answer(self, call: Call) -> tuple[int, dict]:
        """(HTTP status, JSON body) for one call; runs under a lock, so state needs no more care."""
        raise NotImplementedError

    @property
    def url(self) -> str:
        host, port = self._server.server_address
        return f"http://{host}:{port}"

    def start(self) -> FakePlatform:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def _serve(self, method: str) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                url = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                body = json.loads(raw) if raw else None
                call = Call(method, url.path, parse_qs(url.query), headers, body, raw)
                with fake._lock:
                    status, answer = fake.answer(call)
                reply = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for_sends(self, count: int, timeout: float = 15) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.sends) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(self.sends)} sends arrived: {self.sends}")
            time.sleep(0.05)
        return list(self.sends)
