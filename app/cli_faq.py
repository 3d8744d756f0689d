"""`kefu faq …`: the commands ops use to check FAQ files before and after they go live."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from faq.evaluate import read_cases, report, run
from faq.lint import lint_directory
from faq.loader import FaqLoadError, load_knowledge_base
from faq.matcher import match

app = typer.Typer(help="Check, try and measure the FAQ knowledge base.", no_args_is_help=True)

DirArg = Annotated[Path | None, typer.Argument(help="FAQ folder or file (default: KEFU_FAQ_DIR).")]


def _faq_dir(path: Path | None) -> Path:
    if path is not None:
        return path
    from app.settings import get_settings

    return get_settings().faq_dir


def _load(path: Path):
    try:
        return load_knowledge_base(path)
    except FaqLoadError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


@app.command()
def lint(path: DirArg = None) -> None:
    """List problems with file and line; exit 1 when there is an error."""
    findings = lint_directory(_faq_dir(path))
    for finding in findings:
        typer.echo(str(finding))
    errors = sum(f.severity == "error" for f in findings)
    typer.echo(f"{errors} errors, {len(findings) - errors} warnings")
    raise typer.Exit(1 if errors else 0)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="A customer message, e.g. 什么时候发货")],
    faq: Annotated[Path | None, typer.Option(help="FAQ folder or file (default: KEFU_FAQ_DIR).")] = None,
    channel: Annotated[str | None, typer.Option(help="Answer as on this channel.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show what the bot would do with a message: the decision, top candidates, scores and why."""
    kb = _load(_faq_dir(faq))
    result = match(question, kb, channel=channel)
    view = result.as_dict()
    if as_json:
        typer.echo(json.dumps(view, ensure_ascii=False, indent=2))
        return
    typer.echo(f"decision: {view['decision']}  ({'; '.join(view['reasons'])})")
    typer.echo(f"normalised: {view['normalised']}")
    for number, candidate in enumerate(view["candidates"], start=1):
        words = "、".join(candidate["matched"]) or "-"
        typer.echo(f"{number}. {candidate['id']:<24} {candidate['score']:.2f}  {candidate['question']}  [{words}]")
    if result.decision == "answer":
        typer.echo(f"answer: {result.best.entry.render(kb.variables)}")


@app.command("eval")
def evaluate(
    kb_path: Annotated[Path, typer.Option("--kb", help="FAQ folder or file to evaluate.")],
    cases: Annotated[Path, typer.Option(help="CSV with columns query,expected_id (NONE: must not answer).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    show_errors: Annotated[bool, typer.Option("--errors", help="List the cases it got wrong.")] = False,
) -> None:
    """Accuracy, answer precision, coverage, suggestion hits and latency on labelled cases."""
    kb = _load(kb_path)
    outcomes = run(kb, read_cases(cases))
    figures = report(outcomes).as_dict()
    if as_json:
        typer.echo(json.dumps(figures, ensure_ascii=False))
    else:
        for name, value in figures.items():
            typer.echo(f"{name:>18}: {value}")
    if show_errors:
        for o in (o for o in outcomes if not o.correct):
            got = o.answered_id or o.result.decision
            typer.echo(f"expected {o.case.expected_id:<24} got {got:<24} {o.case.query}", err=as_json)


@app.command("export")
def export(
    target: Annotated[Path, typer.Argument(help="A .csv or .xlsx file to write.")],
    faq: Annotated[Path | None, typer.Option(help="FAQ folder or file (default: KEFU_FAQ_DIR).")] = None,
) -> None:
    """Write the knowledge base as a spreadsheet, one row per entry."""
    from faq.spreadsheet import write_csv, write_xlsx

    kb = _load(_faq_dir(faq))
    (write_xlsx if target.suffix.lower() == ".xlsx" else write_csv)(kb, target)
    typer.echo(f"wrote {len(kb)} entries to {target}")


@app.command("import")
def import_(
    source: Annotated[Path, typer.Argument(help="A .csv or .xlsx sheet with the export's columns.")],
    target: Annotated[Path, typer.Argument(help="The YAML file to write (refuses to overwrite).")],
) -> None:
    """Turn a spreadsheet into a FAQ YAML file; every bad row is named."""
    from faq.spreadsheet import SpreadsheetError, read_rows, rows_to_yaml

    if target.exists():
        typer.echo(f"{target} exists; choose a new file name", err=True)
        raise typer.Exit(1)
    try:
        rows = read_rows(source)
    except SpreadsheetError as exc:
        typer.echo("\n".join(exc.problems), err=True)
        raise typer.Exit(1) from None
    target.write_text(rows_to_yaml(rows), encoding="utf-8")
    typer.echo(f"wrote {len(rows)} entries to {target}; check it with `kefu faq lint`")


@app.command()
def gaps(
    since: Annotated[str, typer.Option(help="How far back: 12h, 7d, 2w…")] = "7d",
    faq: Annotated[Path | None, typer.Option(help="FAQ folder whose tokeniser groups the questions.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Also write the groups to this CSV file.")] = None,
    xlsx_file: Annotated[Path | None, typer.Option("--xlsx", help="Also write the groups to this Excel file.")] = None,
) -> None:
    """Questions the bot could not answer (from the database), grouped by topic, the largest group first."""
    import asyncio

    from app import gaps_export
    from app.gaps import find_gaps, parse_since, reader_for
    from app.ops_stats import CHINA
    from app.settings import get_settings
    from app.store.database import create_engine, session_factory
    from app.store.tables import utcnow

    try:
        period = parse_since(since)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from None
    settings = get_settings()
    read = reader_for(_load(_faq_dir(faq)))
    end = utcnow()

    async def find():
        engine = create_engine(settings.database_url)
        try:
            async with session_factory(engine)() as session:
                return await find_gaps(session, end - period, end, read, secrets=settings.secrets())
        finally:
            await engine.dispose()

    found = asyncio.run(find())
    for target, write in ((csv_file, gaps_export.to_csv), (xlsx_file, gaps_export.to_xlsx)):
        if target is not None:
            target.write_bytes(write(found))
    if as_json:
        typer.echo(json.dumps([g.as_dict() for g in found], ensure_ascii=False, indent=2))
        return
    total = sum(g.count for g in found)
    typer.echo(f"{total} unanswered messages in {len(found)} groups since {end - period:%Y-%m-%d %H:%M} UTC")
    for gap in found:
        seen = " → ".join(f"{at.astimezone(CHINA):%m-%d %H:%M}" for at in (gap.first_seen, gap.last_seen))
        typer.echo(f"{gap.count:>5}  {' | '.join(gap.examples)}  ({seen})")
