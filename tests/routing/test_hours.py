from __future__ import annotations

from datetime import UTC, datetime

import pytest

from routing.hours import is_open


def shop(hour: int, minute: int = 0) -> datetime:
    """A moment given in shop time (UTC+8)."""
    return datetime(2026, 11, 11, (hour - 8) % 24, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("hours", "at", "expected"),
    [
        ("09:00-23:00", shop(9), True),
        ("09:00-23:00", shop(22, 59), True),
        ("09:00-23:00", shop(23), False),
        ("09:00-23:00", shop(8, 59), False),
        ("00:00-24:00", shop(3), True),
        ("20:00-02:00", shop(1), True),
        ("20:00-02:00", shop(12), False),
    ],
)
def test_service_hours_are_read_in_shop_time(hours, at, expected):
    assert is_open(hours, at) is expected
