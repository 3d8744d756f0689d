"""`kefu report daily`: the day's quality figures (日报) from the store, as text, JSON or an HTML page."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Reports from the store (日报).", no_args_is_help=True)


@app.command()
def daily(
    day: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD, China time (default: yesterday).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    html: Annotated[Path | None, typer.Option("--html", help="Also write a self-contained HTML page here.")] = None,
) -> None:
    """First response, one-touch resolution, bot containment and re-contact, satisfaction, complaints, per agent."""
    from app.quality import FIRST_DAY, LAST_DAY, yesterday
    from app.quality_report_html import render_html

    try:
        chosen = date.fromisoformat(day) if day else yesterday()
    except ValueError:
        raise typer.BadParameter(f"{day!r} is not a date like 2025-03-01", param_hint="--date") from None
    if not FIRST_DAY <= chosen <= LAST_DAY:
        raise typer.BadParameter(f"the date must be between {FIRST_DAY} and {LAST_DAY}", param_hint="--date")
    report = asyncio.run(_read(chosen))
    if html is not None:
        html.write_text(render_html(report), encoding="utf-8")
        typer.echo(f"wrote {html}", err=True)
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for line in summary_lines(report):
            typer.echo(line)


async def _read(day: date) -> dict:
    from app.quality_report import daily_report
    from app.settings import get_settings
    from app.store.database import create_engine, session_factory

    engine = create_engine(get_settings().database_url)
    try:
        async with session_factory(engine)() as session:
            return await daily_report(session, day)
    finally:
        await engine.dispose()


def summary_lines(report: dict) -> list[str]:
    first, one, bot, again, rated = (
        report[k] for k in ("first_response", "one_touch", "bot_containment", "bot_recontact", "satisfaction")
    )
    counts = ", ".join(f"{k}: {v}" for k, v in rated["distribution"].items())
    lines = [
        f"daily report {report['date']} (Asia/Shanghai){'' if report['complete'] else ', provisional'}",
        f"first response      median {first['median']} s, p90 {first['p90']} s, "
        f"within {report['first_response_target_seconds']} s {_pct(first['target_share'])} ({first['count']} chats)",
        f"one-touch           {_pct(one['rate'])} ({one['one_touch']} of {one['closed_by_agents']} closed by agents)",
        f"bot containment     {_pct(bot['rate'])} ({bot['contained']} of {bot['started']} started)",
        f"bot re-contact 24h  {_pct(again['rate'])} ({again['recontacted']} of {again['customers_answered']} answered)",
        f"satisfaction        {rated['average']} average of {rated['count']} ({counts})",
        f"handoffs by level   {_pairs(report['complaints']['by_level'])}",
        f"closed by reason    {_pairs(report['complaints']['by_disposition']) or '-'}",
    ]
    for agent in report["agents"]:
        reviews = agent["reviews"]
        scored = f", 质检 {reviews['overall']} of {reviews['count']}" if reviews else ""
        lines.append(
            f"  {agent['username'] or agent['id']:<16} closed {agent['closed']}, "
            f"one-touch {_pct(agent['one_touch']['rate'])}, satisfaction {agent['satisfaction']}{scored}"
        )
    return lines


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.1f}%"


def _pairs(counts: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items())
