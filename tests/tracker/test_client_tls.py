"""The Tracker client verifies TLS: a certificate it cannot trust gets no token and no commit."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from hookrelay.core.source_commit import SourceCommit
from hookrelay.core.tracker_api import Delivered, RetryLater, TrackerTarget
from hookrelay.tracker.client import TrackerClient, make_http_client

TOKEN = "0123456789abcdef0123456789abcdef"
COMMIT = SourceCommit.of(commit_id="1", message="[#187000001]", author="Scotty")


class _Accepting(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[str] = []  # noqa: RUF012 (one list per test run, read after the server stops)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        _Accepting.seen.append(self.headers.get("X-TrackerToken") or "")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the system's openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def https_url(certificate: tuple[Path, Path]) -> Iterator[str]:
    """An HTTPS server on loopback presenting the self-signed certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Accepting)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    _Accepting.seen = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/services/v5"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_untrusted_certificate_is_not_sent_the_token(https_url: str) -> None:
    """hookrelay's client refuses a certificate no CA vouches for: retry later, nothing sent."""
    with make_http_client() as http:
        outcome = TrackerClient(http, TrackerTarget.parse(https_url), TOKEN).post(COMMIT)
    assert isinstance(outcome, RetryLater)
    assert "CERTIFICATE_VERIFY_FAILED" in outcome.reason
    assert _Accepting.seen == []


def test_trusted_certificate_delivers(https_url: str, certificate: tuple[Path, Path]) -> None:
    """The same server, once its certificate is trusted, takes the commit (the server works)."""
    trusted = ssl.create_default_context(cafile=str(certificate[0]))
    with httpx.Client(verify=trusted) as http:
        outcome = TrackerClient(http, TrackerTarget.parse(https_url), TOKEN).post(COMMIT)
    assert outcome == Delivered(200)
    assert _Accepting.seen == [TOKEN]
