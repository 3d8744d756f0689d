"""WeCom KF's sync_msg items in kefu's message model: customers' messages in, everything else logged.

An item's `origin` says who wrote it: 3 the customer (the only ones the bot sees), 4 a system
event (enter_session, session_status_change, msg_send_fail, …), 5 a servicer replying from the
WeCom app. Non-text messages become a readable notice ("[图片]", "[位置] 徐汇区…"), never dropped.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from adapters.base import Address, InboundMessage

log = logging.getLogger(__name__)

CHANNEL = "wecom_kf"
ORIGIN_CUSTOMER, ORIGIN_EVENT, ORIGIN_SERVICER = 3, 4, 5
PLACEHOLDERS = {"image": "[图片]", "voice": "[语音]", "video": "[视频]", "file": "[文件]", "location": "[位置]"}
PLACEHOLDERS |= {"link": "[链接]", "business_card": "[名片]", "miniprogram": "[小程序]", "msgmenu": "[菜单消息]"}
PLACEHOLDERS |= {"channels_shop_product": "[视频号商品]", "channels_shop_order": "[视频号订单]"}
PLACEHOLDERS |= {"channels": "[视频号]", "merged_msg": "[聊天记录]", "note": "[笔记]", "meeting": "[会议]"}
DETAIL_FIELDS = {
    "location": ("name", "address"),
    "link": ("title",),
    "miniprogram": ("title",),
    "channels_shop_product": ("title", "sales_price"),
    "channels_shop_order": ("order_id", "product_titles"),
    "channels": ("title",),
    "merged_msg": ("title",),
}
_SEPARATOR = ":"  # open_kfid and external_userid are [A-Za-z0-9_-]


def customer_id(open_kfid: str, external_userid: str) -> str:
    """The Address.customer_id of a WeCom customer: send_msg needs the KF account and the customer."""
    return f"{open_kfid}{_SEPARATOR}{external_userid}"


def split_customer_id(value: str) -> tuple[str, str]:
    """(open_kfid, external_userid); ValueError for an id this channel did not make."""
    open_kfid, separator, external_userid = value.partition(_SEPARATOR)
    if not (open_kfid and separator and external_userid):
        raise ValueError(f"not a wecom_kf customer id: {value!r}")
    return open_kfid, external_userid


def inbound_messages(items: list, *, account: str) -> list[InboundMessage]:
    """The customers' messages among sync_msg's `msg_list`; events and servicers' messages are only logged."""
    messages = []
    for item in items:
        if not isinstance(item, dict):
            log.error("wecom_kf sync_msg item is not an object; skipped")
        elif item.get("origin") == ORIGIN_CUSTOMER:
            if (message := _customer_message(item, account)) is not None:
                messages.append(message)
        elif item.get("origin") == ORIGIN_EVENT or item.get("msgtype") == "event":
            _log_event(item.get("event") or {})
        else:
            log.debug("wecom_kf skipped item %s of origin %s", item.get("msgid"), item.get("origin"))
    return messages


def _customer_message(item: dict, account: str) -> InboundMessage | None:
    msgid, open_kfid, external_userid = item.get("msgid"), item.get("open_kfid"), item.get("external_userid")
    if not (msgid and open_kfid and external_userid):
        log.error("wecom_kf customer item without msgid, open_kfid or external_userid; skipped: %s", sorted(item))
        return None
    return InboundMessage(
        address=Address(CHANNEL, account, customer_id(str(open_kfid), str(external_userid))),
        platform_message_id=str(msgid),
        text=message_text(item),
        sent_at=_sent_at(item.get("send_time")),
    )


def message_text(item: dict) -> str:
    """The text of a customer's item, or a readable notice for anything else (e.g. "[位置] 漕溪北路")."""
    msg_type = str(item.get("msgtype", ""))
    body = item.get(msg_type) if isinstance(item.get(msg_type), dict) else {}
    if msg_type == "text" and str(body.get("content", "")).strip():
        return str(body["content"])
    label = PLACEHOLDERS.get(msg_type, "[暂不支持的消息]")
    details = [_flat(body.get(name)) for name in DETAIL_FIELDS.get(msg_type, ())]
    return " ".join([label, *(d for d in details if d)])


def _flat(value: object) -> str:
    if isinstance(value, list):
        return "、".join(str(v) for v in value if v)
    return str(value).strip() if value not in (None, "") else ""


def _sent_at(send_time: object) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(send_time), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _log_event(event: dict) -> None:
    """Events need no answer; a failed send is worth a warning, the rest a line in the log."""
    kind = event.get("event_type", "?")
    if kind == "msg_send_fail":
        failed, fail_type = event.get("fail_msgid"), event.get("fail_type")
        log.warning("wecom_kf could not deliver message %s to the customer (fail_type %s)", failed, fail_type)
    else:
        log.info("wecom_kf event %s for KF account %s", kind, event.get("open_kfid"))
