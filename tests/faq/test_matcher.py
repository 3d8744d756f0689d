"""The matcher against the sample FAQ: answer, suggest or decline, with scores and reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.settings import SAMPLE_FAQ_DIR
from faq.index import SearchIndex
from faq.knowledge_base import Entry, KnowledgeBase
from faq.lexicon import BUILTIN_LEXICON, load_lexicon
from faq.loader import load_knowledge_base
from faq.matcher import Thresholds, match
from faq.tokenise import Tokeniser


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge_base(SAMPLE_FAQ_DIR)


def ids(result) -> list[str]:
    return [c.entry.id for c in result.candidates]


def build(*entries: Entry) -> KnowledgeBase:
    index = SearchIndex(entries, Tokeniser(load_lexicon(BUILTIN_LEXICON)))
    return KnowledgeBase({e.id: e for e in entries}, index=index)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("什么时候发货？", "shipping_time"),
        ("能开发票吗", "invoice"),
        ("发什么快递呀", "courier_company"),
        ("退款多久到账啊", "refund_time"),
        ("收到的东西碎了", "damaged_on_arrival"),
    ],
)
def test_customer_phrasings_are_answered_with_their_entry(kb, query, expected):
    result = match(query, kb)
    assert result.decision == "answer"
    assert result.best.entry.id == expected
    assert 0 < result.best.score <= 1
    assert result.reasons


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("發貨了嗎", "shipping_time"),  # Traditional characters
        ("ＦＡＱ：什么时候发货！！！😭", "shipping_time"),  # full width, punctuation, emoji
        ("wl怎么查", "tracking"),  # pinyin abbreviation
        ("推货怎么弄", "return_process"),  # homophone typo
        ("订单 4408123567890 什么时候发货", "shipping_time"),  # order number set aside
    ],
)
def test_colloquial_forms_reach_the_same_entry(kb, query, expected):
    result = match(query, kb)
    assert result.best is not None and result.best.entry.id == expected


def test_order_numbers_are_kept_for_the_agent(kb):
    assert match("订单 4408123567890 什么时候发货", kb).normalised.order_numbers == ("4408123567890",)


@pytest.mark.parametrize("query", ["今天天气怎么样", "帮我写一篇作文", "。。。", "", "👍👍"])
def test_unrelated_or_empty_messages_are_not_answered(kb, query):
    assert match(query, kb).decision != "answer"


def test_close_entries_are_suggested_instead_of_guessed():
    kb = build(
        Entry("refund_time", ("退款多久到账",), "1-3天"),
        Entry("refund_how", ("怎么申请退款",), "点申请"),
    )
    result = match("退款", kb, thresholds=Thresholds(answer=0.9, suggest=0.05))
    assert result.decision == "suggest"
    assert {s.entry.id for s in result.suggestions} == {"refund_time", "refund_how"}


def test_entries_outside_their_validity_window_are_never_matched():
    now = datetime(2026, 11, 11, tzinfo=UTC)
    promo = Entry("deposit", ("定金尾款怎么付",), "...", valid_until=now - timedelta(days=1))
    kb = build(promo, Entry("other", ("怎么开发票",), "..."))
    assert "deposit" not in ids(match("定金尾款怎么付", kb, now=now))
    assert match("定金尾款怎么付", kb, now=now - timedelta(days=2)).best.entry.id == "deposit"


def test_channel_restricted_entries_answer_only_on_their_channel():
    kb = build(Entry("web_only", ("网页怎么登录",), "...", channels=("web",)), Entry("x", ("发票",), "..."))
    assert "web_only" not in ids(match("网页怎么登录", kb, channel="wecom_kf"))
    assert match("网页怎么登录", kb, channel="web").best.entry.id == "web_only"


def test_negative_keywords_keep_an_entry_from_answering():
    kb = build(
        Entry("smoke_alarm", ("烟雾报警器怎么用",), "...", negative_keywords=("冒烟",)),
        Entry("x", ("发票",), "..."),
    )
    assert "smoke_alarm" not in ids(match("烟雾报警器冒烟了怎么用", kb))
    assert "smoke_alarm" in ids(match("烟雾报警器怎么用", kb))


def test_keywords_pull_a_message_to_their_entry():
    plain = build(Entry("quality", ("质量有问题怎么办",), "..."), Entry("x", ("怎么开发票",), "..."))
    keyed = build(
        Entry("quality", ("质量有问题怎么办",), "...", keywords=("漏水",)), Entry("x", ("怎么开发票",), "...")
    )
    assert "quality" not in ids(match("水壶漏水", plain))
    assert match("水壶漏水", keyed).best.entry.id == "quality"


def test_goods_the_knowledge_base_does_not_name_do_not_dilute_the_topic():
    kb = build(Entry("quality", ("收到的东西有质量问题",), "..."), Entry("x", ("怎么开发票",), "..."))
    assert match("收到的卫衣开线了", kb).decision == "answer"
    assert match("收到的作文开线了", kb).best.score < match("收到的卫衣开线了", kb).best.score


def test_a_bare_acknowledgement_is_not_answered():
    kb = build(Entry("missing", ("配件没有收到",), "..."), Entry("x", ("怎么开发票",), "..."))
    result = match("收到！", kb)
    assert result.decision == "none"
    assert result.reasons == ["an acknowledgement, not a question"]


@pytest.mark.parametrize("query", ["13812345678 这是我电话", "电话", "新疆", "湖北武汉"])
def test_a_message_that_only_hands_over_a_detail_is_never_answered_outright(kb, query):
    assert match(query, kb).decision != "answer"


def test_a_lone_detail_is_suggested_with_the_reason(kb):
    result = match("新疆", kb)

    assert result.decision == "suggest" and result.suggestions[0].entry.id == "delivery_area"
    assert "not asking" in result.reasons[-1]


def test_a_detail_with_a_question_about_it_is_answered(kb):
    result = match("新疆能发吗", kb)

    assert result.decision == "answer" and result.best.entry.id == "delivery_area"


def test_single_characters_alone_are_too_little_to_answer_on():
    kb = build(Entry("human", ("找真人客服",), "..."), Entry("invoice_fix", ("发票抬头开错了",), "..."))

    for query in ("我在找找", "错了"):
        result = match(query, kb)
        assert result.decision != "answer", query
    assert match("找人工客服", kb).decision == "answer"


def test_entries_that_score_alike_come_in_the_files_order():
    """The order of equal scores decides the runner-up and the suggestions: the same in every run."""
    entries = [Entry(f"e{n}", ("运费险怎么用",), "见说明") for n in range(40)]

    for order in (entries, entries[::-1]):
        result = match("运费险", build(*order))
        assert len({c.score for c in result.candidates}) == 1
        assert ids(result) == [e.id for e in order[: len(result.candidates)]]


def test_the_closest_question_is_the_one_the_message_covers_most_then_the_nearest_string():
    entry = Entry("shipping", ("发货时间是多久", "多久发货", "什么时候发货呀"), "48小时内发货")

    assert match("什么时候发货", build(entry)).best.question == "什么时候发货呀"
    assert match("多久能发货", build(entry)).best.question == "多久发货"
