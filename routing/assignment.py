"""Pick the agent for a waiting chat, as a pipeline of small steps:
online agents → with the queue's skills → with free capacity → the customer's last agent if
among them (sticky routing) → a pluggable selector.

The claim itself is the caller's (an atomic conditional update in the store), so two instances
or two agents can never own one chat.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(slots=True)
class AgentLoad:
    agent_id: str
    skills: frozenset[str]
    capacity: int
    active: int  # chats the agent owns now
    status: str = "online"
    last_assigned_at: datetime | None = None
    name: str = ""

    @property
    def free(self) -> int:
        return self.capacity - self.active


Selector = Callable[[Sequence[AgentLoad]], AgentLoad | None]


def online(agents: Iterable[AgentLoad]) -> list[AgentLoad]:
    return [a for a in agents if a.status == "online"]


def skilled(agents: Iterable[AgentLoad], skills: Iterable[str]) -> list[AgentLoad]:
    """Agents with at least one of the queue's skills (a queue without skills takes anyone)."""
    wanted = frozenset(skills)
    return [a for a in agents if not wanted or a.skills & wanted]


def with_capacity(agents: Iterable[AgentLoad]) -> list[AgentLoad]:
    return [a for a in agents if a.free > 0]


def least_busy(agents: Sequence[AgentLoad]) -> AgentLoad | None:
    """The smallest share of capacity in use; ties go to whoever was assigned longest ago."""
    return min(
        agents,
        key=lambda a: (a.active / a.capacity, a.active, a.last_assigned_at.timestamp() if a.last_assigned_at else 0.0),
        default=None,
    )


class RoundRobin:
    """Each eligible agent in turn, by id, remembering where it stopped."""

    def __init__(self) -> None:
        self._last: str | None = None

    def __call__(self, agents: Sequence[AgentLoad]) -> AgentLoad | None:
        if not agents:
            return None
        ordered = sorted(agents, key=lambda a: a.agent_id)
        after = itertools.dropwhile(lambda a: self._last is not None and a.agent_id <= self._last, ordered)
        chosen = next(after, ordered[0])
        self._last = chosen.agent_id
        return chosen


SELECTORS: dict[str, Callable[[], Selector]] = {"least_busy": lambda: least_busy, "round_robin": RoundRobin}


def choose_agent(
    agents: Iterable[AgentLoad], skills: Iterable[str], selector: Selector, *, prefer: str | None = None
) -> AgentLoad | None:
    """The selector's pick among eligible agents; `prefer` (the customer's last agent) wins if eligible."""
    eligible = with_capacity(skilled(online(agents), skills))
    sticky = next((a for a in eligible if a.agent_id == prefer), None)
    return sticky or selector(eligible)
