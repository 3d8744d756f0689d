"""How the live FAQ and routing rules are built from their files (see app/live_files.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path

from app.live_files import LiveFiles
from app.settings import DEFAULT_RULES_FILE, Settings
from faq.knowledge_base import KnowledgeBase
from faq.lint import lint
from faq.loader import FaqLoadError, load_knowledge_base
from routing.emotion import EmotionReader
from routing.lexicon import load_emotion_lexicon
from routing.rules import Rules, load_rules


def build_knowledge_base(directory: Path, variables: dict[str, str]) -> KnowledgeBase:
    """Load and lint; lint errors (not warnings) refuse the version like load errors do."""
    kb = load_knowledge_base(directory, variables=variables)
    errors = [f for f in lint(kb, collisions=False) if f.severity == "error"]
    if errors:
        raise FaqLoadError([f.problem for f in errors])
    return kb


@dataclass(frozen=True)
class Routing:
    """The rules and the emotion reader built with the rules' extra words: swapped together."""

    rules: Rules
    reader: EmotionReader


def build_routing(path: Path) -> Routing:
    rules = load_rules(path)
    lexicon = load_emotion_lexicon().extended({k: list(v) for k, v in rules.lexicon.items()})
    return Routing(rules, EmotionReader(lexicon))


@dataclass(frozen=True)
class LiveKnowledge:
    """The FAQ and the routing rules as their files say now (reloaded on change; `load` and `watch`
    each), and the rules to route by: the configured ones, or the shipped ones if those never loaded."""

    faq: LiveFiles[KnowledgeBase]
    routing: LiveFiles[Routing]
    routing_now: Callable[[], Routing]

    @classmethod
    def from_settings(cls, settings: Settings) -> LiveKnowledge:
        variables = {"shop_name": settings.shop_name}
        faq = LiveFiles("FAQ", settings.faq_dir, partial(build_knowledge_base, settings.faq_dir, variables))
        routing = LiveFiles("routing rules", settings.rules_file, partial(build_routing, settings.rules_file))
        return cls(faq, routing, lambda: routing.current or _shipped_routing())


@cache
def _shipped_routing() -> Routing:
    return build_routing(DEFAULT_RULES_FILE)
