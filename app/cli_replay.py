"""`kefu export` and `kefu replay`: transcripts out of the store, and past messages through a candidate FAQ + rules."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from app import replay as replays
from app.transcripts import TranscriptError, export_transcripts, read_transcripts

_DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(value: str, now: datetime) -> datetime:
    """'7d', '12h', '30m', '2w' before `now`, or an ISO date or time (UTC unless it says otherwise)."""
    found = _DURATION.match(value)
    if found:
        return now - timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(f"{value!r} is neither a duration (7d, 12h, 30m, 2w) nor an ISO date") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def export(
    since: Annotated[str, typer.Option(help="Conversations started since: 7d, 12h, 2w or an ISO date.")] = "7d",
    until: Annotated[str | None, typer.Option(help="…and before (default: now).")] = None,
    out: Annotated[Path | None, typer.Option(help="JSONL file to write (default: standard output).")] = None,
    raw: Annotated[bool, typer.Option("--raw", help="Do not mask phones, addresses, ID numbers.")] = False,
) -> None:
    """Write conversations from the store (KEFU_DATABASE_URL) as JSONL, one transcript per line, masked."""
    from app.settings import get_settings

    now = datetime.now(UTC)
    start, end = parse_when(since, now), parse_when(until, now) if until else now
    target = out.open("w", encoding="utf-8") if out else sys.stdout
    try:
        count = asyncio.run(_export(get_settings().database_url, start, end, raw, target))
    finally:
        if out:
            target.close()
    typer.echo(f"wrote {count} conversations started {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC", err=True)


async def _export(database_url: str, since: datetime, until: datetime, raw: bool, target) -> int:
    from app.store.database import create_engine, session_factory

    engine = create_engine(database_url)
    count = 0
    try:
        async for transcript in export_transcripts(session_factory(engine), since, until, raw=raw):
            target.write(json.dumps(transcript, ensure_ascii=False) + "\n")
            count += 1
    finally:
        await engine.dispose()
    return count


def replay(
    transcripts: Annotated[Path, typer.Argument(help="A `kefu export` JSONL file or a TSV of customer turns.")],
    faq: Annotated[Path | None, typer.Option(help="Candidate FAQ folder (default: the live one).")] = None,
    rules: Annotated[Path | None, typer.Option(help="Candidate rules file (default: the live one).")] = None,
    live_faq: Annotated[Path | None, typer.Option(help="Live FAQ folder (default: KEFU_FAQ_DIR).")] = None,
    live_rules: Annotated[Path | None, typer.Option(help="Live rules file (default: KEFU_RULES_FILE).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    examples: Annotated[int, typer.Option(help="Examples shown of each kind of change.")] = 3,
) -> None:
    """Run past customer messages through the live and a candidate FAQ + rules; compare what the bot would do."""
    from app.settings import get_settings

    settings = get_settings()
    live_faq, live_rules = live_faq or settings.faq_dir, live_rules or settings.rules_file
    variables = {"shop_name": settings.shop_name}
    live = _version("live", live_faq, live_rules, variables)
    candidate = _version("candidate", faq or live_faq, rules or live_rules, variables)
    try:
        conversations = read_transcripts(transcripts)
    except (OSError, TranscriptError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    started = time.perf_counter()
    summary = replays.summarise(replays.replay(conversations, live, candidate), examples=examples)
    summary["seconds"] = round(time.perf_counter() - started, 2)
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        typer.echo("\n".join(render(summary)))


def _version(name: str, faq: Path, rules: Path, variables: dict[str, str]) -> replays.Version:
    from app.knowledge import build_knowledge_base, build_routing
    from faq.loader import FaqLoadError
    from routing.rules import RulesError

    try:
        return replays.Version(build_knowledge_base(faq, variables), build_routing(rules))
    except (FaqLoadError, RulesError) as exc:
        typer.echo(f"{name} version ({faq}, {rules}) not loaded:\n{exc}", err=True)
        raise typer.Exit(1) from None


def render(summary: dict[str, Any]) -> list[str]:
    """The summary as a few aligned lines of text."""
    live, candidate, total = summary["live"], summary["candidate"], summary["messages"] or 1
    lines = [
        f"replayed {summary['messages']} messages in {summary['conversations']} conversations ({summary['seconds']} s)",
        _row("", "live", "candidate"),
    ]
    for kind in dict.fromkeys([*live["counts"], *candidate["counts"]]):
        lines.append(
            _row(kind, _share(live["counts"].get(kind, 0), total), _share(candidate["counts"].get(kind, 0), total))
        )
    lines.append(_row("handed off", _share(live["handoffs"], total), _share(candidate["handoffs"], total)))
    for title, key in (("reason", "handoffs_by_reason"), ("queue", "handoffs_by_queue")):
        for name in dict.fromkeys([*live[key], *candidate[key]]):
            lines.append(_row(f"  {title} {name}", live[key].get(name, 0), candidate[key].get(name, 0)))
    lines.append(f"changed: {summary['changed']} of {summary['messages']} messages")
    for change, count in summary["changes"].items():
        lines.append(f"  {change}: {count}")
        for example in summary["examples"].get(change, ()):
            lines.append(f"    [{example['conversation_id']}] {example['text']}")
            lines.append(f"      live: {example['live']}  |  candidate: {example['candidate']}")
    return lines


def _row(label: str, live: object, candidate: object) -> str:
    return f"{label:<30}{live!s:>14}{candidate!s:>14}"


def _share(count: int, total: int) -> str:
    return f"{count} ({count / total:.1%})"
