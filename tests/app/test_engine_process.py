"""The engine process's pipe: each line the child writes is acted on by the service's own hooks."""

from __future__ import annotations

import json
import logging

import pytest
from prometheus_client import REGISTRY

from adapters.base import Address, OutboundMessage
from app.engine.conversations import EngineHooks
from app.engine.engine_process import EngineProcess, reply_fields
from app.settings import Settings

ADDRESS = Address("web", "default", "c1")


@pytest.fixture
def acted() -> list[tuple]:
    return []


@pytest.fixture
def service_side(tmp_path, acted) -> EngineProcess:
    hooks = EngineHooks(
        knowledge_base=lambda: None,
        routing=lambda: None,
        on_outbound=lambda reply: acted.append(("out", reply)),
        on_queued=lambda: acted.append(("queued",)),
        publish=lambda key, event: acted.append(("publish", key, event)),
        on_handoff=lambda *args: acted.append(("handoff", *args)),
        decided=lambda seconds: acted.append(("decided", seconds)),
    )
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/kefu.db", engine={"process": True})
    return EngineProcess(settings, hooks)


def line(*item) -> bytes:
    """As the child writes it."""
    return json.dumps(item, ensure_ascii=False).encode() + b"\n"


def test_what_the_child_did_is_done_by_the_services_hooks(service_side, acted):
    reply = OutboundMessage("m1", "conv1", ADDRESS, "bot", "亲，可以开发票", in_reply_to="p1")
    event = {"type": "customer_message", "conversation_id": "conv1", "text": "到底有没有人管？"}

    for written in (
        line("out", reply_fields(reply)),
        line("queued"),
        line("publish", "agent-1", event),
        line("handoff", ["web", "default", "c1"], "conv1", "complaints"),
        line("decided", [0.0004, 0.0011]),
    ):
        service_side._on_line(written)

    assert acted == [
        ("out", reply),
        ("queued",),
        ("publish", "agent-1", event),
        ("handoff", ADDRESS, "conv1", "complaints"),
        ("decided", 0.0004),
        ("decided", 0.0011),
    ]


def test_the_childs_counts_are_added_to_the_services(service_side):
    labels = {"reason": "risk:threat", "queue": "complaints", "level": "L3"}
    before = REGISTRY.get_sample_value("kefu_handoffs_total", labels) or 0.0

    service_side._on_line(line("counts", {"handoffs": [[labels, 2.0]]}))

    assert REGISTRY.get_sample_value("kefu_handoffs_total", labels) == before + 2


def test_a_line_that_is_not_an_event_is_logged_and_ignored(service_side, acted, caplog):
    with caplog.at_level(logging.WARNING):
        for written in (b"Traceback (most recent call last):\n", line("unknown"), line("out", {"nope": 1})):
            service_side._on_line(written)

    assert acted == []
    assert len([r for r in caplog.records if "not an event" in r.message]) == 3


def test_a_hook_that_fails_is_logged_and_the_next_lines_still_count(tmp_path, acted, caplog):
    def failing(reply):
        raise RuntimeError("push to widgets failed")

    hooks = EngineHooks(lambda: None, lambda: None, failing, lambda: acted.append(("queued",)), *[lambda *a: None] * 2)
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/kefu.db", engine={"process": True})
    service_side = EngineProcess(settings, hooks)
    reply = OutboundMessage("m1", "conv1", ADDRESS, "bot", "亲，可以开发票")

    with caplog.at_level(logging.ERROR):
        service_side._on_line(line("out", reply_fields(reply)))
        service_side._on_line(line("queued"))

    assert acted == [("queued",)]
    assert "acting on the engine process's out event failed" in caplog.text
