"""``hookrelay serve``: being built (see the open issue)."""

from __future__ import annotations

from typing import Any

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add this module's commands to the command line."""
