"""Webhook signatures: only a correct HMAC-SHA256 of the raw body lets a delivery in."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookrelay.core.signatures import sign, verify_gitlab_token, verify_signature
from hookrelay.exceptions import SignatureError

# GitHub's documented test vector ("Validating webhook deliveries").
VECTOR_SECRET = "It's a Secret to Everybody"
VECTOR_BODY = b"Hello, World!"
VECTOR_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_github_test_vector() -> None:
    """GitHub's published secret, body and signature verify."""
    assert "sha256=" + sign(VECTOR_BODY, VECTOR_SECRET) == VECTOR_SIGNATURE
    assert (
        verify_signature({"x-hub-signature-256": VECTOR_SIGNATURE}, VECTOR_BODY, VECTOR_SECRET)
        == "x-hub-signature-256"
    )


def test_uppercase_hex_is_accepted() -> None:
    """Hex digits are case-insensitive, as the digest is the same number."""
    verify_signature(
        {"x-hub-signature-256": VECTOR_SIGNATURE.upper().replace("SHA256=", "sha256=")},
        VECTOR_BODY,
        VECTOR_SECRET,
    )


def test_form_body_is_signed_as_sent() -> None:
    """A form-encoded delivery is verified on its raw bytes, before any decoding."""
    body = urlencode({"payload": '{"ref": "refs/heads/main", "commits": []}'}).encode()
    signature = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    verify_signature({"x-hub-signature-256": signature}, body, "s3cret")
    with pytest.raises(SignatureError):
        verify_signature({"x-hub-signature-256": signature}, body + b"&x=1", "s3cret")


@pytest.mark.parametrize(
    "header", ["x-gitea-signature", "x-forgejo-signature", "x-gogs-signature"], ids=str
)
def test_bare_hex_signatures(header: str) -> None:
    """Gitea, Forgejo and Gogs send the same HMAC as bare hex under their own header."""
    verify_signature({header: sign(VECTOR_BODY, VECTOR_SECRET)}, VECTOR_BODY, VECTOR_SECRET)
    with pytest.raises(SignatureError):
        verify_signature({header: sign(VECTOR_BODY, "other")}, VECTOR_BODY, VECTOR_SECRET)


def _flip(signature: str) -> str:
    last = signature[-1]
    return signature[:-1] + ("0" if last != "0" else "1")


BAD = [
    ("missing", {}),
    ("empty", {"x-hub-signature-256": ""}),
    ("sha1 only", {"x-hub-signature": "sha1=" + "0" * 40}),
    ("no prefix", {"x-hub-signature-256": VECTOR_SIGNATURE.removeprefix("sha256=")}),
    ("sha1 prefix", {"x-hub-signature-256": "sha1=" + VECTOR_SIGNATURE[7:]}),
    ("too short", {"x-hub-signature-256": VECTOR_SIGNATURE[:-2]}),
    ("too long", {"x-hub-signature-256": VECTOR_SIGNATURE + "00"}),
    ("not hex", {"x-hub-signature-256": "sha256=" + "z" * 64}),
    ("non-ascii text", {"x-hub-signature-256": "sha256=" + "é" * 64}),
    ("non-ascii bytes", {"x-hub-signature-256": b"sha256=" + "é".encode() * 32}),
    ("beyond latin-1", {"x-hub-signature-256": "sha256=" + "\N{SNOWMAN}" * 64}),
    ("flipped byte", {"x-hub-signature-256": _flip(VECTOR_SIGNATURE)}),
    ("other secret", {"x-hub-signature-256": "sha256=" + sign(VECTOR_BODY, "wrong")}),
]


@pytest.mark.parametrize("headers", [b[1] for b in BAD], ids=[b[0] for b in BAD])
def test_refusals(headers: dict[str, str | bytes]) -> None:
    """Missing, empty, SHA-1-only, malformed, non-ASCII and wrong signatures are refused cleanly."""
    with pytest.raises(SignatureError) as caught:
        verify_signature(headers, VECTOR_BODY, VECTOR_SECRET)
    assert caught.value.status_hint == 401
    assert VECTOR_SECRET not in str(caught.value)


@given(st.binary(), st.binary(min_size=1), st.binary())
def test_only_the_right_signature_verifies(body: bytes, secret: bytes, junk: bytes) -> None:
    """For any body and secret the true signature verifies and arbitrary header bytes never crash."""
    verify_signature({"x-hub-signature-256": "sha256=" + sign(body, secret)}, body, secret)
    try:
        verify_signature({"x-hub-signature-256": junk}, body, secret)
    except SignatureError:
        pass
    else:
        assert junk.strip().lower() == b"sha256=" + sign(body, secret).encode()


def test_gitlab_token() -> None:
    """GitLab's X-Gitlab-Token must equal the secret; anything else is refused."""
    verify_gitlab_token({"x-gitlab-token": "s3cret"}, "s3cret")
    for headers in (
        {},
        {"x-gitlab-token": ""},
        {"x-gitlab-token": "s3cre"},
        {"x-gitlab-token": "é"},
    ):
        with pytest.raises(SignatureError):
            verify_gitlab_token(headers, "s3cret")
