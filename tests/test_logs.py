"""Logs: one line per event, text or JSON, and no token or secret ever written."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hookrelay.logs import REDACTED, configure_logging
from tests.e2e.process import hookrelay_serve
from tests.support.waiting import wait_until


def fail(exc: Exception) -> None:
    raise exc


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, list[logging.Handler]]]:
    """Restore the root logger's handlers and level after a test reconfigures it."""
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    stream = io.StringIO()
    yield stream, saved
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved:
        root.addHandler(handler)
    root.setLevel(level)


@pytest.mark.parametrize(
    ("message", "args", "leak"),
    [
        ("token is %s", ("t0k3n-configured",), "t0k3n-configured"),
        ("secret %s in a sentence", ("s3cr3t-configured",), "s3cr3t-configured"),
        ('POST /services/v3/github_commits?token=%s HTTP/1.1" 202', ("caller-tok",), "caller-tok"),
        ("url %s", ("http://x/y?a=1&token=another-tok&b=2",), "another-tok"),
        ("headers %s", ({"X-TrackerToken": "header-tok"},), "header-tok"),
        ("Authorization: Bearer %s", ("bearer-tok",), "bearer-tok"),
        ('POST /github?%%74oken=%s HTTP/1.1" 202', ("encoded-name-tok",), "encoded-name-tok"),
        ("url %s", ("http://x/y?API_TOKEN=upper-tok",), "upper-tok"),
        ('POST /github?token=%s HTTP/1.1" 202', ("abc;SEMICOLON-LEAK",), "SEMICOLON-LEAK"),
        ('POST /github?token=%s HTTP/1.1" 202', ('abc"QUOTE-LEAK',), "QUOTE-LEAK"),
        ('POST /github?token=%s HTTP/1.1" 202', ("abc'APOSTROPHE-LEAK",), "APOSTROPHE-LEAK"),
        ('POST /github?token=%s HTTP/1.1" 202', ("abc,COMMA-LEAK",), "COMMA-LEAK"),
        ('POST /github?token=%s HTTP/1.1" 202', ("abc?QUESTION-LEAK",), "QUESTION-LEAK"),
        ('POST /github?token=%s HTTP/1.1" 202', ("abc=EQUALS-LEAK",), "EQUALS-LEAK"),
        ('POST /github?token=%s HTTP/1.1" 202', ("abc%3BENCODED-LEAK",), "ENCODED-LEAK"),
        ('POST /github?token=%s HTTP/1.1" 202', ("abc#HASH-LEAK",), "HASH-LEAK"),
        ('POST /github?x=1;token=%s HTTP/1.1" 202', ("AFTER-SEMICOLON",), "AFTER-SEMICOLON"),
        ("url %s", ("http://x/y?+token=PLUS-NAME-LEAK",), "PLUS-NAME-LEAK"),
        ("headers %s", ({"X-TrackerToken": "abc;HEADER-LEAK"},), "HEADER-LEAK"),
    ],
    ids=[
        "configured-token",
        "configured-secret",
        "query",
        "query-middle",
        "header",
        "bearer",
        "percent-encoded-name",
        "api-token-upper-case",
        "query-semicolon",
        "query-double-quote",
        "query-apostrophe",
        "query-comma",
        "query-question-mark",
        "query-equals",
        "query-percent-encoded",
        "query-hash",
        "name-after-semicolon",
        "name-with-plus",
        "header-semicolon",
    ],
)
@pytest.mark.parametrize("log_format", ["text", "json"], ids=["text", "json"])
def test_no_token_or_secret_gets_through(
    captured: tuple[io.StringIO, list[logging.Handler]],
    log_format: str,
    message: str,
    args: tuple[object, ...],
    leak: str,
) -> None:
    """Configured secrets and credential-shaped values are replaced in every logger's output."""
    stream, _ = captured
    configure_logging(
        log_format,  # type: ignore[arg-type]
        secrets=["t0k3n-configured", "s3cr3t-configured"],
        stream=stream,
    )
    logging.getLogger("uvicorn.access").warning(message, *args)
    output = stream.getvalue()
    assert leak not in output
    assert REDACTED in output


def test_tracebacks_and_extra_fields_are_redacted(
    captured: tuple[io.StringIO, list[logging.Handler]],
) -> None:
    """A secret inside an exception message or an extra= field is replaced too."""
    stream, _ = captured
    configure_logging("json", secrets=["hunter2"], stream=stream)
    try:
        fail(RuntimeError("password hunter2 in an error"))
    except RuntimeError:
        logging.getLogger("hookrelay").exception("failed", extra={"detail": "was hunter2"})
    (line,) = stream.getvalue().splitlines()
    document = json.loads(line)
    assert "hunter2" not in line
    assert document["detail"] == f"was {REDACTED}"
    assert "RuntimeError" in document["traceback"]


def test_text_format_is_one_line_per_event(
    captured: tuple[io.StringIO, list[logging.Handler]],
) -> None:
    """A message or traceback with newlines still makes exactly one text line, fields appended."""
    stream, _ = captured
    configure_logging("text", stream=stream)
    try:
        fail(ValueError("first\nsecond"))
    except ValueError:
        logging.getLogger("hookrelay.web").exception("push\nrefused", extra={"queued": 3})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert "hookrelay.web: push\\nrefused queued=3" in lines[0]
    assert "ValueError: first\\nsecond" in lines[0]


def test_json_format_has_the_event_fields(
    captured: tuple[io.StringIO, list[logging.Handler]],
) -> None:
    """Each JSON line has time, level, logger, message and the extra fields of the event."""
    stream, _ = captured
    configure_logging("json", stream=stream)
    logging.getLogger("hookrelay.web").info("queued %d", 2, extra={"repository": "octo/cat"})
    document = json.loads(stream.getvalue())
    assert document["level"] == "info"
    assert document["logger"] == "hookrelay.web"
    assert document["message"] == "queued 2"
    assert document["repository"] == "octo/cat"
    assert document["time"].endswith("+00:00")


def test_other_query_parameters_are_kept(
    captured: tuple[io.StringIO, list[logging.Handler]],
) -> None:
    """Only the token's value goes: the parameters around it stay readable."""
    stream, _ = captured
    configure_logging("text", stream=stream)
    logging.getLogger("uvicorn.access").warning('"POST /x?a=1&token=t;k&b=2;c=3 HTTP/1.1" 202')
    assert f'"POST /x?a=1&token={REDACTED}&b=2;c=3 HTTP/1.1" 202' in stream.getvalue()


@pytest.mark.parametrize("log_format", ["text", "json"], ids=["text", "json"])
def test_nested_fields_and_stacks_are_redacted(
    captured: tuple[io.StringIO, list[logging.Handler]], log_format: str
) -> None:
    """Strings inside dict and list fields, and a logged stack, are redacted in either format."""
    stream, _ = captured
    configure_logging(log_format, secrets=["hunter2"], stream=stream)  # type: ignore[arg-type]
    logging.getLogger("hookrelay").warning(
        "event",
        extra={"request": {"url": "/x?token=nested;LEAK", "tries": [1, "hunter2"]}},
        stack_info=True,
    )
    output = stream.getvalue()
    assert "LEAK" not in output
    assert "hunter2" not in output
    assert REDACTED in output


def test_a_running_server_writes_no_part_of_a_query_token(tmp_path: Path) -> None:
    """Against `serve` itself: a `?token=` holding `;`, quotes or `%` leaves no part of it in the
    access log, and the request is still logged."""
    env = {
        "HOOKRELAY_DATABASE_URL": f"sqlite:///{tmp_path / 'q.db'}",
        "HOOKRELAY_TRACKER_URL": "http://127.0.0.1:9/services/v5",
        "HOOKRELAY_ACCESS_LOG": "true",  # off by default; where a URL's token could show
    }
    with hookrelay_serve(env) as serve:
        for value in ("abc;LEAKONE", "abc%22LEAKTWO", "abc'LEAKTHREE"):
            httpx.post(f"{serve.url}/services/v3/github_commits?token={value}", content=b"{}")
        wait_until(
            lambda: sum("github_commits" in line.get("message", "") for line in serve.lines) >= 3,
            10,
            lambda: str(serve.lines),
            every=0.05,
        )
    written = json.dumps(serve.lines)
    assert "LEAK" not in written
    assert f"github_commits?token={REDACTED}" in written
