"""Normalisation and tokenisation: the forms customers write reach the same terms."""

from __future__ import annotations

import pytest

from faq.lexicon import BUILTIN_LEXICON, load_lexicon
from faq.normalise import normalise
from faq.tokenise import Tokeniser

TOKENISER = Tokeniser(load_lexicon(BUILTIN_LEXICON))


def terms(text: str) -> list[str]:
    return TOKENISER.terms(TOKENISER.correct(normalise(text).text))


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("請問現在下單什麼時候發貨？", "请问现在下单什么时候发货"),  # Traditional → Simplified
        ("ＡＢＣ１２３", "abc123"),  # full width → half width, lower case
        ("发货了吗？？😭👍", "发货了吗"),  # punctuation and emoji dropped
        ("ship to Singapore?", "ship to singapore"),  # Latin words keep their spaces
    ],
)
def test_text_is_folded_to_one_form(raw, clean):
    assert normalise(raw).text == clean


def test_order_numbers_phones_and_links_are_set_aside():
    result = normalise("订单4408123567890 电话13812345678 看 https://shop.example/item?id=1")
    assert result.order_numbers == ("4408123567890",)
    assert result.phones == ("13812345678",)
    assert result.links == ("https://shop.example/item?id=1",)
    assert "4408123567890" not in result.text and "13812345678" not in result.text


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("推货", "退货"),  # homophone typo
        ("发漂", "发票"),
        ("yfx", "运费险"),  # pinyin abbreviation
        ("refund", "退款"),  # English
        ("快递", "物流"),  # synonym → canonical term
    ],
)
def test_typos_abbreviations_and_synonyms_become_the_canonical_term(typed, meant):
    assert terms(typed) == [meant]


def test_latin_abbreviations_match_whole_words_only():
    assert "物流" not in terms("wlan")


def test_yes_no_questions_ask_about_the_plain_word():
    assert terms("包不包邮") == terms("包邮")


def test_stopwords_carry_no_topic():
    assert terms("亲，请问一下你们的呢") == []


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("收到货再付钱", "货到付款"),  # said as a phrase, read as the payment method
        ("到了再付款", "货到付款"),
        ("每满300都减", "满减"),
        ("满200减20", "满减"),
    ],
)
def test_phrasings_of_a_domain_term_become_the_term(typed, meant):
    assert meant in terms(typed)


def test_bare_numbers_are_not_topics():
    assert terms("买一件48块") == terms("买一件块")
    assert "618" in terms("618"), "a number the lexicon names as a word stays"


def test_a_compound_of_lexicon_words_also_counts_as_its_parts():
    assert {"纸质", "发票"} <= set(terms("纸质发票"))
