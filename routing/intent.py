"""What the customer wants: the FAQ match's category when it is confident, keyword rules otherwise."""

from __future__ import annotations

from dataclasses import dataclass

from faq.matcher import MatchResult
from faq.normalise import fold
from routing.rules import Rules


@dataclass(frozen=True, slots=True)
class Intent:
    name: str | None  # one of routing.rules.INTENTS, or None when nothing says
    source: str  # "faq", "keywords" or "none"
    detail: str = ""

    def as_dict(self) -> dict:
        """dataclasses.asdict's result without its deep copy (kept with every message)."""
        return {"name": self.name, "source": self.source, "detail": self.detail}


def classify(text: str, faq: MatchResult | None, rules: Rules) -> Intent:
    """The intent of one message: FAQ answer category, then keywords, then the FAQ's best guess."""
    best = faq.best if faq else None
    if faq and faq.decision == "answer" and best.entry.category in rules.category_intents:
        return Intent(rules.category_intents[best.entry.category], "faq", f"{best.entry.id} ({best.entry.category})")
    folded = fold(text)
    for intent, words in rules.intent_keywords.items():
        if hit := next((w for w in words if w and w.lower() in folded), None):
            return Intent(intent, "keywords", hit)
    if best and best.entry.category in rules.category_intents and faq.decision == "suggest":
        return Intent(rules.category_intents[best.entry.category], "faq", f"suggested {best.entry.id}")
    return Intent(None, "none")
