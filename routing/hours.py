"""Service hours like "09:00-23:00" in shop time (China, UTC+8); "00:00-24:00" means always open."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

SHOP_TIME = timezone(timedelta(hours=8), "Asia/Shanghai")


def parse(hours: str) -> tuple[time, time | None]:
    """'09:00-23:00' → (09:00, 23:00); an end of 24:00 is None (midnight)."""
    start, end = (part.strip() for part in hours.split("-"))
    return time.fromisoformat(start), None if end == "24:00" else time.fromisoformat(end)


def is_open(hours: str, now: datetime) -> bool:
    start, end = parse(hours)
    local = now.astimezone(SHOP_TIME).time()
    if end is None:
        return local >= start
    if start <= end:
        return start <= local < end
    return local >= start or local < end  # past midnight, e.g. 20:00-02:00
