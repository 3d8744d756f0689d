"""`kefu route explain|eval` as ops run them."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from app.cli import app

runner = CliRunner()
CASES = "\n".join(
    [
        "text,label",
        "什么时候发货,calm",
        "急急急 今天能发吗,anxious",
        "垃圾东西！！,angry",
        "再不退款我就去12315,threat",
        "差评返现是真的吗,calm",
    ]
)


def test_explain_shows_reading_intent_decision_and_reasons():
    result = runner.invoke(app, ["route", "explain", "再不退款我就去12315投诉"])

    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("reading: ") and "risk threat" in lines[0]
    assert "strong_threat=12315" in lines[1]
    assert "→ supervisor (客服主管) L3 priority 100" in result.stdout
    assert "because risk:threat: 12315" in result.stdout


def test_explain_json_has_the_decision():
    view = json.loads(runner.invoke(app, ["route", "explain", "什么时候发货", "--json"]).stdout)
    assert view["action"] == "answer" and view["reading"]["label"] == "calm" and view["handoff"] is None


def test_eval_reports_the_documented_figures(tmp_path: Path):
    cases = tmp_path / "cases.csv"
    cases.write_text(CASES, encoding="utf-8")

    figures = json.loads(runner.invoke(app, ["route", "eval", "--cases", str(cases), "--json"]).stdout)

    assert figures["cases"] == 5
    assert figures["threat_recall"] == 1.0 and figures["escalation_recall"] == 1.0
    assert figures["calm_false_escalation"] == 0.0
    assert figures["anxious"] == {"precision": 1.0, "recall": 1.0, "support": 1}


def test_a_broken_rules_file_is_reported_with_its_line(tmp_path: Path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("queues: []\n", encoding="utf-8")

    result = runner.invoke(app, ["route", "explain", "你好", "--rules", str(rules)])

    assert result.exit_code == 1 and f"{rules}:1: " in result.stderr
