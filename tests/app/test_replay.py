"""`kefu replay`: past customer messages through the live and a candidate FAQ, the differences counted exactly.

The fixture: faq_live has shipping_time, refund_time, invoice, courier_company; faq_candidate drops
courier_company and adds size_guide; transcripts.jsonl holds 10 customer messages in 4 conversations.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from app.cli import app
from app.knowledge import build_knowledge_base, build_routing
from app.replay import Outcome, Replayed, Version, replay, summarise
from app.settings import DEFAULT_RULES_FILE
from app.transcripts import read_transcripts

FIXTURES = Path(__file__).parent / "fixtures" / "replay"
TRANSCRIPTS = FIXTURES / "transcripts.jsonl"
ROUTING = build_routing(DEFAULT_RULES_FILE)
LIVE = Version(build_knowledge_base(FIXTURES / "faq_live", {}), ROUTING)
CANDIDATE = Version(build_knowledge_base(FIXTURES / "faq_candidate", {}), ROUTING)
runner = CliRunner()


def replayed() -> list[Replayed]:
    return list(replay(read_transcripts(TRANSCRIPTS), LIVE, CANDIDATE))


def test_every_customer_message_is_replayed_in_order_and_the_bots_ignored():
    rows = replayed()

    assert [(r.conversation_id, r.text) for r in rows][:3] == [
        ("c1", "什么时候发货"),
        ("c1", "发什么快递"),
        ("c1", "好的谢谢"),
    ]
    assert len(rows) == 10


def test_exactly_the_messages_touched_by_the_added_and_removed_entries_change():
    changed = [(r.conversation_id, r.text, r.change) for r in replayed() if r.change]

    assert changed == [
        ("c1", "发什么快递", "answer → clarify"),
        ("c1", "好的谢谢", "clarify → handoff"),  # the candidate's second unhelpful turn in a row
        ("c2", "衣服尺码怎么选", "clarify → answer"),
        ("c2", "身高170穿多大码合适，电话13987654321", "handoff → answer"),  # live: second unhelpful turn
        ("c4", "能发顺丰吗", "answer → clarify"),
    ]


def test_after_a_handoff_the_conversations_later_messages_are_with_a_person():
    c3 = [r for r in replayed() if r.conversation_id == "c3"]

    assert [r.live.describe() for r in c3] == [
        "answer invoice",
        "answer refund_time",
        "handoff → presale (human_request)",
        "with_person",
    ]
    assert all(r.change is None for r in c3)


def test_the_summary_counts_both_versions_and_masks_the_examples():
    summary = summarise(replayed(), examples=1)

    assert (summary["messages"], summary["conversations"], summary["changed"]) == (10, 4, 5)
    assert summary["changes"] == {
        "answer → clarify": 2,
        "clarify → handoff": 1,
        "clarify → answer": 1,
        "handoff → answer": 1,
    }
    counts = {"answer": 5, "suggest": 0, "clarify": 2, "handoff": 2, "with_person": 1}
    assert summary["live"]["counts"] == summary["candidate"]["counts"] == counts
    assert summary["live"]["handoffs_by_reason"] == {"unresolved_turns": 1, "human_request": 1}
    assert summary["candidate"]["handoffs_by_queue"] == {"presale": 2}
    assert summary["live"]["answer_rate"] == 0.5 and summary["live"]["handoff_rate"] == 0.2
    assert [len(e) for e in summary["examples"].values()] == [1, 1, 1, 1]
    [example] = summary["examples"]["handoff → answer"]
    assert example == {
        "conversation_id": "c2",
        "text": "身高170穿多大码合适，电话139****4321",
        "live": "handoff → presale (unresolved_turns)",
        "candidate": "answer size_guide",
    }


def test_the_same_version_twice_changes_nothing():
    summary = summarise(replay(read_transcripts(TRANSCRIPTS), LIVE, LIVE))

    assert summary["changed"] == 0 and summary["changes"] == {} and summary["examples"] == {}


def test_a_different_entry_or_queue_is_a_change_of_its_own_kind():
    def row(live: Outcome, candidate: Outcome) -> str | None:
        return Replayed("c", "text", live, candidate).change

    assert row(Outcome("answer", "a"), Outcome("answer", "b")) == "answer(a) → answer(b)"
    assert row(Outcome("handoff", None, "order"), Outcome("handoff", None, "presale")) == (
        "handoff(queue a) → handoff(queue b)"
    )
    assert row(Outcome("answer", "a"), Outcome("answer", "a", "aftersale")) == "answer → answer+handoff"
    assert row(Outcome("answer", "a", "x", "faq:answer"), Outcome("answer", "a", "x", "vip")) is None


def test_a_tsv_of_turns_is_grouped_by_session_and_ordered_by_turn(tmp_path):
    path = tmp_path / "turns.tsv"
    lines = ["context_id\tturn_in_context\ttext", "s1\t2\t发什么快递", "s2\t0\t转人工", "s1\t0\t什么时候发货"]
    path.write_text("\n".join(lines) + "\n", "utf-8")

    transcripts = read_transcripts(path)

    assert [(t.conversation_id, [turn.text for turn in t.turns]) for t in transcripts] == [
        ("s1", ["什么时候发货", "发什么快递"]),
        ("s2", ["转人工"]),
    ]


def test_a_tsv_without_a_session_column_replays_each_line_alone(tmp_path):
    path = tmp_path / "turns.tsv"
    path.write_text("text\n你们老板是谁\n你们老板是谁\n", "utf-8")

    rows = list(replay(read_transcripts(path), LIVE, LIVE))

    assert [r.live.kind for r in rows] == ["clarify", "clarify"]  # not a second unhelpful turn in a row


def test_the_command_prints_the_comparison_with_examples():
    result = runner.invoke(app, [*args(), "--examples", "1"])

    assert result.exit_code == 0, result.output
    assert "replayed 10 messages in 4 conversations" in result.output
    assert "changed: 5 of 10 messages" in result.output and "  answer → clarify: 2" in result.output
    assert "[c2] 身高170穿多大码合适，电话139****4321" in result.output
    assert "13987654321" not in result.output


def test_the_command_prints_one_json_object():
    result = runner.invoke(app, [*args(), "--json"])

    summary = json.loads(result.output)
    assert summary["changed"] == 5 and summary["candidate"]["counts"]["answer"] == 5


def test_a_broken_candidate_faq_is_refused_naming_the_version(tmp_path):
    (tmp_path / "shop.yaml").write_text("entries:\n  - id: x\n    questions: []\n", "utf-8")

    result = runner.invoke(app, ["replay", str(TRANSCRIPTS), "--faq", str(tmp_path)])

    assert result.exit_code == 1 and "candidate version" in result.output


def test_a_file_that_is_no_transcript_is_refused(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("just some notes\n", "utf-8")

    result = runner.invoke(app, ["replay", str(path), *args()[2:]])

    assert result.exit_code == 1 and "'text' column" in result.output


def args() -> list[str]:
    return [
        "replay",
        str(TRANSCRIPTS),
        "--faq",
        str(FIXTURES / "faq_candidate"),
        "--rules",
        str(DEFAULT_RULES_FILE),
        "--live-faq",
        str(FIXTURES / "faq_live"),
        "--live-rules",
        str(DEFAULT_RULES_FILE),
    ]
