"""The in-memory knowledge base the matcher reads: immutable, swapped whole on reload."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    questions: tuple[str, ...]
    answer: str
    category: str | None = None
    source: Path | None = None
    line: int | None = None


@dataclass(frozen=True, eq=False)
class KnowledgeBase:
    """Compared and hashed by identity, so derived indexes can be cached per version."""

    entries: dict[str, Entry] = field(default_factory=dict)
    sources: tuple[Path, ...] = ()

    def __len__(self) -> int:
        return len(self.entries)
