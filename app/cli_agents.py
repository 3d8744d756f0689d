"""`kefu agents …`: ops create, list and disable the people who take handed-off chats."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.agents import ROLES, create_agent
from app.settings import get_settings
from app.store.database import create_engine, session_factory
from app.store.tables import Agent

app = typer.Typer(help="Manage agents (客服).", no_args_is_help=True)
T = TypeVar("T")


def _with_session(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(get_settings().database_url)
        try:
            async with session_factory(engine).begin() as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@app.command()
def add(
    username: Annotated[str, typer.Argument(help="Login name, e.g. zhangsan")],
    name: Annotated[str, typer.Option(help="Display name shown to customers, e.g. 张三")],
    skills: Annotated[str, typer.Option(help="Comma-separated queue skills, e.g. presale,aftersale")] = "presale",
    capacity: Annotated[int, typer.Option(min=1, help="Chats at once")] = 5,
    role: Annotated[str, typer.Option(help="agent, supervisor or ops")] = "agent",
) -> None:
    """Create an agent and print its API token once (only a hash is stored)."""
    if role not in ROLES:
        raise typer.BadParameter(f"role must be one of {', '.join(ROLES)}", param_hint="--role")
    skill_list = [s.strip() for s in skills.split(",") if s.strip()]

    async def work(session: AsyncSession) -> str:
        _, token = await create_agent(
            session, username=username, name=name, skills=skill_list, capacity=capacity, role=role
        )
        return token

    try:
        token = _with_session(work)
    except IntegrityError:
        typer.echo(f"agent '{username}' exists already", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"created {role} {username} ({name}), skills {','.join(skill_list) or '-'}, capacity {capacity}")
    typer.echo(f"token (shown once, keep it safe): {token}")


@app.command("list")
def list_agents() -> None:
    """Every agent with role, skills, capacity and presence."""

    async def work(session: AsyncSession) -> list[Agent]:
        return list(await session.scalars(select(Agent).order_by(Agent.username)))

    for agent in _with_session(work):
        state = "disabled" if agent.disabled else agent.status
        typer.echo(
            f"{agent.username:<16} {agent.name:<8} {agent.role:<10} {','.join(agent.skills):<24} "
            f"capacity {agent.capacity:<3} {state}"
        )


@app.command()
def disable(username: Annotated[str, typer.Argument(help="The agent's login name")]) -> None:
    """Stop an agent from logging in or receiving chats; their token stops working."""

    async def work(session: AsyncSession) -> bool:
        agent = await session.scalar(select(Agent).where(Agent.username == username))
        if agent is None:
            return False
        agent.disabled, agent.status = True, "offline"
        return True

    if not _with_session(work):
        typer.echo(f"no agent '{username}'", err=True)
        raise typer.Exit(1)
    typer.echo(f"disabled {username}")
