"""What the emulator's routes share: the world they work on and the token check."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from hookrelay.emulator.world import World

__all__ = ["WorldDep", "require_query_token", "require_token"]


def _world(request: Request) -> World:
    world: World = request.app.state.world
    return world


def _check(request: Request, offered: str | None) -> None:
    expected: str = request.app.state.token
    if offered is None or not hmac.compare_digest(offered.encode(), expected.encode()):
        raise HTTPException(status_code=401, detail="Access Denied.")


def require_token(request: Request) -> None:
    """Let a request through only with the accepted token in ``X-TrackerToken``."""
    _check(request, request.headers.get("x-trackertoken"))


def require_query_token(request: Request) -> None:
    """Let a request through with the token in ``?token=`` (GitHub's hook URL) or the header."""
    _check(request, request.query_params.get("token") or request.headers.get("x-trackertoken"))


WorldDep = Annotated[World, Depends(_world)]
