from __future__ import annotations

from app.engine.outbox import backoff_delay
from app.settings import OutboxSettings

POLICY = OutboxSettings(base_delay_seconds=1, max_delay_seconds=60)


def test_delay_doubles_per_attempt_within_jitter():
    for attempt, nominal in [(1, 1), (2, 2), (3, 4), (5, 16)]:
        assert nominal * 0.8 <= backoff_delay(attempt, POLICY) <= nominal * 1.2


def test_delay_is_capped():
    assert backoff_delay(30, POLICY) <= 60 * 1.2


def test_retry_after_is_never_undercut():
    assert backoff_delay(1, POLICY, retry_after=30) == 30
