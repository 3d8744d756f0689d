"""Turn normalised text into the terms the index compares: corrected, segmented, canonical.

>>> Tokeniser(load_lexicon(BUILTIN_LEXICON)).terms("推货运废谁出")
['退货', '运费', '谁', '出']
"""

from __future__ import annotations

import re
from functools import lru_cache

import rjieba

from faq.lexicon import BUILTIN_LEXICON, Lexicon, load_lexicon  # noqa: F401  (doctest)

# A lexicon word outweighs the general dictionary's split of it (jieba's `add_word` with a floor).
LEXICON_WORD_FREQUENCY = 1000

# "包不包邮", "能不能", "退不退": a yes-no question asks about the plain word. "分12期" is about 分期,
# "满300减30" about 满减. "收到货再付钱" is 货到付款.
_A_NOT_A = re.compile(r"(\w)[不没]\1")
_COUNTED = re.compile(r"([分])\d+(期)")
_FULL_REDUCTION = re.compile(r"每?满\d+[元块]?(?:都|就|才|可以|能)?减(?:\d+[元块]?)?")
_PAY_ON_DELIVERY = re.compile(r"(?:收到?货|到货|货到|收到了?|到了)(?:的时候|以后|之后|后)?再?(?:付钱|付款|给钱|支付)")


@lru_cache(maxsize=4)
def _segmenter(words: frozenset[str]) -> rjieba.Jieba:
    """A jieba instance of its own per word set, so one shop's dictionary never leaks into another's.

    rjieba is jieba-rs, the Rust port of jieba with the same dictionary and algorithm: the same
    segmentation as Python jieba for 99.9% of real messages (benchmarks/results/tokeniser_port.md)
    at a fifteenth of the cost, built in a fraction of the time (hot reloads, start-up).
    """
    segmenter = rjieba.Jieba()
    for word in sorted(words):
        segmenter.add_word(word, max(segmenter.suggest_freq(word), LEXICON_WORD_FREQUENCY), None)
    return segmenter


class Tokeniser:
    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self._corrections = lexicon.correction_pattern()
        self._segmenter = _segmenter(lexicon.words)

    def correct(self, text: str) -> str:
        text = _FULL_REDUCTION.sub("满减", _COUNTED.sub(r"\1\2", _A_NOT_A.sub(r"\1", text)))
        text = _PAY_ON_DELIVERY.sub("货到付款", text)
        if self._corrections is None:
            return text
        return self._corrections.sub(lambda m: self.lexicon.corrections[m.group(0)], text)

    def terms(self, corrected: str) -> list[str]:
        """Canonical words of normalised, `correct`ed text, stopwords and spaces dropped."""
        lexicon = self.lexicon
        out = []
        for word in self._segmenter.cut(corrected, False):  # no HMM: unknown words stay characters
            word = word.strip()
            if not word or word in lexicon.stopwords or (word.isdigit() and word not in lexicon.words):
                continue  # a bare number (price, size, date) says nothing about the topic
            out.append(lexicon.canonical.get(word, word))
            if len(word) > 3 and word in lexicon.words and word not in lexicon.canonical:
                out += self._parts(word)
        return out

    def _parts(self, word: str) -> list[str]:
        """The lexicon's words inside one of its compounds (纸质发票: 纸质, 发票), as search engines index them."""
        lexicon = self.lexicon
        parts = []
        for size in (2, 3):
            for i in range(len(word) - size + 1):
                part = word[i : i + size]
                if part in lexicon.words or part in lexicon.canonical:
                    parts.append(lexicon.canonical.get(part, part))
        return parts
