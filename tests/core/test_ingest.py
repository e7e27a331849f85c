"""Tracker-format source_commit bodies are read safely: hostile XML is refused, nothing expanded."""

from __future__ import annotations

import pytest

from hookrelay.core.ingest import ingest_form, read_v3_xml, read_v5_json
from hookrelay.core.source_commit import SourceCommit, render_v3_xml, render_v5_json
from hookrelay.exceptions import PayloadError

COMMIT = SourceCommit.of(
    commit_id="abc", message="[#1] a & b ]]> \r\n", author="Zoë <z@x>", url="u"
)


def test_round_trip() -> None:
    """What hookrelay renders, hookrelay reads back unchanged, in both versions."""
    assert read_v3_xml(render_v3_xml(COMMIT)) == COMMIT
    assert read_v5_json(render_v5_json(COMMIT)) == COMMIT


def test_old_hook_script_xml() -> None:
    """The XML an old curl hook script sends (no declaration, whitespace, no url) is read."""
    body = b"<source_commit>\n  <message>[Fixes #12] x</message>\n  <author>Jo</author>\n  <commit_id>r42</commit_id>\n</source_commit>"
    assert read_v3_xml(body) == SourceCommit("r42", "[Fixes #12] x", "Jo", "")


HOSTILE_XML = [
    (
        "xxe file",
        b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]><source_commit><message>&x;</message><commit_id>1</commit_id></source_commit>',
    ),
    (
        "billion laughs",
        b'<!DOCTYPE s [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><source_commit><message>&b;</message><commit_id>1</commit_id></source_commit>',
    ),
    (
        "external dtd",
        b'<!DOCTYPE s SYSTEM "http://127.0.0.1:1/x.dtd"><source_commit><message>m</message><commit_id>1</commit_id></source_commit>',
    ),
    ("not xml", b"<source_commit><message>"),
    ("wrong root", b"<commit><message>m</message></commit>"),
    ("no commit id", b"<source_commit><message>m</message></source_commit>"),
    ("no message", b"<source_commit><commit_id>1</commit_id></source_commit>"),
    ("multi-byte encoding", b'<?xml version="1.0" encoding="EUC-JP"?><source_commit/>'),
    ("utf-32 declared", b'<?xml version="1.0" encoding="utf-32"?><source_commit/>'),
    ("unknown encoding", b'<?xml version="1.0" encoding="bogus-enc"?><source_commit/>'),
]


@pytest.mark.parametrize("body", [h[1] for h in HOSTILE_XML], ids=[h[0] for h in HOSTILE_XML])
def test_hostile_or_invalid_xml_is_refused(body: bytes) -> None:
    """DTDs, entities, external references and invalid documents are refused with a one-line reason."""
    with pytest.raises(PayloadError) as caught:
        read_v3_xml(body)
    assert "\n" not in str(caught.value)
    assert "root:" not in str(caught.value)


BAD_JSON = [
    ("not json", b"{"),
    ("array", b"[]"),
    ("inner not object", b'{"source_commit": 5}'),
    ("message not text", b'{"source_commit": {"commit_id": "1", "message": ["x"]}}'),
    ("no commit id", b'{"source_commit": {"message": "m"}}'),
    ("deeply nested", b'{"source_commit": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
]


@pytest.mark.parametrize("body", [b[1] for b in BAD_JSON], ids=[b[0] for b in BAD_JSON])
def test_invalid_json_is_refused(body: bytes) -> None:
    """A v5 body that is not a source_commit is refused with a one-line reason."""
    with pytest.raises(PayloadError):
        read_v5_json(body)


def test_single_byte_encoding_declaration_is_honoured() -> None:
    """An old script that declares ISO-8859-1 and sends Latin-1 bytes is read correctly."""
    body = "<?xml version='1.0' encoding='ISO-8859-1'?><source_commit><message>[#1] café</message><commit_id>r1</commit_id></source_commit>".encode(
        "latin-1"
    )
    assert read_v3_xml(body).message == "[#1] café"


def test_a_form_post_brings_its_token_and_fields_as_rails_read_them() -> None:
    """``token=…&source_commit[message]=…`` gives the token and the commit, decoded."""
    post = ingest_form(
        b"token=abc&source_commit%5Bmessage%5D=%5B%231%5D+R%26D&source_commit[commit_id]=r9"
    )
    assert post.token == "abc"
    assert post.ingested is not None
    assert post.ingested.commit == SourceCommit("r9", "[#1] R&D", "", "")
    assert ingest_form(b"token=abc").ingested is None


def test_a_commit_id_over_255_characters_is_refused_400() -> None:
    """A commit id no forge makes is a 400, before anything is queued."""
    body = render_v3_xml(SourceCommit.of(commit_id="c" * 256, message="[#1] m", author="a"))
    with pytest.raises(PayloadError) as caught:
        read_v3_xml(body)
    assert caught.value.status_hint == 400
