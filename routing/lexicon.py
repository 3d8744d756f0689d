"""The emotion-and-risk lexicon: kefu's built-in word lists, extended by ops in the rules file."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

BUILTIN_EMOTION_LEXICON = Path(__file__).resolve().parent / "lexicon" / "emotion.yaml"
WORD_LISTS = {
    "risk": ("strong_threat", "weak_threat", "action", "safety", "asking_about", "innocent"),
    "emotion": ("angry", "sarcasm", "soft_sarcasm", "anxious", "aggrieved"),
    "signals": ("angry_emoji", "anxious_emoji", "polite_emoji"),
}


PATTERN_LISTS = {  # section -> its lists of regular expressions
    "risk": ("threat_patterns",),
    "emotion": ("angry_patterns", "frustration_patterns", "anxious_patterns"),
}
PATTERN_NAMES = frozenset(name for names in PATTERN_LISTS.values() for name in names)


@dataclass(frozen=True)
class EmotionLexicon:
    words: dict[str, tuple[str, ...]] = field(default_factory=dict)  # list name -> words, lower case
    patterns: dict[str, tuple[re.Pattern, ...]] = field(default_factory=dict)  # list name -> regexes

    def __getitem__(self, name: str) -> tuple[str, ...]:
        return self.words.get(name, ())

    def extended(self, extra: dict[str, list[str]]) -> EmotionLexicon:
        """This lexicon plus ops' words (`{"angry": [...], "angry_patterns": [...]}`)."""
        words, patterns = dict(self.words), dict(self.patterns)
        for name, added in extra.items():
            if name in PATTERN_NAMES:
                patterns[name] = (*patterns.get(name, ()), *(re.compile(p) for p in added))
            else:
                words[name] = tuple(dict.fromkeys((*words.get(name, ()), *(str(w).lower() for w in added))))
        return EmotionLexicon(words, patterns)


def known_lists() -> set[str]:
    return {name for names in WORD_LISTS.values() for name in names} | PATTERN_NAMES


def load_emotion_lexicon(path: Path = BUILTIN_EMOTION_LEXICON) -> EmotionLexicon:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    words: dict[str, tuple[str, ...]] = {}
    for section, names in WORD_LISTS.items():
        for name in names:
            words[name] = tuple(str(w).lower() for w in data.get(section, {}).get(name, []))
    patterns = {
        name: tuple(re.compile(p) for p in data.get(section, {}).get(name, []))
        for section, names in PATTERN_LISTS.items()
        for name in names
    }
    return EmotionLexicon(words, patterns)
