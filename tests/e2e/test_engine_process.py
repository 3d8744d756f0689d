"""KEFU_ENGINE__PROCESS=true: a child process decides, the service acts on what it decided, and
nothing is lost or answered twice when the child dies."""

from __future__ import annotations

import os
import re
import signal

import httpx
import pytest

from tests.e2e.conftest import post_signed, query
from tests.e2e.test_agents import test_an_angry_customer_reaches_an_agent_who_replies_and_closes  # noqa: F401
from tests.utils.child_processes import alive, children
from tests.utils.kefu_process import KefuProcess
from tests.utils.signing import web_message
from tests.utils.waiting import wait_until

ENGINE = "engine process"


@pytest.fixture
def kefu(kefu_factory) -> KefuProcess:
    """The service with its engine in a child (the agents' test above runs against this one too)."""
    process = kefu_factory(KEFU_ENGINE__PROCESS="true")
    process.migrate()
    return process.start()


def sample(kefu: KefuProcess, name: str, labels: str = "") -> float:
    metrics = httpx.get(f"{kefu.url}/metrics").text
    found = re.search(rf"^{name}{re.escape(labels)} (\S+)$", metrics, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_the_child_decides_and_the_service_counts_its_decisions(kefu, callback):
    [child] = wait_until(lambda: children(kefu, ENGINE), "the engine process to start")
    assert child != kefu.process.pid and alive(child)

    for n in range(3):
        post_signed(kefu.url, web_message("能开发票吗", customer_id=f"p{n}", message_id=f"proc-{n}"))
    post_signed(kefu.url, web_message("我要打12315投诉你们", customer_id="threat", message_id="proc-threat"))

    delivered = callback.wait_for(lambda got: len(got) >= 4)
    assert {b["in_reply_to"] for b in delivered} >= {"proc-0", "proc-1", "proc-2", "proc-threat"}
    assert all(attempt.signed for attempt in callback.attempts)
    wait_until(lambda: sample(kefu, "kefu_faq_match_seconds_count") == 4, "the decisions' times in /metrics")
    wait_until(lambda: sample(kefu, "kefu_faq_answers_total", '{entry="invoice"}') == 3, "the answers' counts")
    handoffs = httpx.get(f"{kefu.url}/metrics").text
    assert re.search(r'^kefu_handoffs_total\{level="L3",queue="[^"]+",reason="risk:[^"]+"\} 1\.0$', handoffs, re.M)


def test_a_child_killed_is_replaced_and_every_message_is_answered_once(kefu, callback, database):
    [first] = wait_until(lambda: children(kefu, ENGINE), "the engine process to start")
    for n in range(10):
        post_signed(kefu.url, web_message("七天无理由退货吗", customer_id=f"k{n % 3}", message_id=f"kill-{n}"))

    os.kill(first, signal.SIGKILL)
    kefu.wait_for_log("engine process exited with code -9")
    for n in range(10, 15):  # while no child runs: stored, decided by the next one
        post_signed(kefu.url, web_message("七天无理由退货吗", customer_id=f"k{n % 3}", message_id=f"kill-{n}"))

    second = wait_until(lambda: children(kefu, ENGINE)[1:], "another engine process")[0]
    assert alive(second)
    delivered = callback.wait_for(lambda got: len({b["in_reply_to"] for b in got}) == 15, timeout=30)
    assert sorted(b["in_reply_to"] for b in delivered) == sorted(f"kill-{n}" for n in range(15)), "each once"
    assert query(database, "SELECT count(*) FROM messages WHERE direction = 'in' AND processed_at IS NULL") == [(0,)]
    assert sample(kefu, "kefu_engine_process_exits_total") == 1


def test_stopping_the_service_stops_its_child(kefu, callback):
    [child] = wait_until(lambda: children(kefu, ENGINE), "the engine process to start")
    for n in range(20):
        post_signed(kefu.url, web_message("什么时候发货", customer_id=f"t{n}", message_id=f"term-{n}"))

    kefu.stop()

    assert not alive(child)
    log = kefu.log_path.read_text(encoding="utf-8")
    assert "kefu stopped" in log and "exited with code" not in log  # no restart while stopping


def test_a_service_killed_leaves_no_child_behind(kefu):
    [child] = wait_until(lambda: children(kefu, ENGINE), "the engine process to start")

    kefu.kill()

    wait_until(lambda: not alive(child), "the child to see its input end and exit")
