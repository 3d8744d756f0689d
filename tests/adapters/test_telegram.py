"""The Telegram adapter: Updates checked by python-telegram-bot, the Bot API as a MockTransport."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from adapters.base import Address, CustomerProfile, OutboundMessage, WebhookRequest
from adapters.errors import DeliveryError, PayloadError, SignatureError
from adapters.telegram import MAX_TEXT, TelegramAdapter, split_text
from tests.utils.telegram_updates import CHAT_ID, NOW, body, checked, photo, update

BOT_TOKEN = "123456789:AAUnitTestBotToken_abcdefghijklmnopq"
SECRET = "unit-secret-token"


def request(payload: dict | bytes, secret: str | None = SECRET) -> WebhookRequest:
    headers = {"x-telegram-bot-api-secret-token": secret} if secret is not None else {}
    return WebhookRequest("POST", headers, {}, payload if isinstance(payload, bytes) else body(payload))


def adapter(handler=None) -> TelegramAdapter:
    transport = httpx.MockTransport(handler or (lambda request: httpx.Response(200, json={"ok": True})))
    return TelegramAdapter(
        account="shop",
        bot_token=BOT_TOKEN,
        secret_token=SECRET,
        client=httpx.AsyncClient(transport=transport),
        api_base="https://bot.test",
    )


def outbound(text: str = "一般48小时内发货") -> OutboundMessage:
    return OutboundMessage("msg-1", "conv-1", Address("telegram", "shop", str(CHAT_ID)), "bot", text)


# verify


def test_matching_secret_header_is_accepted():
    adapter().verify(request(update(1)))


@pytest.mark.parametrize(("secret", "reason"), [(None, "missing"), ("wrong-secret", "does not match")])
def test_missing_or_wrong_secret_is_refused(secret, reason):
    with pytest.raises(SignatureError, match=reason):
        adapter().verify(request(update(1), secret=secret))


def test_post_is_not_a_handshake():
    assert adapter().handshake(request(update(1))) is None


# parse


def test_text_message_is_parsed():
    [message] = adapter().parse(request(update(1001, text="什么时候发货")))
    assert message.address == Address("telegram", "shop", str(CHAT_ID))
    assert message.platform_message_id == "1001"
    assert message.text == "什么时候发货"
    assert message.sent_at == datetime.fromtimestamp(NOW, UTC)
    assert message.customer == CustomerProfile(name="小 明")


def test_username_is_the_name_when_there_is_no_first_name():
    payload = update(1002)
    payload["message"]["from"] = {"id": CHAT_ID, "is_bot": False, "first_name": "", "username": "xiaoming"}
    [message] = adapter().parse(request(checked(payload)))
    assert message.customer.name == "xiaoming"


def test_photo_with_caption_becomes_a_placeholder_with_the_caption():
    [message] = adapter().parse(request(photo(1003, caption="这个有货吗")))
    assert message.text == "[图片] 这个有货吗"


@pytest.mark.parametrize(
    ("content", "text"),
    [
        ({"sticker": {"file_id": "s", "file_unique_id": "s", "width": 1, "height": 1, "is_animated": False,
                      "is_video": False, "type": "regular", "emoji": "👍"}}, "[表情] 👍"),
        ({"voice": {"file_id": "v", "file_unique_id": "v", "duration": 3}}, "[语音]"),
        ({"document": {"file_id": "d", "file_unique_id": "d", "file_name": "订单.pdf"}}, "[文件] 订单.pdf"),
        ({"location": {"latitude": 31.2, "longitude": 121.4}}, "[位置]"),
        ({"new_chat_title": "x"}, "[暂不支持的消息]"),
    ],
)  # fmt: skip
def test_non_text_messages_become_placeholders(content, text):
    [message] = adapter().parse(request(update(1004, text=None, **content)))
    assert message.text == text


USER = {"id": CHAT_ID, "is_bot": False, "first_name": "小"}
CHAT = {"id": CHAT_ID, "type": "private"}
MEMBER = {"user": {"id": 1, "is_bot": True, "first_name": "kefu"}, "until_date": 0}
OTHER_UPDATES = {
    "callback_query": {"id": "4382bfdwdsb323b2d9", "from": USER, "chat_instance": "-42", "data": "faq:shipping"},
    "my_chat_member": {
        "chat": CHAT, "from": USER, "date": NOW,
        "old_chat_member": {**MEMBER, "status": "member"}, "new_chat_member": {**MEMBER, "status": "kicked"},
    },
    "edited_message": update(1)["message"],
}  # fmt: skip


@pytest.mark.parametrize("kind", OTHER_UPDATES)
def test_updates_without_a_new_message_carry_nothing(kind):
    payload = checked({"update_id": 1005, kind: OTHER_UPDATES[kind]})
    assert adapter().parse(request(payload)) == []


def test_malformed_json_is_refused():
    with pytest.raises(PayloadError, match="malformed JSON") as info:
        adapter().parse(request(b'{"update_id": 1, "message":'))
    assert info.value.field == "body"


@pytest.mark.parametrize(
    ("breakage", "field"),
    [
        (lambda p: p.pop("update_id"), "update_id"),
        (lambda p: p["message"]["chat"].pop("id"), "message.chat.id"),
        (lambda p: p["message"].update(date="yesterday"), "message.date"),
        (lambda p: p.update(message="hello"), "message"),
    ],
)
def test_missing_or_bad_fields_are_named(breakage, field):
    payload = update(1006)
    breakage(payload)
    with pytest.raises(PayloadError, match=field) as info:
        adapter().parse(request(payload))
    assert info.value.field == field


def test_acknowledge_is_ok_json():
    reply = adapter().acknowledge(accepted=1, duplicates=0)
    assert (reply.status_code, json.loads(reply.body)) == (200, {"ok": True})


# send_text


async def test_send_posts_send_message_to_the_chat():
    seen: list[httpx.Request] = []

    def bot_api(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True, "result": {"message_id": 9}})

    assert await adapter(bot_api).send_text(outbound("一般48小时内发货")) is True
    [sent] = seen
    assert str(sent.url) == f"https://bot.test/bot{BOT_TOKEN}/sendMessage"
    assert json.loads(sent.content) == {"chat_id": str(CHAT_ID), "text": "一般48小时内发货"}


def answer(status: int, **result) -> httpx.Response:
    return httpx.Response(status, json={"ok": False, **result})


async def test_flood_limit_is_retried_after_the_platforms_hint():
    refuse = answer(429, error_code=429, description="Too Many Requests: retry after 7", parameters={"retry_after": 7})
    with pytest.raises(DeliveryError, match="429") as info:
        await adapter(lambda request: refuse).send_text(outbound())
    assert (info.value.retryable, info.value.retry_after) == (True, 7.0)


@pytest.mark.parametrize(
    "response", [answer(502, error_code=502, description="Bad Gateway"), httpx.Response(503, text="<html>")]
)
async def test_server_errors_are_retryable(response):
    with pytest.raises(DeliveryError) as info:
        await adapter(lambda request: response).send_text(outbound())
    assert info.value.retryable is True


@pytest.mark.parametrize(
    ("code", "description"), [(403, "Forbidden: bot was blocked by the user"), (400, "Bad Request: chat not found")]
)
async def test_blocked_bot_and_bad_chat_fail_for_good_with_the_description(code, description):
    refuse = answer(code, error_code=code, description=description)
    with pytest.raises(DeliveryError, match=description) as info:
        await adapter(lambda request: refuse).send_text(outbound())
    assert info.value.retryable is False
    assert BOT_TOKEN not in str(info.value)


async def test_network_error_is_retryable_and_hides_the_token():
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}")

    with pytest.raises(DeliveryError, match="unreachable: ConnectError") as info:
        await adapter(unreachable).send_text(outbound())
    assert info.value.retryable is True
    assert BOT_TOKEN not in str(info.value) and info.value.__cause__ is None


# long texts


def test_short_text_is_one_part():
    assert split_text("一般48小时内发货") == ["一般48小时内发货"]


def test_long_text_is_cut_at_line_breaks_within_the_limit():
    lines = [f"第{i}行：" + "发货说明" * 20 for i in range(100)]  # 100 lines of about 85 characters
    parts = split_text("\n".join(lines))
    assert len(parts) == 3
    assert all(len(part) <= MAX_TEXT for part in parts)
    assert "\n".join(parts) == "\n".join(lines)  # nothing lost, every cut on a line break


def test_a_line_longer_than_the_limit_is_cut_mid_line():
    parts = split_text("很" * 5000)
    assert [len(part) for part in parts] == [4096, 904]


def test_emoji_outside_the_bmp_count_two_units():
    parts = split_text("😀" * 2049)
    assert [len(part) for part in parts] == [2048, 1]


class SplitBotAPI:
    """sendMessage recorded in order; the call numbered `fail_at` (1-based) answers 502 once."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.texts: list[str] = []
        self.calls = 0
        self._fail_at = fail_at

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.calls == self._fail_at:
            return httpx.Response(502, json={"ok": False, "error_code": 502, "description": "Bad Gateway"})
        self.texts.append(json.loads(request.content)["text"])
        return httpx.Response(200, json={"ok": True, "result": {"message_id": self.calls}})


LONG = "\n".join(f"{i}. " + "退换货须知" * 30 for i in range(60))  # about 9,000 characters


async def test_long_reply_goes_out_as_several_messages_in_order():
    bot_api = SplitBotAPI()
    assert await adapter(bot_api).send_text(outbound(LONG)) is True
    assert len(bot_api.texts) == 3
    assert "\n".join(bot_api.texts) == LONG
    assert [text.split(".")[0] for text in bot_api.texts] == ["0", "26", "52"]  # whole lines, in order


async def test_retry_after_a_failed_part_resumes_at_that_part():
    bot_api = SplitBotAPI(fail_at=2)
    bot = adapter(bot_api)
    with pytest.raises(DeliveryError) as info:
        await bot.send_text(outbound(LONG))
    assert info.value.retryable is True
    assert await bot.send_text(outbound(LONG)) is True
    assert "\n".join(bot_api.texts) == LONG  # part 1 once, then parts 2 and 3
