"""The FAQ as a running kefu uses it: hot reload, last good version kept, suggestions, the ops API."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from app.settings import SAMPLE_FAQ_DIR
from tests.e2e.conftest import post_signed
from tests.utils.signing import web_message
from tests.utils.waiting import wait_until

OPS_TOKEN = "ops-test-token-0123456789abcdef"
GIFT_ENTRY = "  - id: gift_wrap\n    questions: [能包装成礼物吗, 有礼品包装吗]\n    answer: 可以免费礼品包装哦\n"


@pytest.fixture
def faq_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "faq"
    shutil.copytree(SAMPLE_FAQ_DIR, folder)
    return folder


@pytest.fixture
def live_kefu(kefu_factory, faq_dir):
    process = kefu_factory(KEFU_FAQ_DIR=str(faq_dir), KEFU_OPS__TOKEN=OPS_TOKEN)
    process.migrate()
    return process.start()


def ask(base_url: str, text: str, token: str | None = OPS_TOKEN) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{base_url}/api/ops/faq/ask", json={"text": text}, headers=headers)


def test_a_new_entry_goes_live_without_a_restart(live_kefu, faq_dir):
    assert ask(live_kefu.url, "能包装成礼物吗").json()["answer_id"] != "gift_wrap"

    (faq_dir / "gifts.yaml").write_text("entries:\n" + GIFT_ENTRY, encoding="utf-8")

    wait_until(
        lambda: ask(live_kefu.url, "能包装成礼物吗").json()["answer_id"] == "gift_wrap", "the new entry answers", 10
    )


def test_a_broken_edit_keeps_the_last_good_version_and_names_the_line(live_kefu, faq_dir):
    (faq_dir / "gifts.yaml").write_text("entries:\n" + GIFT_ENTRY + "  - id: broken\n    questions: [x]\n", "utf-8")

    ready = wait_until(
        lambda: httpx.get(f"{live_kefu.url}/readyz").json()["checks"]["faq"]["error"], "an FAQ error", 10
    )

    assert f"{faq_dir / 'gifts.yaml'}:5: answer: Field required" in ready
    assert httpx.get(f"{live_kefu.url}/readyz").status_code == 200, "the last good version still serves"
    view = ask(live_kefu.url, "什么时候发货").json()
    assert view["answer_id"] == "shipping_time" and "gifts.yaml:5" in view["faq_error"]


def test_the_ops_api_needs_the_token(live_kefu):
    assert ask(live_kefu.url, "什么时候发货", token=None).status_code == 401
    assert ask(live_kefu.url, "什么时候发货", token="wrong").status_code == 401
    view = ask(live_kefu.url, "什么时候发货").json()
    assert view["decision"] == "answer" and "48小时" in view["answer"]
    assert view["candidates"][0]["id"] == "shipping_time" and view["reasons"]


def test_a_customer_picks_a_suggestion_by_replying_with_its_number(refunds_kefu, callback):
    process = refunds_kefu
    post_signed(process.url, web_message("退款要多久", customer_id="pick", message_id="p-1"))
    [offer] = callback.wait_for(lambda got: len(got) == 1)
    assert offer["text"].startswith("您是想问：")
    choice = next(line for line in offer["text"].splitlines() if "花呗" in line).split(".")[0]

    post_signed(process.url, web_message(choice, customer_id="pick", message_id="p-2"))
    answer = callback.wait_for(lambda got: len(got) == 2)[1]
    assert answer["text"] == "花呗即时到账" and answer["in_reply_to"] == "p-2"
