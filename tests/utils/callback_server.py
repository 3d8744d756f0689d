"""A real HTTP server on 127.0.0.1 standing in for a shop's callback endpoint."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.utils.fake_platform import Call, FakePlatform
from tests.utils.signing import verify_signature


@dataclass
class Delivery:
    status: int
    body: dict
    signed: bool


class CallbackServer(FakePlatform):
    """Records every POST; answers with queued status codes first (e.g. [500, 500, 500]), then 200."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret
        self.failures: list[int] = []
        self.attempts: list[Delivery] = []

    def answer(self, call: Call) -> tuple[int, dict]:
        status = self.failures.pop(0) if self.failures else 200
        self.attempts.append(Delivery(status, call.body, verify_signature(self.secret, call.headers, call.raw)))
        return status, {}

    @property
    def url(self) -> str:
        return super().url + "/callback"

    @property
    def delivered(self) -> list[dict]:
        """Bodies answered with 2xx: what the shop actually received."""
        with self._lock:
            return [d.body for d in self.attempts if 200 <= d.status < 300]

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


@contextmanager
def running_callback(secret: str) -> Iterator[CallbackServer]:
    """A started CallbackServer, stopped on leaving: the body of every `callback` fixture."""
    server = CallbackServer(secret).start()
    try:
        yield server
    finally:
        server.stop()
