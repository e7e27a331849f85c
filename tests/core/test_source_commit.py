"""source_commit bodies are well formed whatever the commit holds, and carry its text exactly."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookrelay.core.source_commit import (
    ApiVersion,
    SourceCommit,
    render,
    render_v3_xml,
    render_v5_json,
    sanitize_text,
)

FIELDS = ("commit_id", "message", "author", "url")


def read_xml(body: bytes) -> dict[str, str]:
    """Parse a v3 body with the standard library's strict (expat) parser."""
    root = ET.fromstring(body)  # noqa: S314 - our own output, parsed to prove it is well formed
    assert root.tag == "source_commit"
    return {child.tag: child.text or "" for child in root}


def read_json(body: bytes) -> dict[str, str]:
    """Parse a v5 body as strict UTF-8 JSON."""
    document = json.loads(body.decode("utf-8"))
    assert list(document) == ["source_commit"]
    inner: dict[str, str] = document["source_commit"]
    return inner


HOSTILE = [
    ("xml specials", "a & b < c > d \" e ' f"),
    ("cdata end", "x ]]> y"),
    ("crlf", "line one\r\nline two\rthree\n"),
    ("tabs", "\tindented\t"),
    ("emoji", "ship it \N{ROCKET} \N{PILE OF POO}"),
    ("shell", "$(rm -rf /) `id` ${HOME} \\"),
    ("entity text", "&amp; &#0; &lt;"),
    ("xml declaration", '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY y "z">]>&y;'),
    ("nul and controls", "a\x00b\x01c\x1bd\x7fe"),
]


@pytest.mark.parametrize("text", [h[1] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
@pytest.mark.parametrize("version", list(ApiVersion), ids=lambda v: v.value)
def test_hostile_text_round_trips(text: str, version: ApiVersion) -> None:
    """Hostile text in every field parses back, through a strict parser, to its sanitised self."""
    commit = SourceCommit.of(commit_id=text, message=text, author=text, url=text)
    body = render(commit, version)
    parsed = read_xml(body) if version is ApiVersion.V3 else read_json(body)
    assert parsed == dict.fromkeys(FIELDS, sanitize_text(text))


def test_forbidden_characters_become_replacement_character() -> None:
    """Characters XML 1.0 forbids (NUL, C0 controls, lone surrogates, U+FFFE/F) become U+FFFD."""
    assert sanitize_text("a\x00b\x08c\x0bd\x1fe\ud800f\udfffg\ufffeh\uffff") == (
        "a\ufffdb\ufffdc\ufffdd\ufffde\ufffdf\ufffdg\ufffdh\ufffd"
    )
    assert sanitize_text("\t\n\r\x7f\u0085\U0010ffff") == "\t\n\r\x7f\u0085\U0010ffff"


def test_invalid_utf8_bytes_are_replaced() -> None:
    """Bytes that are not UTF-8 are decoded with U+FFFD in their place; valid UTF-8 is kept."""
    commit = SourceCommit.of(
        commit_id=b"abc", message=b"caf\xc3\xa9 \xff\xfe end", author=b"\xe9t\xe9"
    )
    assert commit.message == "café \ufffd\ufffd end"
    assert commit.author == "\ufffdt\ufffd"
    assert read_xml(render_v3_xml(commit))["message"] == "café \ufffd\ufffd end"


def test_v3_layout() -> None:
    """The v3 body is Tracker's documented <source_commit> with the four fields, UTF-8 declared."""
    commit = SourceCommit.of(commit_id="abc123", message="[#1] a&b", author="Jo", url="")
    assert render_v3_xml(commit) == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<source_commit><message>[#1] a&amp;b</message>'
        b"<author>Jo</author><commit_id>abc123</commit_id><url></url></source_commit>"
    )


def test_v5_layout() -> None:
    """The v5 body is {"source_commit": {...}} with UTF-8 text, not \\u escapes."""
    commit = SourceCommit.of(commit_id="abc", message="é", author="Jo", url="https://x/c/abc")
    assert json.loads(render_v5_json(commit)) == {
        "source_commit": {
            "commit_id": "abc",
            "message": "é",
            "author": "Jo",
            "url": "https://x/c/abc",
        }
    }
    assert "é".encode() in render_v5_json(commit)


@pytest.mark.parametrize("version", list(ApiVersion), ids=lambda v: v.value)
def test_one_megabyte_message(version: ApiVersion) -> None:
    """A 1 MB message with every special character survives rendering unchanged."""
    message = ("& < > \" ' ]]> \r\n \N{SNOWMAN} " * 40_000)[:1_000_000]
    commit = SourceCommit.of(commit_id="big", message=message, author="a")
    body = render(commit, version)
    parsed = read_xml(body) if version is ApiVersion.V3 else read_json(body)
    assert parsed["message"] == message


@given(
    st.text(),
    st.text(),
    st.text(max_size=50),
    st.one_of(st.text(), st.binary()),
)
def test_any_text_renders_to_valid_xml_and_json(
    message: str, author: str, commit_id: str, url: str | bytes
) -> None:
    """Any text, with controls, surrogates and ]]>, renders to v3 XML and v5 JSON that parse back
    to the sanitised text."""
    commit = SourceCommit.of(commit_id=commit_id, message=message, author=author, url=url)
    expected = {
        "commit_id": sanitize_text(commit_id),
        "message": sanitize_text(message),
        "author": sanitize_text(author),
        "url": sanitize_text(url),
    }
    assert read_xml(render_v3_xml(commit)) == expected
    assert read_json(render_v5_json(commit)) == expected


def test_content_types() -> None:
    """Each version is sent with the Content-Type Tracker expects for it."""
    assert ApiVersion.V3.content_type == "application/xml"
    assert ApiVersion.V5.content_type == "application/json"
