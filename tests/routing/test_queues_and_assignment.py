"""The ETA a waiting customer is told; the assignment pipeline and its selectors.

The line's order is the database's: tests/app/test_waiting_line.py."""

from __future__ import annotations

from routing.assignment import AgentLoad, RoundRobin, choose_agent, least_busy
from routing.queues import eta_minutes


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
