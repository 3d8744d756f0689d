"""The live FAQ knowledge base: loaded at start, rebuilt aside on every file change, swapped whole.

A broken edit keeps the last good version live; the error (file and line) is in the log and
in /readyz until a good version loads.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from watchfiles import awatch

from faq.knowledge_base import KnowledgeBase
from faq.lint import lint
from faq.loader import FaqLoadError, load_knowledge_base

log = logging.getLogger(__name__)


class FaqService:
    def __init__(self, directory: Path, *, variables: dict[str, str] | None = None) -> None:
        self.directory = directory
        self.variables = variables or {}
        self.current: KnowledgeBase | None = None
        self.error: str | None = None
        self._watcher: asyncio.Task | None = None
        self._stop = asyncio.Event()

    async def load(self) -> bool:
        """Build a new version off the event loop; True when it went live."""
        try:
            kb = await asyncio.to_thread(load_knowledge_base, self.directory, variables=self.variables)
            errors = [f for f in lint(kb, collisions=False) if f.severity == "error"]
            if errors:
                raise FaqLoadError([f.problem for f in errors])
        except FaqLoadError as exc:
            self.error = str(exc)
            live = "keeping the last good version" if self.current else "no FAQ is live"
            log.error("FAQ in %s not loaded, %s:\n%s", self.directory, live, exc)
            return False
        self.current, self.error = kb, None
        log.info("FAQ loaded: %d entries from %s", len(kb), self.directory)
        return True

    def watch(self) -> None:
        """Reload on every change below the FAQ directory until `close`."""
        self._watcher = asyncio.create_task(self._watch(), name="faq watcher")

    async def close(self) -> None:
        self._stop.set()
        if self._watcher:
            await self._watcher

    async def _watch(self) -> None:
        try:
            async for _changes in awatch(self.directory, stop_event=self._stop, debounce=300, recursive=True):
                await self.load()
        except FileNotFoundError:
            log.error("FAQ directory %s does not exist; not watching it", self.directory)
