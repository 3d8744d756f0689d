"""Configuration built from files ops edit, rebuilt aside on every change and swapped in whole.

A broken edit keeps the last good version live; the error (file and line) is logged and kept
for /readyz and the ops API until a good version loads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from watchfiles import awatch

log = logging.getLogger(__name__)
T = TypeVar("T")


class LiveFiles(Generic[T]):
    def __init__(self, name: str, path: Path, build: Callable[[], T]) -> None:
        self.name = name
        self.path = path
        self.current: T | None = None
        self.error: str | None = None
        self._build = build
        self._watcher: asyncio.Task | None = None
        self._stop = asyncio.Event()

    async def load(self) -> bool:
        """Build a new version off the event loop; True when it went live."""
        try:
            value = await asyncio.to_thread(self._build)
        except Exception as exc:  # any failure keeps the last good version; the reason is reported
            self.error = str(exc)
            live = "keeping the last good version" if self.current is not None else f"no {self.name} is live"
            log.error("%s in %s not loaded, %s:\n%s", self.name, self.path, live, exc)
            return False
        self.current, self.error = value, None
        log.info("%s loaded from %s", self.name, self.path)
        return True

    def watch(self) -> None:
        """Reload on every change of the file (or below the folder) until `close`."""
        self._watcher = asyncio.create_task(self._watch(), name=f"{self.name} watcher")

    async def close(self) -> None:
        self._stop.set()
        if self._watcher:
            await self._watcher

    async def _watch(self) -> None:
        folder = self.path if self.path.is_dir() else self.path.parent
        only = None if self.path.is_dir() else (lambda _change, changed: Path(changed).name == self.path.name)
        try:
            async for _changes in awatch(folder, watch_filter=only, stop_event=self._stop, debounce=300):
                await self.load()
        except FileNotFoundError:
            log.error("%s does not exist; not watching it", folder)
