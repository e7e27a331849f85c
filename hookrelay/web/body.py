"""Reading a request body as a stream, refusing it as soon as it passes the limit.

A declared ``Content-Length`` over the limit is refused before a byte is read; a chunked body is
read chunk by chunk and refused the moment it passes the limit, so an oversized body never sits
whole in memory (at most the limit plus one chunk).
"""

from __future__ import annotations

from fastapi import Request

from hookrelay.exceptions import BodyTooLarge, PayloadError

__all__ = ["read_limited_body"]


async def read_limited_body(request: Request, limit: int) -> bytes:
    """The request's body, or ``BodyTooLarge`` once it is over ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise PayloadError("Content-Length is not a number")
        if int(declared) > limit:
            raise BodyTooLarge(f"body of {int(declared)} bytes is over the {limit}-byte limit")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(f"body is over the {limit}-byte limit")
    return bytes(body)
