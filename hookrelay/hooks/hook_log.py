"""The hook's log file in the repository: one line a send, a failure or a hand-off, no token.

Lines read ``<UTC time> <hook> <what happened>``, the same in both hook forms, so that
``tail hookrelay.log`` tells an administrator what became of a commit. The file is kept under
a megabyte, with one older generation beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from hookrelay.core.text import one_line, without_token

__all__ = ["HookLog"]

_MAX_BYTES = 1024 * 1024


def _utc_now() -> datetime:
    return datetime.now(UTC)


class HookLog:
    """Appends lines to ``<state>/hookrelay.log``, with every copy of the token blanked out."""

    def __init__(
        self,
        path: Path,
        hook: str,
        token: str = "",
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.path = path
        self._hook = hook
        self._token = token
        self._clock = clock
        try:
            if path.stat().st_size > _MAX_BYTES:
                path.replace(path.with_name(path.name + ".1"))
        except OSError:
            pass  # no log yet

    def redact(self, text: str) -> str:
        """``text`` on one line, with the token (if any) replaced by ``[token]``."""
        return without_token(one_line(text), self._token)

    def write(self, text: str) -> None:
        """Append one line; a log that cannot be written never stops a hook."""
        stamp = self._clock().strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            with self.path.open("a", encoding="utf-8", errors="replace") as log:
                log.write(f"{stamp} {self._hook} {self.redact(text)}\n")
        except OSError:
            pass
