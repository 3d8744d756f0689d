"""Tell the staff's Feishu group at once when a conversation is escalated to level 3 (12315 threats, safety).

The engine publishes `l3_alert` after its commit; `publish` only starts a background task, so a slow or
failing Feishu never holds up a conversation. The task reads the conversation, masks phone numbers and
addresses in the customer's last message, and posts through the Feishu app's own send path (cached
tenant token, refreshed once); a busy or unreachable Feishu is retried twice, a failure is logged.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from adapters.errors import DeliveryError
from adapters.feishu import FeishuAdapter
from app.privacy import mask
from app.store.tables import Conversation, Message

log = logging.getLogger(__name__)

CHANNEL_NAMES = {"web": "网页", "wechat_mp": "公众号", "wechat_shop": "微信小店", "wecom_kf": "微信客服"}
CHANNEL_NAMES |= {"feishu": "飞书", "telegram": "Telegram"}
REASON_NAMES = {"risk:threat": "投诉/曝光威胁", "risk:safety": "人身安全风险"}
RETRY_DELAYS = (1.0, 5.0)  # seconds before the second and third try


class FeishuAlerts:
    def __init__(
        self,
        sessions: async_sessionmaker,
        feishu: FeishuAdapter,
        chat_id: str,
        *,
        console_url: str | None = None,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
    ) -> None:
        self._sessions = sessions
        self._feishu = feishu
        self._chat_id = chat_id
        self._console_url = console_url.rstrip("/") if console_url else None
        self._retry_delays = retry_delays
        self._tasks: set[asyncio.Task] = set()

    def publish(self, event: dict) -> None:
        """Called after the commit with every supervisor event; an `l3_alert` is posted in the background."""
        if event.get("type") != "l3_alert":
            return
        task = asyncio.create_task(self._alert(event["conversation_id"], list(event.get("reasons") or ())))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    async def _alert(self, conversation_id: str, reasons: list[str]) -> None:
        try:
            text = await self._compose(conversation_id, reasons)
            await self._post(text)
        except DeliveryError as exc:
            log.error("L3 alert for conversation %s not posted to Feishu: %s", conversation_id, exc.reason)
        except Exception:
            log.exception("L3 alert for conversation %s failed", conversation_id)
        else:
            log.info("L3 alert for conversation %s posted to Feishu", conversation_id)

    async def _post(self, text: str) -> None:
        for delay in (*self._retry_delays, None):
            try:
                await self._feishu.post_text(self._chat_id, text)
                return
            except DeliveryError as exc:
                if delay is None or not exc.retryable:
                    raise
                log.warning("L3 alert not posted (%s); retrying in %.0f s", exc.reason, delay)
                await asyncio.sleep(max(delay, exc.retry_after or 0))

    async def _compose(self, conversation_id: str, reasons: list[str]) -> str:
        async with self._sessions() as session:
            conversation = await session.get_one(Conversation, conversation_id)
            last = await session.scalar(
                select(Message.text)
                .where(Message.conversation_id == conversation_id, Message.direction == "in")
                .order_by(Message.id.desc())
                .limit(1)
            )
        return alert_text(conversation, last, reasons, console_url=self._console_url)


def alert_text(
    conversation: Conversation, last_message: str | None, reasons: list[str], *, console_url: str | None
) -> str:
    """The alert as staff read it in the group: one line each for customer, channel, reason, last message…"""
    name = (conversation.customer or {}).get("name")
    customer = f"{name}（{conversation.customer_id}）" if name else conversation.customer_id
    channel = CHANNEL_NAMES.get(conversation.channel, conversation.channel)
    lines = [
        "【L3 升级】客户需要主管立即处理",
        f"客户：{customer}",
        f"渠道：{channel} · {conversation.account}",
        f"原因：{'；'.join(_reason(r) for r in reasons) or '未记录'}",
        f"最后消息：{mask(last_message) if last_message else '（无）'}",
        f"会话：{conversation.id}",
    ]
    if console_url:
        lines.append(f"控制台：{console_url}/console")
    return "\n".join(lines)


def _reason(reason: str) -> str:
    """A handoff reason for people: "risk:threat: 12315" -> "投诉/曝光威胁 12315"; other rules as they are."""
    rule, _, detail = reason.partition(": ")
    name = REASON_NAMES.get(rule, rule)
    return mask(f"{name} {detail}".strip())
