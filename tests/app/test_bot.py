"""The bot's decision for one message in each conversation state."""

from __future__ import annotations

from app.engine import texts
from app.engine.bot import Turn, decide
from faq.index import SearchIndex
from faq.knowledge_base import Entry, KnowledgeBase
from faq.lexicon import BUILTIN_LEXICON, load_lexicon
from faq.tokenise import Tokeniser

ENTRIES = (
    Entry("ship", ("什么时候发货", "多久发货"), "亲，{shop_name}付款后48小时内发货。", "logistics"),
    Entry("refund_time", ("退款多久到账",), "1-3个工作日到账。"),
    Entry("refund_how", ("怎么申请退款",), "在订单页点申请退款。"),
    Entry("address_after_shipping", ("发货后怎么改地址",), "请稍等，为您联系快递改地址。", handoff=True),
)
KB = KnowledgeBase(
    {e.id: e for e in ENTRIES},
    variables={"shop_name": "小鹿家居"},
    index=SearchIndex(ENTRIES, Tokeniser(load_lexicon(BUILTIN_LEXICON))),
)


def bot(text: str, *, state: str = "bot", offered: tuple[str, ...] = ()):
    return decide(Turn(state, text, "web", offered), KB)


def test_a_known_question_is_answered_with_the_entry_score_and_evidence():
    decision = bot("什么时候发货")
    [reply] = decision.replies
    assert reply.sender == "bot" and reply.faq_id == "ship" and reply.faq_score == 1.0
    assert reply.text == "亲，小鹿家居付款后48小时内发货。"
    assert reply.meta["decision"] == "answer" and reply.meta["candidates"][0]["id"] == "ship"
    assert decision.new_state is None


def test_an_unknown_question_gets_the_polite_fallback():
    [reply] = bot("你们老板是谁").replies
    assert reply.text == texts.NO_ANSWER and reply.faq_id is None


def test_close_candidates_are_offered_as_a_numbered_list_and_a_digit_picks_one():
    [offer] = bot("退款").replies
    assert offer.text.startswith("您是想问：\n1. ")
    offered = tuple(offer.meta["offered"])
    assert set(offered) == {"refund_time", "refund_how"}

    [answer] = bot("2", offered=offered).replies
    assert answer.faq_id == offered[1]


def test_a_digit_without_an_offer_is_just_a_message():
    [reply] = bot("2").replies
    assert reply.faq_id is None


def test_asking_for_a_person_queues_with_a_notice():
    decision = bot("我要转人工")
    assert decision.new_state == "queued" and decision.reason == "customer asked for a person"
    assert [r.sender for r in decision.replies] == ["system"]


def test_an_entry_marked_handoff_answers_then_hands_off():
    decision = bot("发货后怎么改地址")
    assert [r.sender for r in decision.replies] == ["bot", "system"]
    assert decision.new_state == "queued" and "address_after_shipping" in decision.reason


def test_the_bot_is_silent_once_a_person_owns_the_conversation():
    for state in ("queued", "with_agent"):
        assert bot("什么时候发货", state=state).replies == []


def test_without_a_knowledge_base_the_bot_still_answers_politely():
    [reply] = decide(Turn("bot", "什么时候发货"), None).replies
    assert reply.text == texts.NO_ANSWER
