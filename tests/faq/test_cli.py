"""`kefu faq lint|ask|eval|export|import` as ops run them."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from app.cli import app

FIXTURES = Path(__file__).parent / "fixtures"
runner = CliRunner()


def kefu(*args: str):
    return runner.invoke(app, ["faq", *args])


def test_eval_reports_the_documented_figures_on_a_known_fixture():
    result = kefu("eval", "--kb", str(FIXTURES / "mini_kb.yaml"), "--cases", str(FIXTURES / "mini_cases.csv"), "--json")

    figures = json.loads(result.stdout)
    assert result.exit_code == 0
    assert figures["cases"] == 5
    assert figures["accuracy"] == 0.6  # shipping, invoice, weather→NONE
    assert figures["answer_precision"] == 0.6667  # 发票 is answered though it should not be
    assert figures["coverage"] == 0.6667  # 退款 is not answered…
    assert figures["suggest_hit_rate"] == 1.0  # …but refund_time is among the suggestions
    assert figures["p50_ms"] > 0 and figures["p99_ms"] >= figures["p50_ms"]


def test_ask_shows_decision_candidates_and_the_answer():
    result = kefu("ask", "什么时候发货呀", "--faq", str(FIXTURES / "mini_kb.yaml"))

    assert result.exit_code == 0
    assert result.stdout.startswith("decision: answer")
    assert "1. shipping" in result.stdout and "answer: 48小时内发货。" in result.stdout


def test_ask_json_is_the_ops_api_view():
    result = kefu("ask", "退款", "--faq", str(FIXTURES / "mini_kb.yaml"), "--json")

    view = json.loads(result.stdout)
    assert view["decision"] == "suggest" and set(view["suggestions"]) == {"refund_time", "refund_how"}


def test_lint_fails_on_errors_and_names_file_and_line(tmp_path):
    (tmp_path / "faq.yaml").write_text(
        "entries:\n  - id: a\n    questions: [怎么开发票]\n    answer: 拨打{hotline}\n", encoding="utf-8"
    )

    result = kefu("lint", str(tmp_path))

    assert result.exit_code == 1
    assert f"error: {tmp_path / 'faq.yaml'}:2: entry 'a': answer uses unknown variable {{hotline}}" in result.stdout


def test_lint_passes_the_sample_faq():
    result = kefu("lint")
    assert result.exit_code == 0 and "0 errors" in result.stdout


def test_export_then_import_round_trips_through_a_spreadsheet(tmp_path):
    sheet = tmp_path / "faq.xlsx"
    assert kefu("export", str(sheet), "--faq", str(FIXTURES / "mini_kb.yaml")).exit_code == 0

    imported = tmp_path / "kb" / "faq.yaml"
    imported.parent.mkdir()
    result = kefu("import", str(sheet), str(imported))

    assert result.exit_code == 0, result.stdout
    ask = kefu("ask", "能开发票吗", "--faq", str(imported.parent), "--json")
    assert json.loads(ask.stdout)["answer_id"] == "invoice"
