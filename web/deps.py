"""Request dependencies: the database session, settings and the Temporal client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.client import Client

from byok.db import session_scope
from byok.settings import Settings
from byok.temporal import connect


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.engine) as session:
        yield session


async def get_temporal(request: Request) -> Client:
    """One client per app, connected on first use (the app starts even if Temporal is down)."""
    if request.app.state.temporal is None:
        try:
            request.app.state.temporal = await connect(request.app.state.settings)
        except RuntimeError:
            raise HTTPException(503, "the workflow service (Temporal) is not reachable; "
                                     "try again shortly") from None
    return request.app.state.temporal


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session)]
TemporalDep = Annotated[Client, Depends(get_temporal)]


class LazyTemporal:
    """The Temporal client, connected only when called (after the input was validated)."""

    def __init__(self, request: Request):
        self.request = request

    async def __call__(self) -> Client:
        return await get_temporal(self.request)


LazyTemporalDep = Annotated[LazyTemporal, Depends(LazyTemporal)]
