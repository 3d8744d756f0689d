"""Decide what the FAQ can do for a customer message: answer, suggest a few entries, or nothing.

Shaped like `rapidfuzz.process.extractOne`: the query and the knowledge base positional, every
knob keyword-only, expected outcomes as values (`decision == "none"` is not an error).

    >>> result = match("啥时候发货呀", kb)
    >>> result.decision, result.best.entry.id
    ('answer', 'shipping_time')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from faq.index import Scored
from faq.knowledge_base import KnowledgeBase
from faq.lexicon import Lexicon
from faq.normalise import Normalised, normalise

Decision = Literal["answer", "suggest", "none"]


@dataclass(frozen=True)
class Thresholds:
    """Scores are 0-1. Answer only when the best entry is both good and clearly ahead.

    Chosen for precision on a shop dev set (a wrong answer costs more than a suggestion).
    """

    answer: float = 0.35
    lead: float = 1.3  # the best must score this many times the runner-up
    suggest: float = 0.2
    suggestions: int = 3


@dataclass(frozen=True)
class MatchResult:
    decision: Decision
    candidates: list[Scored]
    reasons: list[str]
    normalised: Normalised
    suggestions: list[Scored] = field(default_factory=list)

    @property
    def best(self) -> Scored | None:
        return self.candidates[0] if self.candidates else None

    def as_dict(self) -> dict:
        """The view ops see in `kefu faq ask` and the ops API."""
        return {
            "decision": self.decision,
            "answer_id": self.best.entry.id if self.decision == "answer" else None,
            "reasons": self.reasons,
            "normalised": self.normalised.text,
            "order_numbers": list(self.normalised.order_numbers),
            "candidates": [
                {"id": c.entry.id, "score": c.score, "question": c.question, "matched": list(c.matched)}
                for c in self.candidates
            ],
            "suggestions": [s.entry.id for s in self.suggestions],
        }


def match(
    query: str,
    kb: KnowledgeBase,
    *,
    thresholds: Thresholds = Thresholds(),
    channel: str | None = None,
    now: datetime | None = None,
) -> MatchResult:
    """Score `query` against the live entries of `kb` and decide."""
    index = kb.index
    if index is None:
        return MatchResult("none", [], ["no index"], normalise(query))
    parsed = index.parse(query)
    if not parsed.text:
        return MatchResult("none", [], ["nothing to match after normalising"], parsed.normalised)
    if parsed.text in index.tokeniser.lexicon.replies:
        return MatchResult("none", [], ["an acknowledgement, not a question"], parsed.normalised)
    now = now or datetime.now(UTC)
    excluded = frozenset(
        e.id for e in kb.conditional if not e.live(now, channel) or _vetoed(parsed.text, e.negative_keywords)
    )
    candidates = index.search(parsed, exclude=excluded, limit=max(thresholds.suggestions, 2))
    result = _decide(candidates, thresholds, parsed.normalised)
    if result.decision == "answer" and (why := _too_little(parsed.terms, result.best, index.tokeniser.lexicon)):
        close = [c for c in candidates[: thresholds.suggestions] if c.score >= thresholds.suggest]
        return MatchResult("suggest", candidates, [*result.reasons, why], parsed.normalised, suggestions=close)
    return result


def _too_little(terms: frozenset[str], best: Scored, lexicon: Lexicon) -> str | None:
    """Why a good score is still no answer: the message says too little to be sure what it asks."""
    if terms <= lexicon.details:  # "湖北武汉洪山区…", "电话 138…": handing a detail over
        return f"only {'、'.join(sorted(terms))}: the customer may be giving it, not asking"
    if all(len(term) < 2 for term in best.matched):  # "人呢", "我在找找", "错了": one character says little
        return f"only single characters matched ({'、'.join(best.matched)}): too little to answer on"
    return None


def _vetoed(text: str, negative_keywords: tuple[str, ...]) -> bool:
    return any(word and word in text for word in negative_keywords)


def _decide(candidates: list[Scored], t: Thresholds, normalised: Normalised) -> MatchResult:
    if not candidates or candidates[0].score < t.suggest:
        top = f"best {candidates[0].entry.id} {candidates[0].score:.2f}" if candidates else "no candidate"
        return MatchResult("none", candidates, [f"{top} below suggest threshold {t.suggest}"], normalised)
    best = candidates[0]
    runner_up = candidates[1].score if len(candidates) > 1 else 0.0
    if best.score >= t.answer and best.score >= t.lead * runner_up:
        reason = f"{best.entry.id} {best.score:.2f} ≥ {t.answer}, runner-up {runner_up:.2f}"
        return MatchResult(
            "answer", candidates, [reason, f"matched words: {'、'.join(best.matched) or '-'}"], normalised
        )
    close = [c for c in candidates[: t.suggestions] if c.score >= t.suggest]
    why = (
        "runner-up too close" if best.score >= t.answer else f"best {best.score:.2f} below answer threshold {t.answer}"
    )
    return MatchResult("suggest", candidates, [why], normalised, suggestions=close)
