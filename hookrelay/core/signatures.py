"""Webhook signatures: HMAC-SHA256 of the raw body, compared in constant time.

* GitHub: ``X-Hub-Signature-256: sha256=<64 hex>`` ("Validating webhook deliveries", GitHub docs).
  The legacy ``X-Hub-Signature: sha1=…`` alone is refused: SHA-1 is not accepted.
* Gitea / Forgejo / Gogs: ``X-Gitea-Signature`` / ``X-Forgejo-Signature`` / ``X-Gogs-Signature``,
  the same HMAC-SHA256 as bare hex.
* GitLab: ``X-Gitlab-Token`` carries the secret itself.

Header values are compared as bytes, so a header with non-ASCII characters is a clean refusal.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from hookrelay.exceptions import SignatureError

__all__ = [
    "SIGNATURE_HEADERS",
    "sign",
    "verify_gitlab_token",
    "verify_signature",
]

# (header, prefix) in the order they are looked for; Gitea also sends X-Hub-Signature-256.
SIGNATURE_HEADERS: tuple[tuple[str, bytes], ...] = (
    ("x-hub-signature-256", b"sha256="),
    ("x-gitea-signature", b""),
    ("x-forgejo-signature", b""),
    ("x-gogs-signature", b""),
)

_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")


def _as_bytes(value: str | bytes) -> bytes:
    if isinstance(value, bytes):
        return value
    # HTTP header values arrive as latin-1 text (ASGI, WSGI); anything beyond it cannot match.
    return value.encode("latin-1", errors="replace")


def sign(body: bytes, secret: str | bytes) -> str:
    """The hex HMAC-SHA256 of ``body`` under ``secret``, as every forge computes it."""
    return hmac.digest(_as_bytes_secret(secret), body, "sha256").hex()  # OpenSSL's one-shot


def _as_bytes_secret(secret: str | bytes) -> bytes:
    return secret if isinstance(secret, bytes) else secret.encode("utf-8")


def _check(body: bytes, secret: str | bytes, value: str | bytes, prefix: bytes, name: str) -> None:
    provided = _as_bytes(value).strip()
    if not provided:
        raise SignatureError(f"empty {name} header")
    if prefix and not provided.startswith(prefix):
        raise SignatureError(f"{name} must start with {prefix.decode()}")
    digest = provided[len(prefix) :]
    if len(digest) != 64 or not set(digest) <= _HEX_DIGITS:
        raise SignatureError(f"{name} is not a SHA-256 hex digest")
    expected = sign(body, secret).encode("ascii")
    if not hmac.compare_digest(expected, digest.lower()):
        raise SignatureError(f"{name} does not match the body")


def verify_signature(headers: Mapping[str, str | bytes], body: bytes, secret: str | bytes) -> str:
    """Check the forge's signature header on the raw ``body``; return the header's name.

    ``headers`` must have lower-case names. Raises ``SignatureError`` when no signature header is
    present, or the first one present is malformed or does not match.
    """
    for name, prefix in SIGNATURE_HEADERS:
        value = headers.get(name)
        if value is not None:
            _check(body, secret, value, prefix, name)
            return name
    if "x-hub-signature" in headers:
        raise SignatureError(
            "only a SHA-1 signature (X-Hub-Signature) was sent; SHA-256 is required"
        )
    raise SignatureError("no signature header (X-Hub-Signature-256) on a signed endpoint")


def verify_gitlab_token(headers: Mapping[str, str | bytes], secret: str | bytes) -> None:
    """Check GitLab's ``X-Gitlab-Token`` against ``secret`` in constant time."""
    value = headers.get("x-gitlab-token")
    if value is None or not _as_bytes(value):
        raise SignatureError("no X-Gitlab-Token header on a signed endpoint")
    if not hmac.compare_digest(_as_bytes(value), _as_bytes_secret(secret)):
        raise SignatureError("X-Gitlab-Token does not match")
