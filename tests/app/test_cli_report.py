"""`kefu report daily` as ops run it: JSON, a text summary and an HTML page from the store."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from app.store.database import create_engine, session_factory
from app.store.migrate import upgrade
from tests.app.test_cli import kefu
from tests.utils.store_rows import conversation, turn

CHINA = ZoneInfo("Asia/Shanghai")


async def _fill(url: str) -> None:
    """On 2024-05-12 one chat the bot answered and one it handed off (L3) that was never served."""
    engine = create_engine(url)
    async with session_factory(engine).begin() as s:
        at = datetime(2024, 5, 12, 9, tzinfo=CHINA)
        answered = conversation(s, "a", state="bot", created_at=at)
        turn(s, answered, "什么时候发货", at, action="answer", faq_id="ship")
        handed = conversation(s, "b", state="queued", created_at=at, queued_at=at, queue="complaints", level="L3")
        turn(s, handed, "我要投诉", at, action="handoff", handoff=("complaints", "L3"))
    await engine.dispose()


def test_report_daily_prints_json_and_writes_a_page(tmp_path, database_url):
    upgrade(database_url)
    asyncio.run(_fill(database_url))
    page = tmp_path / "daily.html"

    result = kefu("report", "daily", "--date", "2024-05-12", "--json", "--html", str(page), cwd=tmp_path,
                  KEFU_DATABASE_URL=database_url)  # fmt: skip

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["date"], report["complete"]) == ("2024-05-12", True)
    assert report["bot_containment"] == {"started": 2, "contained": 1, "rate": 0.5}
    assert report["complaints"]["by_level"] == {"L1": 0, "L2": 0, "L3": 1}
    assert f"wrote {page}" in result.stderr
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "客服日报 2024-05-12" in html and "<script" not in html


def test_report_daily_prints_a_summary_and_refuses_a_bad_date(tmp_path, database_url):
    upgrade(database_url)
    asyncio.run(_fill(database_url))

    text = kefu("report", "daily", "--date", "2024-05-12", cwd=tmp_path, KEFU_DATABASE_URL=database_url)
    bad = kefu("report", "daily", "--date", "12.05.2024", cwd=tmp_path, KEFU_DATABASE_URL=database_url)

    assert text.returncode == 0, text.stderr
    assert "bot containment     50.0% (1 of 2 started)" in text.stdout
    assert "handoffs by level   L1 0, L2 0, L3 1" in text.stdout
    assert bad.returncode == 2 and "is not a date like" in bad.stderr
