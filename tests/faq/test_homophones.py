"""Mistyped words are read as the knowledge base's word that sounds the same."""

from __future__ import annotations

import pytest

from faq.homophones import SoundAlike

VOCABULARY = ["退货", "发票", "保修", "换货", "签收", "专票", "物流", "事实", "实时"]


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        (["保秀", "多久"], ["保修", "多久"]),
        (["专漂"], ["专票"]),
        (["腿", "货"], ["退货"]),  # a typo that broke segmentation
        (["显示", "签手"], ["显示", "签收"]),
    ],
)
def test_unknown_words_become_the_known_word_that_sounds_the_same(typed, meant):
    assert SoundAlike(VOCABULARY).fix(typed) == meant


def test_known_words_and_ambiguous_sounds_are_left_alone():
    sounds = SoundAlike(VOCABULARY)
    assert sounds.fix(["物流"]) == ["物流"]
    assert sounds.fix(["视士"]) == ["视士"], "shi shi is both 事实 and 实时: no guess"
    assert sounds.fix(["ok", "1"]) == ["ok", "1"]


def test_two_known_single_characters_are_not_read_as_a_typo():
    sounds = SoundAlike(["之间", "只", "减"])
    assert sounds.fix(["只", "减"]) == ["只", "减"], "zhi jian: 只减 is two words the knowledge base uses"
