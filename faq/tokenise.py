"""Turn normalised text into the terms the index compares: corrected, segmented, canonical.

>>> Tokeniser(load_lexicon(BUILTIN_LEXICON)).terms("推货运废谁出")
['退货', '运费', '谁', '出']
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

import jieba

from faq.lexicon import BUILTIN_LEXICON, Lexicon, load_lexicon  # noqa: F401  (doctest)

jieba.setLogLevel(logging.WARNING)

# "包不包邮", "能不能", "退不退": a yes-no question asks about the plain word. "分12期" is about 分期,
# "满300减30" about 满减.
_A_NOT_A = re.compile(r"(\w)[不没]\1")
_COUNTED = re.compile(r"([分])\d+(期)")
_FULL_REDUCTION = re.compile(r"每?满\d+减\d+")


@lru_cache(maxsize=4)
def _segmenter(words: frozenset[str]) -> jieba.Tokenizer:
    """A jieba instance of its own per word set, so one shop's dictionary never leaks into another's."""
    segmenter = jieba.Tokenizer()
    segmenter.initialize()
    for word in sorted(words):
        segmenter.add_word(word, freq=max(segmenter.suggest_freq(word, tune=False), 1000))
    return segmenter


class Tokeniser:
    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self._corrections = lexicon.correction_pattern()
        self._segmenter = _segmenter(lexicon.words)

    def correct(self, text: str) -> str:
        text = _FULL_REDUCTION.sub("满减", _COUNTED.sub(r"\1\2", _A_NOT_A.sub(r"\1", text)))
        if self._corrections is None:
            return text
        return self._corrections.sub(lambda m: self.lexicon.corrections[m.group(0)], text)

    def terms(self, corrected: str) -> list[str]:
        """Canonical words of normalised, `correct`ed text, stopwords and spaces dropped."""
        lexicon = self.lexicon
        out = []
        for word in self._segmenter.lcut(corrected, HMM=False):
            word = word.strip()
            if not word or word in lexicon.stopwords:
                continue
            out.append(lexicon.canonical.get(word, word))
        return out
