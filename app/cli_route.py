"""`kefu route …`: see how the bot reads a message and what it would decide, and measure the reader."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from app.engine.bot import Turn, decide
from app.knowledge import build_routing
from faq.loader import FaqLoadError, load_knowledge_base
from routing.evaluate import read_cases, report
from routing.rules import RulesError

app = typer.Typer(help="Check the routing rules and the emotion reader.", no_args_is_help=True)
RulesOption = Annotated[Path | None, typer.Option("--rules", help="Rules file (default: KEFU_RULES_FILE).")]


def _routing(path: Path | None):
    from app.settings import get_settings

    try:
        return build_routing(path or get_settings().rules_file)
    except RulesError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


@app.command()
def explain(
    message: Annotated[str, typer.Argument(help="A customer message, e.g. 再不退款我就去12315")],
    rules: RulesOption = None,
    faq: Annotated[Path | None, typer.Option(help="FAQ folder or file (default: KEFU_FAQ_DIR).")] = None,
    vip: Annotated[bool, typer.Option(help="Read it as from a VIP customer.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """The reading (emotion, risk, evidence), the intent, the decision and its reasons."""
    from app.settings import get_settings

    routing = _routing(rules)
    try:
        kb = load_knowledge_base(faq or get_settings().faq_dir)
    except FaqLoadError as exc:
        typer.echo(f"FAQ not loaded, deciding without it:\n{exc}", err=True)
        kb = None
    decision = decide(Turn("bot", message, vip=vip), kb, routing)
    view = {
        "reading": asdict(decision.reading),
        "intent": asdict(decision.intent) if decision.intent else None,
        "action": decision.replies[0].meta.get("action") if decision.replies else None,
        "handoff": asdict(decision.handoff) if decision.handoff else None,
        "reasons": [asdict(r) for r in decision.reasons],
        "replies": [{"sender": r.sender, "text": r.text} for r in decision.replies],
    }
    if as_json:
        typer.echo(json.dumps(view, ensure_ascii=False, indent=2))
        return
    reading = decision.reading
    typer.echo(f"reading: {reading.label} (intensity {reading.intensity}), risk {reading.risk}")
    typer.echo("evidence: " + ("; ".join(f"{e.kind}={e.text}" for e in reading.evidence) or "-"))
    typer.echo(f"intent: {view['intent']}")
    handoff = decision.handoff
    where = f" → {handoff.queue} ({handoff.queue_name}) {handoff.level} priority {handoff.priority}" if handoff else ""
    typer.echo(f"decision: {view['action'] or 'handoff'}{where}")
    for reason in decision.reasons:
        typer.echo(f"  because {reason.rule}: {reason.detail}")
    for reply in view["replies"]:
        typer.echo(f"{reply['sender']}: {reply['text']}")


@app.command("eval")
def evaluate(
    cases: Annotated[Path, typer.Option(help="CSV with columns text,label (calm|anxious|angry|threat).")],
    rules: RulesOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    show_errors: Annotated[bool, typer.Option("--errors", help="List the cases it read differently.")] = False,
) -> None:
    """Per-label precision and recall, threat recall, escalation recall and calm false escalation."""
    figures, results = report(_routing(rules).reader, read_cases(cases))
    typer.echo(json.dumps(figures, ensure_ascii=False, indent=None if as_json else 2))
    if show_errors:
        for case, got in results:
            if got != case.label:
                typer.echo(f"expected {case.label:<8} got {got:<8} {case.text}", err=as_json)
