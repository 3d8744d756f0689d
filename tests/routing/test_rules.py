"""The rules file: the shipped one loads, and every mistake names its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import DEFAULT_RULES_FILE
from routing.rules import RulesError, load_rules

SHIPPED = DEFAULT_RULES_FILE.read_text(encoding="utf-8")


def broken(tmp_path: Path, old: str, new: str) -> str:
    assert old in SHIPPED
    path = tmp_path / "rules.yaml"
    path.write_text(SHIPPED.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(RulesError) as raised:
        load_rules(path)
    return str(raised.value)


def edited(tmp_path: Path, old: str, new: str):
    assert old in SHIPPED
    path = tmp_path / "rules.yaml"
    path.write_text(SHIPPED.replace(old, new, 1), encoding="utf-8")
    return load_rules(path)


def line_of(text: str) -> int:
    return SHIPPED.splitlines().index(next(line for line in SHIPPED.splitlines() if text in line)) + 1


def test_the_shipped_rules_load():
    rules = load_rules(DEFAULT_RULES_FILE)
    assert rules.queue(rules.escalation.threat_queue).level == "L3"
    assert rules.active_thresholds == rules.thresholds


def test_an_unknown_queue_is_named_with_its_line(tmp_path):
    message = broken(tmp_path, "  order_change: order\n", "  order_change: orders\n")
    assert message.endswith(
        f":{line_of('  order_change: order')}: intent_queues.order_change: unknown queue 'orders'"
        " (known: aftersale, complaints, logistics, order, presale, supervisor, vip)"
    )


def test_a_misspelt_key_is_refused_on_its_line(tmp_path):
    message = broken(tmp_path, "default_queue: presale", "defualt_queue: presale")
    assert f":{line_of('default_queue: presale')}: defualt_queue: Extra inputs are not permitted" in message
    assert "default_queue: Field required" in message


def test_a_bad_level_names_the_queue_line(tmp_path):
    message = broken(tmp_path, "level: L3}", "level: L4}")
    assert f":{line_of('level: L3}')}:" in message and "queues.5.level" in message


def test_invalid_yaml_names_the_line(tmp_path):
    message = broken(tmp_path, "default_queue: presale", "default_queue: [presale")
    assert "not valid YAML" in message


POSITION = "  position: 您前面还有{position}位顾客，预计等待约{eta}分钟，请耐心稍候～"


def test_a_placeholder_nothing_fills_is_refused_on_its_line(tmp_path):
    message = broken(tmp_path, "前面还有{position}位", "前面还有{人数}位")
    assert message.endswith(
        f":{line_of(POSITION)}: templates.position: unknown placeholder {{人数}}"
        " (this text can use {position}, {eta}; a literal brace is written {{ or }})"
    )


def test_a_lone_brace_in_a_filled_text_is_refused(tmp_path):
    message = broken(tmp_path, "前面还有{position}位", "前面还有position}位")
    assert f":{line_of(POSITION)}: templates.position: Single '}}' encountered in format string" in message
    assert "write a literal brace as {{ or }}" in message


def test_a_canned_reply_may_use_only_what_the_console_fills_in(tmp_path):
    message = broken(tmp_path, "我帮您查了{order_id}的物流", "我帮您查了{order}的物流")
    assert f":{line_of('我帮您查了{order_id}的物流')}: canned_replies.4.text: unknown placeholder {{order}}" in message


def test_a_text_sent_as_written_refuses_placeholders_but_keeps_other_braces(tmp_path):
    message = broken(tmp_path, "  rated: 感谢您的评价", "  rated: 感谢{agent_name}您的评价")
    assert f":{line_of('  rated: 感谢您的评价')}: templates.rated: {{agent_name}} is not filled in here" in message

    rules = edited(tmp_path, "  rated: 感谢您的评价，祝您生活愉快～", "  rated: '{^_^} 感谢您的评价'")
    assert rules.templates.rated == "{^_^} 感谢您的评价"


def test_doubled_braces_are_literal_in_a_filled_text(tmp_path):
    rules = edited(tmp_path, POSITION, "  position: '{{^_^}} 前面{position}位，约{eta}分钟'")
    assert rules.templates.position.format(position=2, eta=5) == "{^_^} 前面2位，约5分钟"


def test_promotion_mode_switches_to_its_stricter_thresholds(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(SHIPPED.replace("  enabled: false", "  enabled: true", 1), encoding="utf-8")
    rules = load_rules(path)
    assert rules.active_thresholds == rules.promotion_mode.thresholds
    assert rules.active_thresholds.answer > rules.thresholds.answer


def test_numbers_in_word_lists_are_read_as_words(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(SHIPPED.replace("  angry: []", "  angry: [404, 垃圾客服]", 1), encoding="utf-8")
    assert load_rules(path).lexicon["angry"] == ("404", "垃圾客服")


def test_promo_switch_keeps_comments_and_refuses_to_break_the_file(tmp_path):
    from routing.promotion import switch_promotion

    path = tmp_path / "rules.yaml"
    path.write_text(DEFAULT_RULES_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    rules = switch_promotion(path, enabled=True, banner="双十一回复稍慢")
    assert rules.promotion_mode.enabled and rules.promotion_mode.banner == "双十一回复稍慢"
    assert "# 大促模式" in path.read_text(encoding="utf-8")

    broken = path.read_text(encoding="utf-8").replace("default_queue: presale", "default_queue: nowhere")
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(RulesError):
        switch_promotion(path, enabled=False)
    assert path.read_text(encoding="utf-8") == broken, "a refused switch leaves the file as it was"
    assert not list(tmp_path.glob(".rules.yaml.*")), "no temporary file left behind"
