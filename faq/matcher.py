"""Find the FAQ entry a customer message asks about, or None when no entry is close enough.

A first matcher: normalise, tokenise with jieba, and score every FAQ question with rapidfuzz.
Shaped like `rapidfuzz.process.extractOne`: the query and knowledge base positional, every
knob keyword-only, `None` below the cutoff.

    >>> kb = KnowledgeBase({"ship": Entry("ship", ("什么时候发货",), "48小时内发货")})
    >>> match("啥时候发货呀", kb).entry.id
    'ship'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import jieba
from rapidfuzz import fuzz, process

from faq.knowledge_base import Entry, KnowledgeBase
from faq.normalise import normalise

Scorer = Callable[..., float]
DEFAULT_CUTOFF = 75.0  # measured on a shop dev set: ~80% of answers right, few wrong


@dataclass(frozen=True, slots=True)
class Match:
    entry: Entry
    score: float
    question: str


def tokens(text: str) -> str:
    """Normalised text as space-separated jieba words, the form the scorer compares."""
    return " ".join(jieba.lcut(normalise(text)))


@lru_cache(maxsize=8)
def _choices(kb: KnowledgeBase) -> tuple[list[str], list[tuple[Entry, str]]]:
    keys: list[str] = []
    origins: list[tuple[Entry, str]] = []
    for entry in kb.entries.values():
        for question in entry.questions:
            keys.append(tokens(question))
            origins.append((entry, question))
    return keys, origins


def match(
    query: str,
    kb: KnowledgeBase,
    *,
    scorer: Scorer = fuzz.token_set_ratio,
    score_cutoff: float = DEFAULT_CUTOFF,
) -> Match | None:
    """The best entry for `query` scoring at least `score_cutoff` (0-100), else None."""
    query_tokens = tokens(query)
    if not query_tokens:
        return None
    keys, origins = _choices(kb)
    best = process.extractOne(query_tokens, keys, scorer=scorer, processor=None, score_cutoff=score_cutoff)
    if best is None:
        return None
    _, score, index = best
    entry, question = origins[index]
    return Match(entry, round(score, 1), question)


def warm_up(kb: KnowledgeBase) -> None:
    """Load jieba's dictionary and index `kb` now, not on the first customer's message."""
    jieba.initialize()
    _choices(kb)
