"""`kefu promo on|off|status|broadcast`: promotion mode (大促模式) from the command line.

on/off edit the rules file (the running service reloads it by itself); broadcast asks the
running service, over its ops API, to tell everyone waiting in a queue.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import httpx
import typer

from routing.promotion import switch_promotion
from routing.rules import RulesError, load_rules

app = typer.Typer(help="Promotion mode (大促模式): switch it, see it, broadcast to waiting customers.")
RulesOption = Annotated[Path | None, typer.Option("--rules", help="Rules file (default: KEFU_RULES_FILE).")]


def _rules_file(path: Path | None) -> Path:
    from app.settings import get_settings

    return path or get_settings().rules_file


def _switch(path: Path | None, enabled: bool, banner: str | None) -> None:
    target = _rules_file(path)
    try:
        mode = switch_promotion(target, enabled=enabled, banner=banner).promotion_mode
    except RulesError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"promotion mode {'on' if mode.enabled else 'off'} in {target}"
        + (f"; banner: {mode.banner}" if mode.banner else "")
    )


@app.command()
def on(
    rules: RulesOption = None,
    banner: Annotated[
        str | None, typer.Option(help="Announcement before the bot's first reply, e.g. 双十一期间回复稍慢")
    ] = None,
) -> None:
    """Stricter answers, frequent wait notices, the 留言 offer on long waits, and the banner."""
    _switch(rules, True, banner)


@app.command()
def off(
    rules: RulesOption = None,
    clear_banner: Annotated[bool, typer.Option("--clear-banner", help="Also empty the banner.")] = False,
) -> None:
    """Back to everyday thresholds and notices."""
    _switch(rules, False, "" if clear_banner else None)


@app.command()
def status(rules: RulesOption = None) -> None:
    """The promotion settings as the rules file has them now."""
    try:
        mode = load_rules(_rules_file(rules)).promotion_mode
    except RulesError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(mode.model_dump(), ensure_ascii=False, indent=2))


@app.command()
def broadcast(
    text: Annotated[str, typer.Argument(help="e.g. 系统正在紧急修复，预计30分钟内恢复")],
    queue: Annotated[str | None, typer.Option(help="Only this queue (default: every queue).")] = None,
    url: Annotated[str, typer.Option(help="The running kefu.")] = "http://127.0.0.1:8000",
) -> None:
    """Send `text` to every customer waiting for a person, through the running service."""
    from app.settings import get_settings

    token = get_settings().ops.token
    headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}
    try:
        response = httpx.post(
            f"{url}/api/ops/broadcast", json={"text": text, "queue": queue}, headers=headers, timeout=30
        )
    except httpx.HTTPError as exc:
        typer.echo(f"kefu at {url} did not answer: {exc}", err=True)
        raise typer.Exit(1) from None
    if response.status_code != 200:
        typer.echo(f"refused ({response.status_code}): {response.text}", err=True)
        raise typer.Exit(1)
    typer.echo(f"sent to {response.json()['sent']} waiting customers")
