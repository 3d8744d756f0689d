"""The bot's decision for one message in each conversation state."""

from __future__ import annotations

from app.engine import texts
from app.engine.bot import decide
from faq.knowledge_base import Entry, KnowledgeBase

KB = KnowledgeBase(
    {"ship": Entry("ship", ("什么时候发货", "多久发货"), "亲，{shop_name}付款后48小时内发货。", "logistics")}
)


def test_a_known_question_is_answered_with_the_entry_and_score():
    decision = decide("bot", "什么时候发货", KB, shop_name="小鹿家居")
    [reply] = decision.replies
    assert reply.sender == "bot" and reply.faq_id == "ship" and reply.faq_score == 100
    assert reply.text == "亲，小鹿家居付款后48小时内发货。"
    assert decision.new_state is None


def test_an_unknown_question_gets_the_polite_fallback():
    [reply] = decide("bot", "你们老板是谁", KB, shop_name="店").replies
    assert reply.text == texts.NO_ANSWER and reply.faq_id is None


def test_asking_for_a_person_queues_with_a_notice():
    decision = decide("bot", "我要转人工", KB, shop_name="店")
    assert decision.new_state == "queued" and decision.reason == "customer asked for a person"
    assert [r.sender for r in decision.replies] == ["system"]


def test_the_bot_is_silent_once_a_person_owns_the_conversation():
    for state in ("queued", "with_agent"):
        assert decide(state, "什么时候发货", KB, shop_name="店").replies == []


def test_without_a_knowledge_base_the_bot_still_answers_politely():
    [reply] = decide("bot", "什么时候发货", None, shop_name="店").replies
    assert reply.text == texts.NO_ANSWER
