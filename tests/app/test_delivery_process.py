"""The delivery process's pipe: the settings it is given and the counts it sends back."""

from __future__ import annotations

import json
import logging

from prometheus_client import REGISTRY

from app import metrics
from app.engine.child_process import CounterReport, settings_line
from app.engine.delivery_process import COUNTERS, add_report
from app.settings import Settings


def test_the_child_rebuilds_the_same_settings_secrets_included(tmp_path):
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/kefu.db",
        faq_dir=tmp_path,
        web={"secret": "s3cret-web", "callback_url": "http://127.0.0.1:9/cb"},
        telegram={"shop": {"bot_token": "123:abc", "secret_token": "tg-secret"}},
        outbox={"process": True, "parallel": 8},
    )

    rebuilt = Settings(**json.loads(settings_line(settings)))

    assert rebuilt == settings
    assert rebuilt.telegram["shop"].bot_token.get_secret_value() == "123:abc"


def test_a_report_carries_each_counters_increase_once():
    report = CounterReport(COUNTERS)
    report.take()  # what earlier tests counted in this process
    metrics.MESSAGES_OUT.labels("web", "bot").inc(3)
    metrics.DELIVERY_FAILURES.labels("web", "false").inc()

    first, second = report.take(), report.take()

    assert first == {
        "out": [[{"channel": "web", "sender": "bot"}, 3.0]],
        "failed": [[{"channel": "web", "final": "false"}, 1.0]],
    }
    assert second == {}


def test_the_service_adds_a_childs_report_to_its_counters():
    labels = {"channel": "telegram", "sender": "agent"}
    before = REGISTRY.get_sample_value("kefu_messages_out_total", labels) or 0.0

    add_report(json.dumps({"out": [[{"channel": "telegram", "sender": "agent"}, 2.0]]}).encode())

    assert REGISTRY.get_sample_value("kefu_messages_out_total", labels) == before + 2


def test_a_line_that_is_not_a_report_is_logged_and_ignored(caplog):
    with caplog.at_level(logging.WARNING):
        for line in (b"Traceback (most recent call last):\n", b'{"unknown": []}\n', b'{"out": [[{"nope": 1}, 1]]}\n'):
            add_report(line)

    assert len([r for r in caplog.records if "not a counter report" in r.message]) == 3
