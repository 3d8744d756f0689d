"""Read a mistyped word as the knowledge base's word that sounds the same: 推货 → 退货, 发漂 → 发票.

Customers type pinyin and pick the wrong characters; a word the knowledge base never uses whose
toneless pinyin equals exactly one word it does use is taken to mean that word. Pairs of single
characters are tried together, since a typo often breaks segmentation (推/货).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache

from pypinyin import lazy_pinyin


@lru_cache(maxsize=1 << 16)  # customers' words repeat (Zipf): most lookups are hits
def _sound(word: str) -> str:
    return " ".join(lazy_pinyin(word))


class SoundAlike:
    def __init__(self, vocabulary: Iterable[str]) -> None:
        words = [w for w in vocabulary if len(w) >= 2 and not w.isascii()]
        by_sound: dict[str, set[str]] = defaultdict(set)
        for word in words:
            by_sound[_sound(word)].add(word)
        self._known = set(vocabulary)
        self._by_sound = {sound: next(iter(found)) for sound, found in by_sound.items() if len(found) == 1}

    def fix(self, terms: list[str]) -> list[str]:
        """`terms` with unknown words (and unknown pairs of single characters) replaced by sound-alikes."""
        fixed: list[str] = []
        i = 0
        while i < len(terms):
            term = terms[i]
            pair = term + terms[i + 1] if i + 1 < len(terms) and len(term) == len(terms[i + 1]) == 1 else None
            if pair and term in self._known and terms[i + 1] in self._known:
                pair = None  # two words the knowledge base uses ("只/减") are not a broken typo
            if pair and pair not in self._known and (match := self._by_sound.get(_sound(pair))):
                fixed.append(match)
                i += 2
                continue
            if term not in self._known and len(term) >= 2 and not term.isascii():
                term = self._by_sound.get(_sound(term), term)
            fixed.append(term)
            i += 1
        return fixed
