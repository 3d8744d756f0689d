"""Bring customer text and FAQ questions to one form before matching.

Full-width letters and digits become half-width (NFKC), Latin letters lower case, and
punctuation, symbols, emoji and spaces are dropped: "发货了吗？？😭" → "发货了吗".
"""

from __future__ import annotations

import unicodedata

_DROPPED_CATEGORIES = ("P", "S", "Z", "C")


def normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in folded if not unicodedata.category(ch).startswith(_DROPPED_CATEGORIES))
