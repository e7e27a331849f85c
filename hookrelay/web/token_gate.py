"""Who may queue through the Tracker-compatible ingest: the door is not open to anyone's token.

``/services/v3|v4|v5/source_commits`` and ``github_commits?token=`` take, in this order:

1. a token hookrelay knows (``HOOKRELAY_TRACKER_TOKEN``, a route's token,
   ``HOOKRELAY_INGEST_TOKENS``);
2. a token the Tracker target confirms (``hookrelay.core.token_check``: v5 ``GET /me``, v3
   ``GET /projects``), the answer remembered for ``HOOKRELAY_INGEST_TOKEN_CACHE_SECONDS`` under
   the token's fingerprint only; a token the target refuses (401/403) is answered 401 with
   Tracker's words, and nothing is queued;
3. when the target cannot say (down, 5xx, no ``/me``), a token may queue only while its pending
   bytes in the queue stay within ``HOOKRELAY_INGEST_UNCONFIRMED_PENDING_BYTES`` (429 past it):
   a Tracker outage loses no old script's commit, and a stranger cannot fill the disk.

A check is one GET with a whole-request deadline, no redirects, its answer read up to 64 KB;
at most a few run at once, so strangers cannot turn the relay into a load on Tracker.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable

import httpx
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from hookrelay.core.token_check import (
    Confirmed,
    Denied,
    TokenVerdict,
    Unconfirmed,
    build_token_check,
    interpret_token_check,
)
from hookrelay.core.tracker_api import (
    MAX_COMMIT_ID_LENGTH,
    MAX_TOKEN_LENGTH,
    TrackerTarget,
    is_usable_commit_id,
    is_usable_token,
    token_fingerprint,
)
from hookrelay.core.webhooks import Push
from hookrelay.exceptions import PayloadError, TokenRefused, TooMuchPending
from hookrelay.queue.store import QueueStore
from hookrelay.settings import Settings

__all__ = [
    "TokenGate",
    "admit_push",
    "get_token_gate",
    "refuse_unusable_commit_ids",
    "refuse_unusable_token",
]

CHECK_WITHIN = 5.0
"""Seconds a token check may take, from connect to the last byte read."""

_MAX_ANSWER = 64 * 1024
_MAX_CACHED = 10_000
_CONCURRENT_CHECKS = 8
_UNSURE_FOR = 30.0  # a refusal or an outage is remembered briefly: either may change soon


class TokenGate:
    """Admits a caller's token to the queue, or raises ``TokenRefused`` / ``TooMuchPending``."""

    def __init__(
        self,
        store: QueueStore,
        *,
        known_tokens: tuple[str, ...] = (),
        unconfirmed_pending_bytes: int = 4 * 1024 * 1024,
        cache_seconds: float = 300.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._known = frozenset(token_fingerprint(t) for t in known_tokens if t)
        self._share = unconfirmed_pending_bytes
        self._cache_seconds = cache_seconds
        self._transport = transport
        self._clock = clock
        self._cache: OrderedDict[tuple[str, str], tuple[TokenVerdict, float]] = OrderedDict()
        self._checks = asyncio.Semaphore(_CONCURRENT_CHECKS)

    @classmethod
    def from_settings(cls, settings: Settings, store: QueueStore) -> TokenGate:
        """The gate the settings describe: their tokens are known, their limits apply."""
        tokens = [settings.tracker_token, *settings.ingest_tokens]
        tokens += [route.token for route in settings.routes.values()]
        return cls(
            store,
            known_tokens=tuple(t.get_secret_value() for t in tokens if t is not None),
            unconfirmed_pending_bytes=settings.ingest_unconfirmed_pending_bytes,
            cache_seconds=settings.ingest_token_cache_seconds,
        )

    async def admit(self, token: str, target: TrackerTarget, incoming_bytes: int) -> bool:
        """Let ``token`` queue ``incoming_bytes`` more for ``target``, or raise why not; False
        when it is let in on its unconfirmed share (what it queues must be counted at once)."""
        fingerprint = token_fingerprint(token)
        if fingerprint in self._known:
            return True
        verdict = await self.verdict(token, target)
        if isinstance(verdict, Confirmed):
            return True
        if isinstance(verdict, Denied):
            raise TokenRefused(verdict.reason)
        pending = await run_in_threadpool(self._store.pending_bytes, fingerprint)
        if pending + incoming_bytes > self._share:
            raise TooMuchPending(
                f"token {fingerprint} could not be confirmed ({verdict.reason}) and already has"
                f" {pending} bytes pending, its share is {self._share}; try again later"
            )
        return False

    async def verdict(self, token: str, target: TrackerTarget) -> TokenVerdict:
        """What the target says of ``token``, from the cache while it is fresh."""
        key = (target.base_url, token_fingerprint(token))
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        async with self._checks:
            verdict = await self._ask(token, target)
        lifetime = self._cache_seconds
        if not isinstance(verdict, Confirmed):
            lifetime = min(lifetime, _UNSURE_FOR)
        self._cache[key] = (verdict, self._clock() + lifetime)
        self._cache.move_to_end(key)
        while len(self._cache) > _MAX_CACHED:
            self._cache.popitem(last=False)
        return verdict

    async def _ask(self, token: str, target: TrackerTarget) -> TokenVerdict:
        request = build_token_check(target, token)
        try:
            async with (
                asyncio.timeout(CHECK_WITHIN),
                httpx.AsyncClient(
                    timeout=CHECK_WITHIN,
                    follow_redirects=False,
                    transport=self._transport,
                    headers={"User-Agent": "hookrelay"},
                ) as client,
                client.stream(request.method, request.url, headers=request.headers) as answer,
            ):
                body = bytearray()
                async for chunk in answer.aiter_bytes():
                    body += chunk
                    if len(body) >= _MAX_ANSWER:
                        break
                return interpret_token_check(answer.status_code, answer.headers, bytes(body))
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            return Unconfirmed(f"the Tracker target could not be asked: {type(exc).__name__}")


def get_token_gate(request: Request) -> TokenGate:
    """The application's gate, made on first use from the app's settings and store."""
    gate: TokenGate | None = getattr(request.app.state, "token_gate", None)
    if gate is None:
        context = request.app.state.relay
        gate = TokenGate.from_settings(context.settings, context.store)
        request.app.state.token_gate = gate
    return gate


def refuse_unusable_token(token: str | None, where: str = "token") -> None:
    """``PayloadError`` (400) for a token that could never travel to Tracker: whitespace,
    control or non-ASCII characters, or over 256 characters (``is_usable_token``). An empty
    one (``?token=``) is no token, as before: the route's token is used."""
    if token and not is_usable_token(token):
        # The message names the fingerprint, never the value: it may be someone's real token.
        raise PayloadError(
            f"{where} is not 1 to {MAX_TOKEN_LENGTH} visible ASCII characters without spaces"
            f" (fingerprint {token_fingerprint(token)})"
        )


def refuse_unusable_commit_ids(push: Push) -> None:
    """``PayloadError`` (400) for a push holding a commit id over 255 characters or not
    printable: no forge makes one, and no part of such a push is queued."""
    for number, commit in enumerate(push.commits, 1):
        if not is_usable_commit_id(commit.id):
            raise PayloadError(
                f"commit {number} of the push has an id of {len(commit.id)} characters;"
                f" an id is 1 to {MAX_COMMIT_ID_LENGTH} printable characters"
            )


async def admit_push(request: Request, push: Push, token: str | None, body_bytes: int) -> bool:
    """The door for a push's ``?token=`` (its commit ids were checked already); False when the
    token is let in on its unconfirmed share (``TokenGate.admit``)."""
    if token and push.commits:
        context = request.app.state.relay
        target = context.routing.route_for(push.repository).target
        return await get_token_gate(request).admit(token, target, body_bytes)
    return True
