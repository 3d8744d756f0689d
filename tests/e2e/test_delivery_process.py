"""KEFU_OUTBOX__PROCESS=true: replies go out from a child process, and nothing is lost when it dies."""

from __future__ import annotations

import os
import re
import signal

import httpx
import pytest

from tests.e2e.conftest import post_signed, query
from tests.utils.child_processes import alive, children
from tests.utils.kefu_process import KefuProcess
from tests.utils.signing import web_message
from tests.utils.waiting import wait_until


@pytest.fixture
def kefu(kefu_factory) -> KefuProcess:
    process = kefu_factory(KEFU_OUTBOX__PROCESS="true")
    process.migrate()
    return process.start()


def delivered_count(kefu: KefuProcess) -> float:
    metrics = httpx.get(f"{kefu.url}/metrics").text
    found = re.search(r'^kefu_messages_out_total\{channel="web",sender="bot"\} (\S+)$', metrics, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_replies_are_sent_by_the_child_and_counted_in_the_services_metrics(kefu, callback):
    [child] = wait_until(lambda: children(kefu, "delivery process"), "the delivery process to start")
    assert child != kefu.process.pid and alive(child)

    for n in range(3):
        post_signed(kefu.url, web_message("能开发票吗", customer_id=f"p{n}", message_id=f"proc-{n}"))

    delivered = callback.wait_for(lambda got: len(got) == 3)
    assert sorted(body["in_reply_to"] for body in delivered) == ["proc-0", "proc-1", "proc-2"]
    assert all(attempt.signed for attempt in callback.attempts)
    wait_until(lambda: delivered_count(kefu) == 3, "the child's counts in /metrics")


def test_a_child_killed_is_replaced_and_every_reply_goes_out_once(kefu, callback, database):
    [first] = wait_until(lambda: children(kefu, "delivery process"), "the delivery process to start")
    callback.failures.extend([503] * 3)  # the first replies wait in backoff when the child dies
    for n in range(10):
        post_signed(kefu.url, web_message("七天无理由退货吗", customer_id=f"k{n % 3}", message_id=f"kill-{n}"))
    callback.wait_for_attempts(1)

    os.kill(first, signal.SIGKILL)
    kefu.wait_for_log("delivery process exited with code -9")
    for n in range(10, 15):  # while no child runs: stored, sent by the next one
        post_signed(kefu.url, web_message("七天无理由退货吗", customer_id=f"k{n % 3}", message_id=f"kill-{n}"))

    second = wait_until(lambda: children(kefu, "delivery process")[1:], "another delivery process")[0]
    assert alive(second)
    delivered = callback.wait_for(lambda got: len({b["in_reply_to"] for b in got}) == 15, timeout=30)
    assert {b["in_reply_to"] for b in delivered} == {f"kill-{n}" for n in range(15)}
    assert query(database, "SELECT count(*) FROM outbox WHERE status != 'delivered'") == [(0,)]
    assert "kefu_delivery_process_exits_total 1.0" in httpx.get(f"{kefu.url}/metrics").text
    first_deliveries = [int(m.removeprefix("kill-")) for m in dict.fromkeys(b["in_reply_to"] for b in delivered)]
    for customer in range(3):  # each conversation's replies reached it in the order they were written
        theirs = [n for n in first_deliveries if n % 3 == customer]
        assert theirs == sorted(theirs)


def test_stopping_the_service_stops_its_child(kefu, callback):
    [child] = wait_until(lambda: children(kefu, "delivery process"), "the delivery process to start")
    for n in range(20):
        post_signed(kefu.url, web_message("什么时候发货", customer_id=f"t{n}", message_id=f"term-{n}"))

    kefu.stop()

    assert not alive(child)
    assert "kefu stopped" in kefu.log_path.read_text(encoding="utf-8")
    assert "exited with code" not in kefu.log_path.read_text(encoding="utf-8")  # no restart while stopping


def test_a_service_killed_leaves_no_child_behind(kefu, kefu_factory, callback):
    [child] = wait_until(lambda: children(kefu, "delivery process"), "the delivery process to start")

    kefu.kill()

    wait_until(lambda: not alive(child), "the child to see its input end and exit")
