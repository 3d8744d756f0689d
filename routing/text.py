"""One folding of customer text for routing's word lists: half width, Simplified, lower case."""

from __future__ import annotations

import unicodedata

import zhconv


def fold(text: str) -> str:
    """'請問ＶＩＰ' → '请问vip'; punctuation is kept (it carries emotion)."""
    return zhconv.convert(unicodedata.normalize("NFKC", text), "zh-cn").lower()
