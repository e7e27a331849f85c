"""``hookrelay serve`` as a real child process, its JSON log read as it is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest


@dataclass
class ServeProcess:
    """A running ``hookrelay serve`` and the JSON log lines it has written so far."""

    process: subprocess.Popen[bytes]
    lines: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def logged(self, message_part: str) -> bool:
        """Whether some log line so far contains ``message_part``."""
        return any(message_part in line.get("message", "") for line in list(self.lines))


def _read_log(serve: ServeProcess) -> None:
    assert serve.process.stderr is not None
    for raw in serve.process.stderr:
        try:
            serve.lines.append(json.loads(raw))
        except ValueError:
            serve.lines.append({"message": raw.decode("utf-8", "replace")})


@contextmanager
def hookrelay_serve(env: dict[str, str], *args: str) -> Iterator[ServeProcess]:
    """Start ``hookrelay serve --port 0 --log-format json``; wait until /healthz answers."""
    command = [sys.executable, "-m", "hookrelay", "serve", "--port", "0", "--log-format", "json"]
    process = subprocess.Popen(
        [*command, *args],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    serve = ServeProcess(process)
    reader = threading.Thread(target=_read_log, args=(serve,), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while not serve.url:
            started = [line for line in list(serve.lines) if line.get("event") == "started"]
            if started and "port" in started[0]:
                serve.url = f"http://127.0.0.1:{started[0]['port']}"
            elif process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"hookrelay serve did not start: {serve.lines}")
            else:
                time.sleep(0.05)
        while True:
            try:
                if httpx.get(f"{serve.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield serve
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        reader.join(5)
        if process.stderr is not None:
            process.stderr.close()
