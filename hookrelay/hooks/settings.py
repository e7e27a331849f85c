"""What an installed hook needs to know, and where it reads it.

git keeps it in the repository's configuration (``git config hookrelay.url`` and friends);
Subversion in ``conf/hookrelay.conf``, ``key = value`` lines that the shell hook reads with
``sed``. Both hook forms read the same keys:

==================  ==========================================================================
key                 meaning
==================  ==========================================================================
url                 Tracker base URL, ending in ``/services/v3`` (XML) or ``/services/v5`` (JSON)
token               the API token, sent in ``X-TrackerToken`` and never logged (git: in the
                    0600 file ``$GIT_DIR/hookrelay/token``, not in the repository's config)
commiturl           optional template of the ``url`` field; ``%H`` becomes the commit id
branches            optional branch globs to relay (git only; space or comma separated)
allcommits          optional; ``true`` also sends commits that name no story
foregroundseconds   optional (default 4): how long a hook may hold a push before it hands the
                    rest to a background process
==================  ==========================================================================
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from hookrelay.core.branches import branch_relays
from hookrelay.core.tracker_api import TrackerTarget, is_usable_token
from hookrelay.exceptions import ConfigError

__all__ = [
    "DEFAULT_FOREGROUND_SECONDS",
    "KEYS",
    "HookSettings",
    "check_token",
    "parse_conf",
    "render_conf",
]

DEFAULT_FOREGROUND_SECONDS = 4
#: Every setting a hook reads, in the order ``conf/hookrelay.conf`` lists them.
KEYS = ("url", "token", "commiturl", "branches", "allcommits", "foregroundseconds")

_CONF_LINE = re.compile(r"^\s*([A-Za-z]+)\s*=\s*(.*?)\s*$")
_TRUE = frozenset({"true", "yes", "on", "1"})


@dataclass(frozen=True, slots=True)
class HookSettings:
    """A hook's settings, checked: a Tracker target, a token, and what to relay."""

    target: TrackerTarget
    token: str
    commit_url: str = ""
    branches: tuple[str, ...] = ()
    all_commits: bool = False
    foreground_seconds: int = DEFAULT_FOREGROUND_SECONDS

    @classmethod
    def from_values(cls, values: Mapping[str, str]) -> HookSettings:
        """Check raw ``key -> value`` settings; a missing URL or token is a ``ConfigError``."""
        url = values.get("url", "").strip()
        token = values.get("token", "").strip()
        if not url:
            raise ConfigError("hookrelay is not configured (no URL)")
        if not token:
            raise ConfigError("hookrelay is not configured (no token)")
        check_token(token)
        seconds = values.get("foregroundseconds", "").strip()
        return cls(
            target=TrackerTarget.parse(url),
            token=token,
            commit_url=values.get("commiturl", "").strip(),
            branches=tuple(p for p in re.split(r"[\s,]+", values.get("branches", "")) if p),
            all_commits=values.get("allcommits", "").strip().lower() in _TRUE,
            foreground_seconds=int(seconds) if seconds.isdigit() else DEFAULT_FOREGROUND_SECONDS,
        )

    def wants_ref(self, ref: str) -> bool:
        """Whether commits on ``ref`` are relayed: any ref without a branch filter, else the
        branches (``refs/heads/NAME``) whose NAME matches one of the globs."""
        if not self.branches:
            return True
        if not ref.startswith("refs/heads/"):
            return False
        return branch_relays(ref.removeprefix("refs/heads/"), self.branches)


def check_token(token: str) -> None:
    """Raise ``ConfigError`` unless Tracker's header can carry ``token`` as it is (the rule the
    Tracker client and the ingest apply: ``hookrelay.core.tracker_api.is_usable_token``). The
    message never repeats the token."""
    if not is_usable_token(token):
        raise ConfigError(
            "the token must be visible ASCII characters with no spaces or controls"
            " (as Tracker's X-TrackerToken header carries it)"
        )


def parse_conf(text: str) -> dict[str, str]:
    """Read ``conf/hookrelay.conf``: ``key = value`` lines, ``#`` comments, the last one wins."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        match = _CONF_LINE.match(line)
        if match is not None:
            values[match.group(1)] = match.group(2)
    return values


def render_conf(values: Mapping[str, str]) -> str:
    """Write ``conf/hookrelay.conf`` for the given settings (keys as in the module's table)."""
    lines = [
        "# hookrelay: where this repository's commits are relayed (hookrelay hooks install).",
        "# key = value lines; see `hookrelay hooks install --help`. Keep this file private:",
        "# it holds the Tracker token.",
    ]
    for key in KEYS:
        value = values.get(key, "")
        if value:
            if "\n" in value or "\r" in value:
                raise ConfigError(f"{key} must be one line")
            lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"
