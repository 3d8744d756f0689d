"""Phone numbers, addresses and secrets never reach a log line in clear."""

from __future__ import annotations

import io
import logging

import pytest

from app.privacy import MaskingFilter, configure_logging, mask


def test_phone_numbers_keep_only_their_ends():
    assert mask("电话13812345678，备用15900001111") == "电话138****5678，备用159****1111"


def test_long_digit_runs_are_not_taken_for_phones():
    assert mask("订单号 2026111113812345678") == "订单号 2026111113812345678"


def test_street_addresses_are_masked():
    masked = mask("寄到上海市徐汇区漕溪北路88号3栋")
    assert "漕溪北路" not in masked and "88号" not in masked and "<地址>" in masked


def test_configured_secrets_and_signatures_are_masked():
    line = "secret=abcdef0123456789 sig sha256=deadbeefdeadbeef auth Bearer tok_12345678"
    masked = mask(line, ["abcdef0123456789"])
    assert "abcdef0123456789" not in masked
    assert "deadbeef" not in masked and "tok_12345678" not in masked


def test_agent_tokens_are_masked_in_headers_and_urls():
    masked = mask('"WebSocket /api/agents/me/events?token=kfa_abcdefgh12345678" kfa_zyxwvuts98765432')
    assert "abcdefgh12345678" not in masked and "zyxwvuts98765432" not in masked


def test_the_log_filter_masks_arguments_and_tracebacks():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskingFilter(["topsecretvalue123"]))
    logger = logging.getLogger("test.privacy")
    logger.addHandler(handler)
    try:
        logger.warning("customer %s wrote from %s", "13812345678", "幸福路12号")
        try:
            raise ValueError("key topsecretvalue123 rejected")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "13812345678" not in output and "幸福路12号" not in output
    assert "topsecretvalue123" not in output and "ValueError" in output


@pytest.fixture
def restore_logging():
    root, httpx_log = logging.getLogger(), logging.getLogger("httpx")
    handlers, level, httpx_level = root.handlers[:], root.level, httpx_log.level
    yield
    root.handlers = handlers
    root.setLevel(level)
    httpx_log.setLevel(httpx_level)


def test_outbound_requests_are_logged_only_when_debugging(restore_logging):
    configure_logging("INFO")
    assert logging.getLogger("app.engine").isEnabledFor(logging.INFO)
    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
    assert logging.getLogger("httpx").isEnabledFor(logging.WARNING)
    configure_logging("DEBUG")
    assert logging.getLogger("httpx").isEnabledFor(logging.DEBUG)
