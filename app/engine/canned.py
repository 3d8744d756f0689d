"""快捷回复: the rules file's canned replies, filled in for one conversation."""

from __future__ import annotations

from dataclasses import dataclass

from routing.rules import CannedReply

DEFAULT_NAME = "亲"
DEFAULT_ORDER = "您的订单"  # "{order_id}的退款…" reads well either way


@dataclass(frozen=True)
class ChatFacts:
    customer_name: str | None
    order_id: str | None
    agent_name: str
    intent: str | None
    emotion: str | None


def render(reply: CannedReply, facts: ChatFacts) -> str:
    return reply.text.format(
        customer_name=facts.customer_name or DEFAULT_NAME,
        order_id=facts.order_id or DEFAULT_ORDER,
        agent_name=facts.agent_name,
    )


def search(replies: tuple[CannedReply, ...], query: str, facts: ChatFacts) -> list[dict]:
    """'/ref' or 'ref' finds shortcuts starting with it; any other text searches the replies' words."""
    wanted = query.strip().lstrip("/").lower()
    hits = [r for r in replies if r.shortcut.lower().startswith(wanted) or (wanted and wanted in r.text)]
    return [{"shortcut": r.shortcut, "text": render(r, facts)} for r in hits]


def fitting(replies: tuple[CannedReply, ...], facts: ChatFacts) -> list[str]:
    """The replies meant for this chat's intent or emotion, filled in."""
    return [render(r, facts) for r in replies if facts.intent in r.intents or facts.emotion in r.emotions]
