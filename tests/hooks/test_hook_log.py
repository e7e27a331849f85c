"""The hook log: one line an event, never the token."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hookrelay.hooks.hook_log import HookLog


def test_lines_are_stamped_single_and_without_the_token(tmp_path: Path) -> None:
    """Each write is one UTC-stamped line naming the hook, with the token blanked out."""
    log = HookLog(
        tmp_path / "hookrelay.log",
        "post-receive",
        "tok-123",
        clock=lambda: datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    log.write("refused abc: HTTP 401: bad token tok-123\nsecond line")
    assert (tmp_path / "hookrelay.log").read_text() == (
        "2026-01-02T03:04:05Z post-receive refused abc: HTTP 401: bad token [token] second line\n"
    )


def test_a_big_log_is_rotated(tmp_path: Path) -> None:
    """A log over a megabyte becomes hookrelay.log.1 when the next hook starts."""
    path = tmp_path / "hookrelay.log"
    path.write_bytes(b"x" * (1024 * 1024 + 1))
    HookLog(path, "post-commit").write("fresh")
    assert (tmp_path / "hookrelay.log.1").stat().st_size == 1024 * 1024 + 1
    assert path.read_text().endswith("post-commit fresh\n")
