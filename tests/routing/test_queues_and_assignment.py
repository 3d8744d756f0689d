"""Queue order with aging, positions and ETA; the assignment pipeline and its selectors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from routing.assignment import AgentLoad, RoundRobin, choose_agent, least_busy
from routing.queues import Waiting, eta_minutes, ordered, positions

NOW = datetime(2026, 11, 11, 0, 30, tzinfo=UTC)


def waiting(cid: str, *, level="L1", priority=10, minutes=0, queue="presale") -> Waiting:
    return Waiting(cid, queue, level, priority, NOW - timedelta(minutes=minutes))


def test_higher_levels_go_first_whatever_their_wait():
    chats = [waiting("old-l1", minutes=60), waiting("new-l3", level="L3", priority=100)]
    assert [c.conversation_id for c in ordered(chats, now=NOW)] == ["new-l3", "old-l1"]


def test_within_a_level_priority_then_longest_wait():
    chats = [waiting("a", minutes=1), waiting("vip", priority=30), waiting("b", minutes=2)]
    assert [c.conversation_id for c in ordered(chats, now=NOW)] == ["vip", "b", "a"]


def test_aging_lets_a_long_wait_pass_a_newer_higher_priority():
    chats = [waiting("vip-new", priority=30), waiting("waited-25-min", priority=10, minutes=25)]
    assert ordered(chats, now=NOW)[0].conversation_id == "waited-25-min"
    assert ordered(chats, now=NOW, aging_per_minute=0)[0].conversation_id == "vip-new"


def test_positions_count_within_each_queue():
    chats = [waiting("a", minutes=3), waiting("b", minutes=2), waiting("c", minutes=1, queue="aftersale")]
    assert positions(chats, now=NOW) == {"a": 1, "b": 2, "c": 1}


def test_eta_follows_recent_throughput_and_falls_back_without_history():
    assert eta_minutes(3, served_per_minute=1.5, fallback_minutes_per_chat=5) == 2
    assert eta_minutes(3, served_per_minute=0, fallback_minutes_per_chat=2) == 6


def agent(aid: str, *, skills=("presale",), capacity=5, active=0, status="online") -> AgentLoad:
    return AgentLoad(aid, frozenset(skills), capacity, active, status)


def test_only_online_skilled_agents_with_free_capacity_are_chosen():
    agents = [
        agent("offline", status="offline"),
        agent("away", status="away"),
        agent("wrong-skill", skills=("aftersale",)),
        agent("full", capacity=2, active=2),
        agent("ok", active=4),
    ]
    assert choose_agent(agents, ["presale"], least_busy).agent_id == "ok"


def test_nobody_fits_means_no_agent():
    assert choose_agent([agent("full", capacity=1, active=1)], ["presale"], least_busy) is None


def test_least_busy_prefers_the_smallest_share_of_capacity():
    agents = [agent("half", capacity=4, active=2), agent("third", capacity=3, active=1)]
    assert least_busy(agents).agent_id == "third"


def test_round_robin_takes_turns():
    pick = RoundRobin()
    agents = [agent("b"), agent("a"), agent("c")]
    assert [pick(agents).agent_id for _ in range(4)] == ["a", "b", "c", "a"]


def test_a_returning_customer_gets_their_last_agent_when_eligible():
    agents = [agent("busy-last", active=4), agent("idle")]
    assert choose_agent(agents, ["presale"], least_busy, prefer="busy-last").agent_id == "busy-last"
    full = [agent("full-last", capacity=1, active=1), agent("idle")]
    assert choose_agent(full, ["presale"], least_busy, prefer="full-last").agent_id == "idle"
