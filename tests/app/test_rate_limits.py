"""In-memory rate limits: a moving window per key, refusals say when a slot frees, old keys are forgotten."""

from __future__ import annotations

from limits import parse

from app.rate_limits import LocalWindows


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_window_moves_with_each_hit_rather_than_resetting_on_the_minute():
    clock, three = Clock(), parse("3/minute")
    windows = LocalWindows(clock)
    for seconds in (0, 20, 40):
        clock.now = 1000 + seconds
        assert windows.hit(three, ("customer", "a")) is None

    clock.now = 1050
    assert windows.hit(three, ("customer", "a")) == 10  # the hit at 0 s leaves the window at 60 s
    clock.now = 1060
    assert windows.hit(three, ("customer", "a")) is None
    assert windows.hit(three, ("customer", "a")) == 20


def test_keys_are_counted_apart_and_forgotten_once_their_window_is_empty():
    clock, one = Clock(), parse("1/second")
    windows = LocalWindows(clock)
    assert windows.hit(one, ("customer", "a")) is None
    assert windows.hit(one, ("customer", "b")) is None
    assert windows.hit(one, ("customer", "a")) is not None

    clock.now += LocalWindows.SWEEP_SECONDS
    windows.hit(one, ("customer", "c"))
    assert list(windows._hits) == [("customer", "c")]
