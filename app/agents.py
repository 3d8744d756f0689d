"""Agent accounts: created by ops with the CLI, authenticated by a token stored only as a hash."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.store.tables import Agent, AgentRole

ROLES = (AgentRole.AGENT, AgentRole.SUPERVISOR, AgentRole.OPS)


def hash_token(token: str) -> str:
    """Tokens are 256 random bits, so one SHA-256 is enough to store them safely."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "kfa_" + secrets.token_urlsafe(32)


async def create_agent(
    session: AsyncSession, *, username: str, name: str, skills: list[str], capacity: int, role: str
) -> tuple[Agent, str]:
    """The new agent and its token, which is shown once and never stored."""
    token = new_token()
    agent = Agent(
        username=username, name=name, skills=skills, capacity=capacity, role=role, token_hash=hash_token(token)
    )
    session.add(agent)
    await session.flush()
    return agent, token


async def agent_for_token(session: AsyncSession, token: str) -> Agent | None:
    agent = await session.scalar(select(Agent).where(Agent.token_hash == hash_token(token)))
    return agent if agent is not None and not agent.disabled else None
