"""Telegram Updates as the Bot API sends them, each first read back by python-telegram-bot."""

from __future__ import annotations

import json

import telegram

CHAT_ID = 777000123
NOW = 1_800_000_000


def update(update_id: int, *, text: str | None = "什么时候发货", chat_id: int = CHAT_ID, **content) -> dict:
    """A private-chat `message` update; `content` adds e.g. photo=[...], caption="..." for non-text messages."""
    message = {
        "message_id": update_id % 100_000,
        "from": {"id": chat_id, "is_bot": False, "first_name": "小", "last_name": "明", "language_code": "zh-hans"},
        "chat": {"id": chat_id, "first_name": "小", "last_name": "明", "type": "private"},
        "date": NOW,
        **({"text": text} if text is not None else {}),
        **content,
    }
    return checked({"update_id": update_id, "message": message})


def photo(update_id: int, caption: str | None = None) -> dict:
    sizes = [{"file_id": "AgACAgIAAxkBAAIC", "file_unique_id": "AQADm7Ix", "width": 90, "height": 90}]
    return update(update_id, text=None, photo=sizes, **({"caption": caption} if caption else {}))


def checked(payload: dict) -> dict:
    """`payload`, once python-telegram-bot has parsed it into the same Update (so the test can't drift)."""
    parsed = telegram.Update.de_json(payload, bot=None)
    assert parsed is not None and parsed.update_id == payload["update_id"]
    if "message" in payload:
        assert parsed.message.chat.id == payload["message"]["chat"]["id"]
        assert parsed.message.text == payload["message"].get("text")
        assert parsed.message.caption == payload["message"].get("caption")
    return payload


def body(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()
