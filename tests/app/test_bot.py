"""The bot's decision for one message: FAQ answers, suggestions, and the routing policy's handoffs."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from app.engine.bot import Turn, decide
from app.knowledge import build_routing
from app.settings import DEFAULT_RULES_FILE
from faq.index import SearchIndex
from faq.knowledge_base import Entry, KnowledgeBase
from faq.lexicon import BUILTIN_LEXICON, load_lexicon
from faq.tokenise import Tokeniser
from routing.policy import asks_for_the_order_number

ENTRIES = (
    Entry("ship", ("什么时候发货", "多久发货"), "亲，{shop_name}付款后48小时内发货。", "logistics"),
    Entry("refund_time", ("退款多久到账",), "1-3个工作日到账。", "aftersale"),
    Entry("refund_how", ("怎么申请退款",), "在订单页点申请退款。", "aftersale"),
    Entry("address_after_shipping", ("发货后怎么改收货地址",), "为您联系快递改地址。", "logistics", handoff=True),
)
KB = KnowledgeBase(
    {e.id: e for e in ENTRIES},
    variables={"shop_name": "小鹿家居"},
    index=SearchIndex(ENTRIES, Tokeniser(load_lexicon(BUILTIN_LEXICON))),
)
ROUTING = build_routing(DEFAULT_RULES_FILE)


def bot(text: str, *, state: str = "bot", offered: tuple[str, ...] = (), unresolved: int = 0, vip: bool = False):
    return decide(Turn(state, text, "web", offered, unresolved_before=unresolved, vip=vip), KB, ROUTING)


def test_a_known_question_is_answered_with_the_entry_score_and_evidence():
    decision = bot("什么时候发货")
    [reply] = decision.replies
    assert reply.sender == "bot" and reply.faq_id == "ship" and reply.faq_score == 1.0
    assert reply.text == "亲，小鹿家居付款后48小时内发货。"
    assert reply.meta["action"] == "answer" and reply.meta["faq"]["candidates"][0]["id"] == "ship"
    assert reply.meta["intent"]["name"] == "logistics"
    assert decision.new_state is None and decision.reading.label == "calm"


def test_an_unknown_question_gets_a_clarifying_question_first():
    [reply] = bot("你们老板是谁").replies
    assert reply.meta["action"] == "clarify" and reply.text == ROUTING.rules.templates.clarify


def test_the_second_unhelpful_turn_in_a_row_hands_off():
    decision = bot("你们老板是谁", unresolved=1)
    assert decision.new_state == "queued" and decision.handoff.level == "L1"
    assert decision.reasons[0].rule == "unresolved_turns"


def test_close_candidates_are_offered_as_a_numbered_list_and_a_digit_picks_one():
    [offer] = bot("退款").replies
    assert offer.text.startswith("您是想问：\n1. ")
    offered = tuple(offer.meta["offered"])
    assert set(offered) == {"refund_time", "refund_how"}

    [answer] = bot("2", offered=offered, unresolved=1).replies
    assert answer.faq_id == offered[1]


@pytest.mark.parametrize("text", ["我要转人工", "人工", "给我找个真人"])
def test_asking_for_a_person_hands_off_at_once(text):
    decision = bot(text)
    assert decision.new_state == "queued" and decision.reasons[0].rule == "human_request"
    assert [r.sender for r in decision.replies] == ["system"] and "人工" in decision.replies[0].text


def test_checking_whether_anyone_is_there_after_a_failed_answer_is_a_request_for_a_person():
    assert bot("在吗", unresolved=1).reasons[0].rule == "human_request"
    assert bot("在吗").new_state is None


def test_a_threat_goes_to_the_supervisor_at_top_priority():
    decision = bot("再不退款我就去12315投诉你们")
    assert decision.handoff.queue == "supervisor" and decision.handoff.level == "L3"
    assert decision.handoff.priority == ROUTING.rules.priorities["L3"]
    assert decision.reasons[0].rule == "risk:threat" and "12315" in decision.reasons[0].detail


def test_a_safety_danger_goes_to_the_supervisor_with_safety_advice():
    decision = bot("插上电就冒烟了")
    assert decision.handoff.level == "L3" and "停止使用" in decision.replies[-1].text


def test_an_angry_customer_gets_empathy_and_a_senior_agent():
    decision = bot("你们这是什么垃圾服务！！！")
    assert decision.handoff.queue == "complaints" and decision.handoff.level == "L2"
    assert "抱歉" in decision.replies[-1].text


def test_an_anxious_customer_gets_reassurance_with_the_answer():
    texts = [r.text for r in bot("急急急 什么时候发货").replies]
    assert texts[0] == ROUTING.rules.templates.reassurance and "48小时" in texts[1]


def test_an_entry_marked_handoff_answers_then_hands_off():
    decision = bot("发货后怎么改收货地址")
    assert [r.sender for r in decision.replies] == ["bot", "system"]
    assert decision.new_state == "queued" and decision.reasons[0].detail.startswith("address_after_shipping")


def test_an_intent_only_a_person_can_handle_goes_to_its_queue():
    decision = bot("我想改订单的颜色")
    assert decision.handoff.queue == "order" and decision.reasons[0].rule == "intent:order_change"


def test_vip_customers_go_to_the_vip_queue_with_a_priority_boost():
    decision = bot("转人工", vip=True)
    assert decision.handoff.queue == "vip"
    assert decision.handoff.priority == ROUTING.rules.priorities["L1"] + ROUTING.rules.vip.priority_boost


def test_an_order_number_sent_after_an_answer_goes_to_a_person_for_that_topic():
    after_answer = decide(Turn("bot", "订单号：123456789012345678", "web", topic="logistics"), KB, ROUTING)
    assert after_answer.handoff.queue == "logistics" and after_answer.reasons[0].rule == "order_number"
    assert bot("123456789012345678").replies[0].meta["action"] == "clarify"  # no answer before it: asks


def test_an_order_number_sent_with_a_question_whose_answer_asks_for_one_goes_to_a_person():
    urge = Entry("urge", ("怎么还没发货",), "麻烦您提供一下订单号，我们为您加急处理。", "logistics")
    kb = KnowledgeBase({urge.id: urge}, index=SearchIndex((urge,), Tokeniser(load_lexicon(BUILTIN_LEXICON))))
    decision = decide(Turn("bot", "订单号 4408123567890 怎么还没发货", "web"), kb, ROUTING)
    assert decision.handoff.queue == "logistics" and decision.reasons[0].rule == "order_number"
    assert "订单号" not in decision.replies[0].text  # not asked for what it was just given
    assert decide(Turn("bot", "怎么还没发货", "web"), kb, ROUTING).replies[0].faq_id == "urge"
    assert bot("订单 4408123567890 什么时候发货").replies[0].faq_id == "ship"  # an answer that does not ask


@pytest.mark.parametrize(
    ("answer", "asks"),
    [
        ("麻烦您提供一下订单号，我这边马上联系仓库。", True),
        ("如物流超过3天没有更新，请把订单号发给我们。", True),
        ("请告诉我订单编号", True),
        ("在“我的订单”里点查看物流。", False),
        ("订单号在订单详情页最上方。", False),
    ],
)
def test_answers_that_ask_for_the_order_number_are_told_apart(answer, asks):
    assert asks_for_the_order_number(answer) is asks


def test_asking_again_while_queued_is_told_a_person_is_coming():
    for text in ("转人工", "在吗？", "有人吗"):  # a ping while waiting is asking for the person too
        [reply] = bot(text, state="queued").replies
        assert reply.sender == "system" and reply.text == ROUTING.rules.templates.still_queued, text


def test_a_ping_while_nobody_is_online_for_the_queue_hears_that_again_not_that_someone_is_coming():
    [reply] = decide(Turn("queued", "在吗", "web", unstaffed=True), KB, ROUTING).replies
    assert reply.text == ROUTING.rules.templates.nobody_online
    assert reply.meta == {"nobody_online": True}, "marked as the timers mark it, so they do not say it again"


def test_once_a_person_owns_the_conversation_the_bot_only_reads():
    for state in ("queued", "with_agent"):
        decision = bot("什么时候发货", state=state)
        assert decision.replies == [] and decision.reading is not None


def test_without_a_knowledge_base_the_bot_asks_again_then_hands_off():
    first = decide(Turn("bot", "什么时候发货"), None, ROUTING)
    assert first.replies[0].meta["action"] == "clarify"


def test_outside_service_hours_a_handoff_becomes_a_message_left_for_the_next_shift(tmp_path):
    text = DEFAULT_RULES_FILE.read_text(encoding="utf-8").replace('hours: "00:00-24:00"', 'hours: "09:00-18:00"', 1)
    (tmp_path / "rules.yaml").write_text(text, encoding="utf-8")
    routing = build_routing(tmp_path / "rules.yaml")
    night = datetime(2026, 11, 11, 15, 0, tzinfo=UTC)  # 23:00 in shop time
    day = datetime(2026, 11, 11, 3, 0, tzinfo=UTC)  # 11:00

    at_night = decide(Turn("bot", "转人工", now=night), KB, routing)
    by_day = decide(Turn("bot", "转人工", now=day), KB, routing)

    assert at_night.ticket and "09:00-18:00" in at_night.replies[-1].text and "留言" in at_night.replies[-1].text
    assert not by_day.ticket and "留言" not in by_day.replies[-1].text


def test_in_promotion_mode_the_banner_comes_before_the_first_reply_only():
    promotion = ROUTING.rules.promotion_mode.model_copy(update={"enabled": True, "banner": "大促期间回复稍慢"})
    routing = replace(ROUTING, rules=ROUTING.rules.model_copy(update={"promotion_mode": promotion}))

    first = decide(Turn("bot", "什么时候发货", "web", first=True), KB, routing)
    later = decide(Turn("bot", "什么时候发货", "web"), KB, routing)

    assert [r.text for r in first.replies][0] == "大促期间回复稍慢"
    assert first.replies[1].faq_id == "ship"
    assert [r.faq_id for r in later.replies] == ["ship"]


@pytest.mark.parametrize("text", ["留言", "我要留言", "留个言吧"])
def test_a_waiting_customer_who_takes_the_offer_leaves_a_message(text):
    decision = bot(text, state="queued")
    assert decision.ticket and decision.new_state is None
    assert [r.text for r in decision.replies] == [ROUTING.rules.templates.callback_booked]
