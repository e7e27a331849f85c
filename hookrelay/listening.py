"""The listening socket ``serve`` and ``emulate`` hand to uvicorn."""

from __future__ import annotations

import ipaddress
import socket

from hookrelay.exceptions import ConfigError

__all__ = ["is_loopback", "listen", "url_host"]

_BACKLOG = 2048  # uvicorn's default; it calls listen() again with its own when it starts


def is_loopback(host: str) -> bool:
    """Whether a server listening on ``host`` is reachable from this machine only."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


def listen(host: str, port: int) -> socket.socket:
    """Bind here, so a busy port is one clear ConfigError line rather than a traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
    # without it every answer waits ~40 ms on Nagle and delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        # Listening now, not when uvicorn starts: the start-up lines print this address, and a
        # client that reads them and connects at once must be queued, not refused.
        sock.listen(_BACKLOG)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def url_host(host: str) -> str:
    """The host to put in a URL that reaches a server listening on ``host`` from this machine."""
    if host in {"0.0.0.0", "::", ""}:  # noqa: S104 (naming the wildcard, not binding to it)
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
