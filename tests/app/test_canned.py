"""快捷回复: found by shortcut or words, filled in for the chat, suggested by intent and emotion."""

from __future__ import annotations

from app.engine.canned import ChatFacts, fitting, search
from routing.rules import CannedReply

REPLIES = (
    CannedReply(shortcut="track", text="我帮您查了{order_id}的物流。", intents=("logistics",)),
    CannedReply(shortcut="sorry", text="非常抱歉，{customer_name}。", emotions=("angry",)),
    CannedReply(shortcut="hi", text="您好，我是{agent_name}。"),
)
FACTS = ChatFacts("王女士", "4408123567890", "张三", "logistics", "calm")


def test_a_shortcut_prefix_finds_the_reply_filled_in():
    assert search(REPLIES, "/tr", FACTS) == [{"shortcut": "track", "text": "我帮您查了4408123567890的物流。"}]


def test_words_search_the_reply_texts():
    assert [r["shortcut"] for r in search(REPLIES, "抱歉", FACTS)] == ["sorry"]


def test_missing_facts_fall_back_to_polite_words():
    [hit] = search(REPLIES, "/sorry", ChatFacts(None, None, "张三", None, None))
    assert hit["text"] == "非常抱歉，亲。"


def test_replies_are_suggested_for_the_chats_intent_and_emotion():
    assert fitting(REPLIES, FACTS) == ["我帮您查了4408123567890的物流。"]
    angry = ChatFacts("王女士", None, "张三", None, "angry")
    assert fitting(REPLIES, angry) == ["非常抱歉，王女士。"]
