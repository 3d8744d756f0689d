"""The in-memory knowledge base the matcher reads: immutable, built aside and swapped whole on reload."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from faq.index import SearchIndex


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    questions: tuple[str, ...]
    answer: str
    category: str | None = None
    keywords: tuple[str, ...] = ()
    negative_keywords: tuple[str, ...] = ()
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    channels: tuple[str, ...] = ()  # empty: every channel
    handoff: bool = False  # answer, then hand the conversation to a person
    source: Path | None = None
    line: int | None = None

    def live(self, now: datetime, channel: str | None = None) -> bool:
        """Within its validity window and offered on `channel`."""
        if self.valid_from and now < self.valid_from:
            return False
        if self.valid_until and now >= self.valid_until:
            return False
        return not (channel and self.channels and channel not in self.channels)

    def render(self, variables: dict[str, str]) -> str:
        """The answer with `{name}` variables filled in; unknown names stay as written."""
        text = self.answer
        for name, value in variables.items():
            text = text.replace("{" + name + "}", value)
        return text


@dataclass(frozen=True, eq=False)
class KnowledgeBase:
    """Compared and hashed by identity, so derived data can be cached per version."""

    entries: dict[str, Entry] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    sources: tuple[Path, ...] = ()
    index: SearchIndex | None = None

    def __len__(self) -> int:
        return len(self.entries)
