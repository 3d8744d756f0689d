"""The first matcher against the sample FAQ: colloquial questions hit, unrelated ones do not."""

from __future__ import annotations

import pytest

from app.settings import SAMPLE_FAQ_DIR
from faq.loader import load_knowledge_base
from faq.matcher import match
from faq.normalise import normalise


@pytest.fixture(scope="module")
def kb():
    return load_knowledge_base(SAMPLE_FAQ_DIR)


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
def test_customer_phrasings_find_their_entry(kb, query, expected):
    hit = match(query, kb)
    assert hit is not None and hit.entry.id == expected
    assert 75 <= hit.score <= 100


@pytest.mark.parametrize("query", ["今天天气怎么样", "你们老板是谁", "。。。", ""])
def test_unrelated_or_empty_messages_get_no_answer(kb, query):
    assert match(query, kb) is None


def test_full_width_and_punctuation_do_not_change_the_match(kb):
    assert match("ＦＡＱ：什么时候发货！！！", kb).entry.id == match("什么时候发货", kb).entry.id


def test_normalise_folds_width_case_punctuation_and_emoji():
    assert normalise("Ｉ ｗａｎｔ 发货！！😭") == "iwant发货"
