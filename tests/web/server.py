"""A real uvicorn serving a hookrelay app on a free loopback port, in a thread."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import uvicorn
from fastapi import FastAPI

from hookrelay.settings import Settings
from hookrelay.web.connections import server_config
from tests.support.waiting import wait_until_started


@dataclass(frozen=True)
class RunningServer:
    """Where a test reaches the server."""

    url: str
    client: httpx.Client


def _free_socket() -> socket.socket:
    # IPPROTO_TCP so asyncio sets TCP_NODELAY, as hookrelay serve's listener does.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def running_app(app: FastAPI, settings: Settings | None = None) -> Iterator[RunningServer]:
    """Serve ``app`` with uvicorn on 127.0.0.1 until the block ends; with ``settings``, as
    ``hookrelay serve`` configures uvicorn (timeouts, connection cap)."""
    sock = _free_socket()
    port = sock.getsockname()[1]
    if settings is None:
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
    else:
        config = server_config(app, settings, access_log=False)
    server = uvicorn.Server(config)
    # Signal handlers belong to the main thread; a server in a thread must not install them.
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until_started(server, thread, 10, "uvicorn starting")
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            yield RunningServer(url, client)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
