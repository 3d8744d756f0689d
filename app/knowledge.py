"""The live FAQ knowledge base: loaded at start, and the error that keeps it from loading, if any."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from faq.knowledge_base import KnowledgeBase
from faq.loader import FaqLoadError, load_knowledge_base
from faq.matcher import warm_up

log = logging.getLogger(__name__)


class FaqService:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.current: KnowledgeBase | None = None
        self.error: str | None = None

    async def load(self) -> None:
        """Build the knowledge base off the event loop; on failure keep the last good one."""
        try:
            kb = await asyncio.to_thread(self._build)
        except FaqLoadError as exc:
            self.error = str(exc)
            log.error("FAQ not loaded, keeping the last good version:\n%s", exc)
            return
        self.current, self.error = kb, None
        log.info("FAQ loaded: %d entries from %s", len(kb), self.directory)

    def _build(self) -> KnowledgeBase:
        kb = load_knowledge_base(self.directory)
        warm_up(kb)
        return kb
