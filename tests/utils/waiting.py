"""Polling for what another process does in its own time (kefu, a fake platform, the database)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(check: Callable[[], T], what: str, timeout: float = 15, interval: float = 0.05) -> T:
    """`check()`'s first truthy result; after `timeout` seconds an AssertionError naming `what` and the last result."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened within {timeout:g}s: {what} (last: {result!r})")
        time.sleep(interval)
    return result
