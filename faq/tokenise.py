"""Turn normalised text into the terms the index compares: corrected, segmented, canonical.

>>> Tokeniser(load_lexicon(BUILTIN_LEXICON)).terms("推货运废谁出")
['退货', '运费', '谁', '出']
"""

from __future__ import annotations

import logging
from functools import lru_cache

import jieba

from faq.lexicon import BUILTIN_LEXICON, Lexicon, load_lexicon  # noqa: F401  (doctest)

jieba.setLogLevel(logging.WARNING)


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
        if self._corrections is None:
            return text
        return self._corrections.sub(lambda m: self.lexicon.corrections[m.group(0)], text)

    def terms(self, text: str) -> list[str]:
        """Canonical words of already-normalised `text`, stopwords and spaces dropped."""
        lexicon = self.lexicon
        out = []
        for word in self._segmenter.lcut(self.correct(text), HMM=True):
            word = word.strip()
            if not word or word in lexicon.stopwords:
                continue
            out.append(lexicon.canonical.get(word, word))
        return out
