"""The processes a benchmark measures or talks to, started the way a user starts them.

``hookrelay serve`` and ``hookrelay worker`` run as subprocesses with ``HOOKRELAY_*`` settings
in their environment (the public entry points, whatever their insides become), next to the
bare-endpoint baseline and the Tracker stand-in. Each is stopped with SIGTERM (then SIGKILL)
when its ``with`` block ends; its output goes to a log file, quoted when it fails to start.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.harness import REPO

START_DEADLINE = 60.0


@dataclass
class Process:
    """A running subprocess: its id, the URL it answers on (if any), and its log file."""

    popen: subprocess.Popen[bytes]
    url: str
    log: Path

    @property
    def pid(self) -> int:
        """The process id (of the Python process itself: no shell in between)."""
        return self.popen.pid

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the process's output."""
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _clean_environment(settings: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKRELAY_")}
    env["PYTHONPATH"] = str(REPO)
    env.update(settings)
    return env


@contextmanager
def running(
    argv: list[str], folder: Path, name: str, env: dict[str, str], url: str = ""
) -> Iterator[Process]:
    """Start ``argv``; wait until ``url``/healthz answers 200 (when there is a URL); stop it."""
    log = folder / f"{name}-{uuid.uuid4().hex[:6]}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=folder, start_new_session=True
        )
    process = Process(popen, url, log)
    try:
        if url:
            _wait_healthy(process, name)
        yield process
    finally:
        stop(process)


def _wait_healthy(process: Process, name: str) -> None:
    deadline = time.monotonic() + START_DEADLINE
    with httpx.Client(timeout=2.0) as client:
        while True:
            if process.popen.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {process.popen.returncode} before answering:\n"
                    + process.log_tail()
                )
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{process.url}/healthz").status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} did not answer /healthz within {START_DEADLINE} s")
            time.sleep(0.05)


def stop(process: Process) -> None:
    """SIGTERM the process (ours, by its id), then SIGKILL it if it has not gone in 20 s."""
    if process.popen.poll() is None:
        process.popen.send_signal(signal.SIGTERM)
        try:
            process.popen.wait(20)
        except subprocess.TimeoutExpired:
            process.popen.kill()
            process.popen.wait(10)


# Settings that keep a receiver from delivering while its receiving is measured: a Tracker
# that refuses connections at once, retries an hour away, and idle workers that look once an
# hour. (A worker woken by each push would post each commit once, then leave it waiting.)
NOT_DELIVERING = {
    "HOOKRELAY_TRACKER_URL": "http://127.0.0.1:9/services/v5",
    "HOOKRELAY_TRACKER_TOKEN": "0123456789abcdef0123456789abcdef",
    "HOOKRELAY_POLL_INTERVAL": "3600",
    "HOOKRELAY_RETRY_FIRST_DELAY": "3600",
}


@contextmanager
def hookrelay_serve(folder: Path, database_url: str, settings: dict[str, str]) -> Iterator[Process]:
    """``hookrelay serve`` on a free loopback port, with ``settings`` (HOOKRELAY_* names)."""
    port = free_port()
    env = _clean_environment(
        {
            "HOOKRELAY_DATABASE_URL": database_url,
            "HOOKRELAY_HOST": "127.0.0.1",
            "HOOKRELAY_PORT": str(port),
            **settings,
        }
    )
    argv = [sys.executable, "-m", "hookrelay", "serve"]
    with running(argv, folder, "serve", env, f"http://127.0.0.1:{port}") as process:
        yield process


@contextmanager
def hookrelay_worker(
    folder: Path, database_url: str, settings: dict[str, str]
) -> Iterator[Process]:
    """``hookrelay worker`` on ``database_url``, with ``settings`` (HOOKRELAY_* names)."""
    env = _clean_environment({"HOOKRELAY_DATABASE_URL": database_url, **settings})
    argv = [sys.executable, "-m", "hookrelay", "worker"]
    with running(argv, folder, "worker", env) as process:
        yield process


@contextmanager
def bare_endpoint(folder: Path, secret: str) -> Iterator[Process]:
    """The ingest baseline (``bench/bare_endpoint.py``) on a free loopback port."""
    port = free_port()
    argv = [sys.executable, str(REPO / "bench" / "bare_endpoint.py"), "--port", str(port)]
    argv += ["--secret", secret]
    env = _clean_environment({})
    with running(argv, folder, "bare", env, f"http://127.0.0.1:{port}") as process:
        yield process


@dataclass
class StandIn:
    """The running Tracker stand-in (``bench/http_load.py standin``) and its controls."""

    process: Process
    url: str
    http: httpx.Client

    def _get(self, path: str) -> int:
        return int(self.http.get(f"{self.url}{path}").text)

    def count(self) -> int:
        """POSTs received since the last reset."""
        return self._get("/count")

    def wait_for(self, count: int, seconds: float) -> int:
        """The count, once it reaches ``count`` or after ``seconds`` (the stand-in waits: no
        polling load on it or on the machine while a worker posts)."""
        answer = self.http.get(
            f"{self.url}/wait", params={"count": count, "seconds": seconds}, timeout=seconds + 10
        )
        return int(answer.text)

    def reset(self) -> None:
        """Zero the count."""
        self._get("/reset")

    def delay(self, seconds: float) -> None:
        """Answer each POST after ``seconds``."""
        self._get(f"/delay?seconds={seconds}")


@contextmanager
def tracker_stand_in(folder: Path) -> Iterator[StandIn]:
    """Start the stand-in on a free port; read the port from its first line."""
    port = free_port()
    argv = [sys.executable, str(REPO / "bench" / "http_load.py"), "standin", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with running(argv, folder, "standin", _clean_environment({})) as process:
        deadline = time.monotonic() + START_DEADLINE
        while True:
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"{url}/count", timeout=2)
                break
            if process.popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the Tracker stand-in did not start:\n" + process.log_tail())
            time.sleep(0.05)
        with httpx.Client(timeout=10) as http:
            yield StandIn(process, url, http)


def rss_bytes(pid: int) -> tuple[int, int]:
    """The process's resident set now and its peak (``VmRSS``, ``VmHWM``), in bytes."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in {"VmRSS", "VmHWM"}:
            fields[name] = int(value.split()[0]) * 1024
    return fields["VmRSS"], fields["VmHWM"]


def reset_peak_rss(pid: int) -> bool:
    """Reset the kernel's peak-RSS mark of ``pid`` (``clear_refs`` 5); False if not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@contextmanager
def postgres_database(folder: Path) -> Iterator[str]:
    """A fresh schema on ``HOOKRELAY_TEST_POSTGRES_URL`` (dropped afterwards), as the tests use."""
    from tests.support.databases import POSTGRES_ENV, fresh_database

    if not os.environ.get(POSTGRES_ENV, "").strip():
        raise LookupError(f"{POSTGRES_ENV} is not set")
    with fresh_database("postgres", folder) as url:
        yield url
