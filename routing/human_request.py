"""Spot a customer asking for a person, which always wins over the bot."""

from __future__ import annotations

import re

from faq.normalise import fold

# Whole-message requests ("人工", "真人") and phrases inside longer messages ("帮我转人工客服").
_PUNCTUATION = re.compile(r"[\s\W_]+")
_EXACT = {"人工", "真人", "客服", "人工服务", "找人工", "要人工"}
_PHRASES = re.compile(
    r"(?:转人工|人工客服|真人客服|转接人工|找人工|要人工|人工服务|接人工|叫人工|活人|找个人|真人|不要机器人)"
    r"(?!费|智能|成本|秀)"
)


def asks_for_human(text: str) -> bool:
    """True for 转人工, 人工客服 and the like; False for "人工费多少" or "人工智能"."""
    folded = _PUNCTUATION.sub("", fold(text))
    return folded in _EXACT or bool(_PHRASES.search(folded))


_CHECKING = {"在吗", "客服在吗", "有人吗", "人呢", "在不在", "有人在吗", "客服呢"}


def checks_for_a_person(text: str) -> bool:
    """ "在吗", "有人吗": after the bot failed to help, this is a request for a person too."""
    return _PUNCTUATION.sub("", fold(text)) in _CHECKING
