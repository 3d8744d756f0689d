"""The handoff decision in a running kefu: angry customers, threats, escalation, live rules edits."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import httpx
import pytest

from app.settings import DEFAULT_RULES_FILE
from tests.e2e.conftest import post_signed, query
from tests.utils.signing import web_message


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules" / "rules.yaml"
    path.parent.mkdir()
    shutil.copy(DEFAULT_RULES_FILE, path)
    return path


@pytest.fixture
def routed_kefu(kefu_factory, rules_file):
    process = kefu_factory(KEFU_RULES_FILE=str(rules_file))
    process.migrate()
    return process.start()


def send(kefu, text: str, message_id: str, **extra) -> None:
    body = web_message(text, customer_id="c-1", message_id=message_id, **extra)
    assert post_signed(kefu.url, body).status_code == 200


def test_an_angry_customer_gets_empathy_and_a_stored_l2_handoff_with_reasons(routed_kefu, callback, database):
    send(routed_kefu, "你们这什么垃圾服务！！！发错货还不给退", "angry-1")

    [notice] = callback.wait_for(lambda got: len(got) == 1)
    assert notice["sender"] == "system" and "抱歉" in notice["text"] and "投诉专席" in notice["text"]
    [(state, queue, level, priority, reasons)] = query(
        database, "SELECT state, queue, level, priority, CAST(handoff_reasons AS TEXT) FROM conversations"
    )
    assert (state, queue, level, priority) == ("queued", "complaints", "L2", 50)
    assert json.loads(reasons)[0].startswith("emotion:angry: ") and "垃圾" in json.loads(reasons)[0]
    [(reading,)] = query(database, "SELECT CAST(meta AS TEXT) FROM messages WHERE direction = 'in'")
    assert json.loads(reading)["reading"]["label"] == "angry"


def test_a_threat_reaches_the_supervisor_queue_at_top_priority(routed_kefu, callback, database):
    send(routed_kefu, "再不处理我就去12315投诉", "threat-1")

    callback.wait_for(lambda got: len(got) == 1)
    assert query(database, "SELECT queue, level, priority FROM conversations") == [("supervisor", "L3", 100)]


def test_a_customer_escalating_over_three_turns_is_handed_off_on_the_third(routed_kefu, callback, database):
    send(routed_kefu, "我的快递到哪了", "e-1")
    callback.wait_for(lambda got: len(got) == 1)
    send(routed_kefu, "怎么还没到？？", "e-2")
    callback.wait_for(lambda got: len(got) == 2)
    send(routed_kefu, "都五天了还没到，你们是不是骗子！！！", "e-3")

    delivered = callback.wait_for(lambda got: any(b["in_reply_to"] == "e-3" for b in got))
    assert delivered[-1]["sender"] == "system"
    [(level, reasons)] = query(database, "SELECT level, CAST(handoff_reasons AS TEXT) FROM conversations")
    assert level == "L2" and any(r.startswith("trend") for r in json.loads(reasons))


def test_asking_for_a_person_works_again_while_queued(routed_kefu, callback):
    send(routed_kefu, "转人工", "h-1")
    callback.wait_for(lambda got: len(got) == 1)
    send(routed_kefu, "人工客服！", "h-2")

    got = callback.wait_for(lambda got: any(b.get("in_reply_to") == "h-2" for b in got))
    second = next(b for b in got if b.get("in_reply_to") == "h-2")  # not a wait notice that came meanwhile
    assert second["sender"] == "system" and "安排人工客服" in second["text"]


def test_an_order_number_asked_for_by_an_answer_goes_to_that_topics_queue(routed_kefu, callback, database):
    send(routed_kefu, "物流一直不更新", "o-1")
    [answer] = callback.wait_for(lambda got: len(got) == 1)
    assert "订单号发给我们" in answer["text"]
    send(routed_kefu, "123456789012345678", "o-2")

    got = callback.wait_for(lambda got: any(b.get("in_reply_to") == "o-2" for b in got))
    assert next(b for b in got if b.get("in_reply_to") == "o-2")["text"].startswith("好的，正在为您转接人工客服（物流")
    [(queue, reasons)] = query(database, "SELECT queue, CAST(handoff_reasons AS TEXT) FROM conversations")
    assert queue == "logistics" and json.loads(reasons)[0].startswith("order_number")


def test_vip_customers_from_the_webhook_go_to_the_vip_queue(routed_kefu, callback, database):
    send(routed_kefu, "转人工", "v-1", customer={"name": "王女士", "vip": True})
    callback.wait_for(lambda got: len(got) == 1)
    assert query(database, "SELECT queue, priority FROM conversations") == [("vip", 30)]


def test_edited_templates_apply_without_a_restart_and_a_broken_edit_keeps_the_last_good(
    routed_kefu, rules_file, callback
):
    text = rules_file.read_text(encoding="utf-8")
    rules_file.write_text(text.replace("  still_queued: ", "  still_queued: 【新】", 1), encoding="utf-8")
    time.sleep(1.5)  # the watcher debounces edits
    send(routed_kefu, "转人工", "r-1")
    callback.wait_for(lambda got: len(got) == 1)
    send(routed_kefu, "转人工", "r-2")
    assert callback.wait_for(lambda got: len(got) == 2)[1]["text"].startswith("【新】")

    rules_file.write_text(text.replace("default_queue: presale", "default_queue: nowhere"), encoding="utf-8")
    deadline = time.monotonic() + 10
    while not (error := httpx.get(f"{routed_kefu.url}/readyz").json()["checks"]["routing"]["error"]):
        assert time.monotonic() < deadline, "the broken rules file was never reported"
        time.sleep(0.1)
    assert "default_queue: unknown queue 'nowhere'" in error and f"{rules_file}:" in error
    send(routed_kefu, "转人工", "r-3")
    assert callback.wait_for(lambda got: len(got) == 3)[2]["text"].startswith("【新】"), "last good rules still live"
