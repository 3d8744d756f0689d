"""Dependencies as Annotated aliases: handlers declare what they need, tests override them."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from app.agents import agent_for_token
from app.services import Services
from app.store.tables import Agent

_bearer = HTTPBearer(auto_error=False)


async def get_services(connection: HTTPConnection) -> Services:
    """`async` so FastAPI calls it in place: a plain `def` dependency costs a trip to its thread pool."""
    return connection.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def require_ops(
    services: ServicesDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """The ops token, compared in constant time; without one configured (development) the API is open."""
    token = services.settings.ops.token
    if token is None:
        return
    given = credentials.credentials if credentials else ""
    if not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
        raise HTTPException(401, detail="ops token missing or wrong", headers={"WWW-Authenticate": "Bearer"})


OpsAuth = Depends(require_ops)


async def current_agent(
    services: ServicesDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Agent:
    """The agent whose API token is in the Authorization header."""
    if credentials is None:
        raise HTTPException(401, detail="agent token missing", headers={"WWW-Authenticate": "Bearer"})
    async with services.sessions() as session:
        agent = await agent_for_token(session, credentials.credentials)
    if agent is None:
        raise HTTPException(401, detail="agent token unknown or disabled", headers={"WWW-Authenticate": "Bearer"})
    return agent


AgentDep = Annotated[Agent, Depends(current_agent)]
