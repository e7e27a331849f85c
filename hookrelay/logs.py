"""Logging for ``serve`` and ``worker``: one line per event, as text or JSON, with secrets removed.

Every record passes ``RedactSecrets`` on its way out, whoever logged it (hookrelay, uvicorn's
access log, a library), before either format writes it: the configured tokens and secrets are
replaced wherever they appear (message, traceback, stack, extra fields however nested), and so
are values that *look* like credentials (a ``?token=`` value whole, an ``X-TrackerToken`` or
``Authorization`` header), because callers bring tokens of their own.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal, TextIO
from urllib.parse import unquote_plus

__all__ = ["REDACTED", "JsonFormatter", "RedactSecrets", "TextFormatter", "configure_logging"]

REDACTED = "[redacted]"

# Tracker's hook URLs carry the token in the query (…/github_commits?token=…). The name is
# compared percent-decoded, since the server decodes ``%74oken=`` to ``token=`` too. The value is
# redacted whole, up to the next ``&`` (the only separator the server splits a query on) or
# whitespace: ``?token=abc;LEAK`` hands the server the token ``abc;LEAK``, and none of it may be
# written. Names are found after ``;`` too, so ``?x=1;token=…`` is caught however it is read.
_PARAMETER_NAME = re.compile(r"([?&;])([^=&;?\s\"']+)=")
_TOKEN_VALUE_END = re.compile(r"[&\s]|$")
_TOKEN_PARAMETERS = frozenset({"token", "api_token"})
_CREDENTIAL_PATTERNS = (
    re.compile(r"(?i)(x-trackertoken[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"),
    re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?(?:bearer|basic|token)?\s*)[^\s\"',}]+"),
)

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is an event field.
# uvicorn's "color_message" repeats the message with terminal colours; it is never an event field.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


def _redact_token_parameters(text: str) -> str:
    """``text`` with the value of every ``token=`` (or ``api_token=``) query parameter replaced."""
    kept: list[str] = []
    position = 0
    while match := _PARAMETER_NAME.search(text, position):
        kept.append(text[position : match.end()])
        position = match.end()
        if unquote_plus(match.group(2)).strip().lower() not in _TOKEN_PARAMETERS:
            continue
        end = _TOKEN_VALUE_END.search(text, position)
        value_end = len(text) if end is None else end.start()
        if value_end > position:
            kept.append(REDACTED)
        position = value_end
    kept.append(text[position:])
    return "".join(kept)


class RedactSecrets(logging.Filter):
    """Replace known secrets and credential-shaped values in a record before it is written."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """``text`` with every secret and credential-shaped value replaced."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        for pattern in _CREDENTIAL_PATTERNS:
            text = pattern.sub(rf"\1{REDACTED}", text)
        return _redact_token_parameters(text)

    def _redact_value(self, value: Any) -> Any:
        """A field's value with its strings redacted, however deep (JSON writes them all)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {self._redact_value(k): self._redact_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self._redact_value(item) for item in value]
        if isinstance(value, int | float | bool) or value is None:
            return value
        return self.redact(str(value))

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place (message, traceback, extra fields); never drop it."""
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        # The traceback now lives, redacted, in exc_text; formatters must not render it again.
        record.exc_info = None
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD:
                setattr(record, key, self._redact_value(value))
        return True


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD}


class TextFormatter(logging.Formatter):
    """``2026-01-02T03:04:05Z INFO hookrelay.web: message key=value …`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        """One line: newlines inside a message or traceback are written as ``\\n``."""
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        parts = [when, record.levelname, f"{record.name}:", record.getMessage()]
        parts += [f"{key}={value}" for key, value in _fields(record).items()]
        if record.exc_text:
            parts.append(record.exc_text)
        return " ".join(parts).replace("\r", "\\r").replace("\n", "\\n")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``time``, ``level``, ``logger``, ``message`` and event fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialise the record; values JSON cannot hold are written as their ``str``."""
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_text:
            document["traceback"] = record.exc_text
        return json.dumps(document, ensure_ascii=False, default=str)


def configure_logging(
    log_format: Literal["text", "json"] = "text",
    *,
    level: str = "INFO",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send every logger's records through one redacting handler on ``stream`` (stderr)."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(RedactSecrets(secrets))
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn is run with log_config=None, so its loggers propagate to this handler.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # httpx logs every request at INFO; the worker already writes one line per delivery.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return handler
