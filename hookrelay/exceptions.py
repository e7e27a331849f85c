"""Every error hookrelay raises, in one tree.

Each error says whose fault it is, so the edge that catches it knows what to answer::

    HookrelayError                  base of everything below; `status_hint` for HTTP edges
    ├── InputError                  the caller sent something we cannot use (4xx, nothing queued)
    │   ├── SignatureError          missing or wrong webhook signature            (401)
    │   ├── PayloadError            not a push we understand, malformed JSON/XML   (400)
    │   │   └── NotASourceCommit    well-formed, but not a source_commit to take   (422)
    │   ├── TokenRefused            the Tracker target refuses the caller's token  (401)
    │   ├── TooMuchPending          an unconfirmed token's share of the queue is full (429)
    │   ├── UnsupportedMediaType    a Content-Type we do not read                  (415)
    │   ├── BodyTooLarge            over the configured body limit                 (413)
    │   └── EmulatorFull            the Tracker emulator holds all it may          (403)
    ├── ConfigError                 a setting is missing or wrong; start-up stops  (500)
    ├── StoreError                  the durable queue could not be read or written (503)
    └── RepositoryError             a folder is not a git/svn repository, or git/svnlook failed

Tracker's answer to a post is not an error here: it travels as a value, ``Delivered``,
``Refused`` (for good) or ``RetryLater`` (``hookrelay.core.tracker_api``), which the worker
turns into the commit's next state. There is no exception for it to catch.

Messages are one line and never contain a token or a secret: they end up in logs,
HTTP answers and the dashboard.
"""

from __future__ import annotations


class HookrelayError(Exception):
    """Base of every error hookrelay raises on purpose."""

    status_hint: int = 500

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


class InputError(HookrelayError):
    """The caller sent something hookrelay cannot use; nothing was queued."""

    status_hint = 400


class SignatureError(InputError):
    """A webhook's signature is missing, malformed or does not match the body."""

    status_hint = 401


class PayloadError(InputError):
    """A body is not valid JSON/XML or not the shape of a push we understand."""

    status_hint = 400


class NotASourceCommit(PayloadError):
    """A well-formed XML/JSON body that is not a ``source_commit`` Tracker could take (422)."""

    status_hint = 422


class TokenRefused(InputError):
    """The Tracker target answered 401/403 for the token a caller brought; nothing was queued."""

    status_hint = 401


class TooMuchPending(InputError):
    """A token nobody could confirm already has its share of pending bytes in the queue."""

    status_hint = 429


class UnsupportedMediaType(InputError):
    """A body came with a Content-Type hookrelay does not read."""

    status_hint = 415


class BodyTooLarge(InputError):
    """A body is larger than the configured limit."""

    status_hint = 413


class EmulatorFull(InputError):
    """The Tracker emulator already holds as many projects or stories as it may."""

    status_hint = 403


class ConfigError(HookrelayError):
    """A setting is missing or has a value hookrelay cannot use."""

    status_hint = 500


class StoreError(HookrelayError):
    """The durable queue could not be read or written."""

    status_hint = 503


class RepositoryError(HookrelayError):
    """A folder is not a repository of the expected kind, or git/svnlook failed on it."""

    status_hint = 500
