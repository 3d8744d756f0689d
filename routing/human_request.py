"""Spot a customer asking for a person, which always wins over the bot."""

from __future__ import annotations

import re

from faq.normalise import normalise

# Whole-message requests ("人工", "真人") and phrases inside longer messages ("帮我转人工客服").
_EXACT = {"人工", "真人", "客服", "人工服务", "找人工", "要人工"}
_PHRASES = re.compile(
    r"(?:转人工|人工客服|真人客服|转接人工|找人工|要人工|人工服务|接人工|叫人工|活人)(?!费|智能|成本)"
)


def asks_for_human(text: str) -> bool:
    """True for 转人工, 人工客服 and the like; False for "人工费多少" or "人工智能"."""
    folded = normalise(text).text
    return folded in _EXACT or bool(_PHRASES.search(folded))
