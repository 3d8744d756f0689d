"""Whatever customers type (any Unicode, any length), normalising and matching never crash."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.settings import SAMPLE_FAQ_DIR
from faq.loader import load_knowledge_base
from faq.matcher import match
from faq.normalise import normalise

KB = load_knowledge_base(SAMPLE_FAQ_DIR)
chinese = st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), max_size=40)
anything = st.text(max_size=200)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(anything, chinese, st.lists(st.sampled_from(["发货", "退款", "！", "😡", " ", "1", "wl"])).map("".join))
)
def test_matching_any_text_returns_a_decision(text):
    result = match(text, KB)
    assert result.decision in ("answer", "suggest", "none")
    assert all(0 <= c.score <= 1 for c in result.candidates)
    if result.decision == "answer":
        assert result.best is not None


@settings(max_examples=300, deadline=None)
@given(anything)
def test_normalising_is_idempotent(text):
    once = normalise(text).text
    assert normalise(once).text == once
