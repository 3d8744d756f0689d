"""Bring customer text and FAQ questions to one form before matching.

Full-width becomes half-width (NFKC), Traditional becomes Simplified, Latin letters go lower
case; links, order numbers and phone numbers are taken out (kept aside for the agent);
platform stand-ins such as [图片] and punctuation, symbols, emoji and spaces are dropped:

    >>> normalise("訂單 4408123567890 怎麼還沒發貨？？😭").text
    '订单怎么还没发货'
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import zhconv

_URL = re.compile(r"https?://\S+|www\.\S+")
# Chat platforms' stand-ins for non-text content: [图片], [表情], [语音], #E-s[数字x], [订单x].
_PLACEHOLDER = re.compile(r"#e-s\[[^\]]{0,8}\]|\[[^\[\]]{1,8}\]")
_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_ORDER_NUMBER = re.compile(r"(?<![a-z0-9])[a-z]{0,3}\d{8,}(?![0-9])")
_DROPPED_CATEGORIES = ("P", "S", "Z", "C", "M")  # M: stray combining marks, left over from symbols


@dataclass(frozen=True, slots=True)
class Normalised:
    text: str
    order_numbers: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    links: tuple[str, ...] = ()


@lru_cache(maxsize=1)
def fold(text: str) -> str:
    """'請問ＶＩＰ' → '请问vip': half width, Simplified, lower case; punctuation is kept.

    The matcher, the emotion reader, the intent and the checks for a person each fold the same
    message one after the other (app/engine/bot.py), so the last one is kept: zhconv's conversion
    costs more than most of their own work on a short message."""
    return zhconv.convert(unicodedata.normalize("NFKC", text), "zh-cn").lower()


def normalise(text: str) -> Normalised:
    folded = fold(text)
    links = tuple(_URL.findall(folded))
    folded = _PLACEHOLDER.sub(" ", _URL.sub(" ", folded))
    phones = tuple(_PHONE.findall(folded))
    folded = _PHONE.sub(" ", folded)
    orders = tuple(_ORDER_NUMBER.findall(folded))
    folded = _ORDER_NUMBER.sub(" ", folded)
    kept = "".join(" " if _dropped(ch) else ch for ch in folded)
    return Normalised(_squeeze(kept), orders, phones, links)


def _dropped(ch: str) -> bool:
    return unicodedata.category(ch).startswith(_DROPPED_CATEGORIES)


def _squeeze(text: str) -> str:
    """Drop spaces except between two Latin/digit runs: '发 货 wl 查询' → '发货wl查询', 'ship to' stays."""
    words = text.split()
    out: list[str] = []
    for word in words:
        if out and out[-1][-1:].isascii() and out[-1][-1:].isalnum() and word[:1].isascii() and word[:1].isalnum():
            out.append(" ")
        out.append(word)
    return "".join(out)
