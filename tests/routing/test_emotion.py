"""The emotion and risk reader, rule by rule, with the hard cases that must not escalate."""

from __future__ import annotations

import pytest

from routing.emotion import EmotionReader
from routing.lexicon import load_emotion_lexicon

READER = EmotionReader(load_emotion_lexicon())


def kinds(text: str) -> set[str]:
    return {e.kind for e in READER.read(text).evidence}


@pytest.mark.parametrize(
    "text",
    [
        "再不退款我就去12315投诉",
        "我已经联系律师了",
        "不处理的话我就给差评",
        "我会把这件事发到微博上让大家评评理",
        "你们等着上热搜吧",
        "已經向消保官檢舉了",  # Traditional
        "那咱们消协见",
    ],
)
def test_threats_to_escalate_outside_the_chat_are_read_as_threats(text):
    reading = READER.read(text)
    assert reading.risk == "threat" and reading.escalated


@pytest.mark.parametrize(
    "text",
    [
        "差评返现是真的吗",
        "可以用工商银行卡付款吗",
        "烟雾报警器怎么安装",
        "吊牌上的12315是干嘛的",
        "我写了个追评，说了说使用感受",
        "想给做律师的朋友送支钢笔",
        "这个儿童手表有一键报警功能吗",
    ],
)
def test_innocent_uses_of_trigger_words_do_not_escalate(text):
    reading = READER.read(text)
    assert reading.risk == "none" and not reading.escalated


@pytest.mark.parametrize(
    "text", ["给你们差评", "必给差评", "我给你们打差评", "直接给你一星", "这质量必须差评", "差评，没得商量", "差评伺候"]
)
def test_saying_one_will_leave_a_bad_review_is_a_threat_without_an_action_word(text):
    reading = READER.read(text)
    assert reading.risk == "threat" and "threat_pattern" in kinds(text)


@pytest.mark.parametrize(
    "text",
    ["不给差评了", "我不会给差评的", "放心，不想给你们差评", "手滑给了个差评，怎么改好评", "差评能删吗", "必须好评"],
)
def test_promising_not_to_or_having_given_a_bad_review_is_no_threat(text):
    assert READER.read(text).risk == "none"


def test_ops_threat_patterns_from_the_rules_file_are_threats():
    reader = EmotionReader(load_emotion_lexicon().extended({"threat_patterns": ["发(到)?贴吧"]}))
    assert READER.read("这事我发到贴吧").risk == "none"
    assert reader.read("这事我发到贴吧").risk == "threat"


@pytest.mark.parametrize("text", ["插上电就冒烟了", "孩子被烫伤了", "充电器漏电"])
def test_product_dangers_are_safety_risks(text):
    assert READER.read(text).risk == "safety"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("垃圾东西", "angry"),
        ("呵呵，真是长见识了", "sarcasm"),
        ("你们是不是从来不看消息", "angry_pattern"),
        ("都七天了还没发货？？", "frustration"),
        ("发错货了😡", "angry_emoji"),
    ],
)
def test_each_anger_rule_reads_angry_with_its_evidence(text, kind):
    reading = READER.read(text)
    assert reading.label == "angry" and kind in kinds(text)


def test_a_message_of_only_question_marks_is_angry():
    assert READER.read("？？？").label == "angry"


@pytest.mark.parametrize("text", ["急急急 今天能发吗", "明天就要用了，怎么办😭", "会不会送错了啊"])
def test_worry_and_urgency_read_anxious(text):
    assert READER.read(text).label == "anxious"


@pytest.mark.parametrize("text", ["什么时候发货", "谢谢，问题解决了", "好的👍", "可以开发票吗"])
def test_ordinary_questions_read_calm(text):
    reading = READER.read(text)
    assert reading.label == "calm" and reading.risk == "none"


def test_unfairness_reads_aggrieved():
    assert READER.read("我什么都没做，凭什么不给退，太委屈了").label == "aggrieved"


def test_a_customer_escalating_over_three_turns_shows_a_rising_trend():
    first = READER.read("请问我的快递到哪了")
    second = READER.read("怎么还没到？？", history=[first])
    third = READER.read("都五天了还没到，你们是不是骗子！！！", history=[first, second])
    assert first.label == "calm" and third.label == "angry"
    assert third.trend > 0 and third.intensity > second.intensity > first.intensity


def test_ops_words_from_the_rules_file_extend_the_lexicon():
    reader = EmotionReader(load_emotion_lexicon().extended({"angry": ["智商税"]}))
    assert READER.read("这就是智商税").label == "calm"
    assert reader.read("这就是智商税").label == "angry"


def test_a_hotline_number_inside_a_phone_or_order_number_is_no_threat():
    reader = EmotionReader(load_emotion_lexicon())
    assert reader.read("我的电话13812345678，麻烦尽快发货").risk == "none"
    assert reader.read("订单号 2023123150001 什么时候发").risk == "none"
    assert reader.read("再不处理我就打12345投诉").risk == "threat"
