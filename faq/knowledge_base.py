"""The in-memory knowledge base the matcher reads: immutable, built aside and swapped whole on reload."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
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


@dataclass(eq=False)
class KnowledgeBase:
    """One version of the knowledge base; treated as immutable once built (it is swapped, not edited)."""

    entries: dict[str, Entry] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    sources: tuple[Path, ...] = ()
    index: SearchIndex | None = None

    def __len__(self) -> int:
        return len(self.entries)

    @cached_property
    def conditional(self) -> tuple[Entry, ...]:
        """Entries that are not always on: dated, channel-bound or with negative keywords (few)."""
        return tuple(
            e for e in self.entries.values() if e.valid_from or e.valid_until or e.channels or e.negative_keywords
        )
