"""source_commit bodies are well formed whatever the commit holds, and carry its text exactly."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookrelay.core.source_commit import (
    REPLACEMENT,
    ApiVersion,
    SourceCommit,
    render,
    render_v3_xml,
    render_v5_json,
    sanitize_text,
    xml_escape,
)
from tests.conftest import real_commit_messages

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


# The renderers as first written, plainly: a translate table for XML, json.dumps for JSON, and
# every field sanitised again at render time. The fast renderers must match them byte for byte.
_PLAIN_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_PLAIN_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;", "\r": "&#13;"}
)


def plain_sanitize(value: str | bytes) -> str:
    """Decode bytes with U+FFFD, then replace what XML 1.0 forbids with U+FFFD."""
    text = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value
    return _PLAIN_FORBIDDEN.sub(REPLACEMENT, text)


def plain_v3(fields: dict[str, Any]) -> bytes:
    """The v3 body as the first renderer wrote it."""
    inner = "".join(
        f"<{name}>{plain_sanitize(fields[name]).translate(_PLAIN_ESCAPES)}</{name}>"
        for name in ("message", "author", "commit_id", "url")
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<source_commit>{inner}</source_commit>'.encode()
    )


def plain_v5(fields: dict[str, Any]) -> bytes:
    """The v5 body as the first renderer wrote it."""
    document = {"source_commit": {name: plain_sanitize(fields[name]) for name in FIELDS}}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def test_same_bytes_as_the_plain_renderers_on_every_real_message() -> None:
    """On all 3,702 real commits, both renderers write exactly the bytes the plain ones write."""
    records = real_commit_messages()
    assert len(records) == 3702
    differing = []
    for record in records:
        fields = {
            "commit_id": record["sha"],
            "message": record["message"],
            "author": record["author"],
            "url": f"https://github.com/{record['repo']}/commit/{record['sha']}",
        }
        commit = SourceCommit.of(**fields)
        if render_v3_xml(commit) != plain_v3(fields) or render_v5_json(commit) != plain_v5(fields):
            differing.append(record["sha"])
    assert differing == []


hostile_text = st.one_of(
    st.text(),
    st.binary(),
    st.lists(
        st.sampled_from(
            ["&", "<", ">", '"', "'", "\r", "\n", "]]>", "\x00", "\ud800", "\ufffe", "é", "\\", "a"]
        ),
        max_size=20,
    ).map("".join),
)


@given(hostile_text, hostile_text, hostile_text, hostile_text)
def test_same_bytes_as_the_plain_renderers_on_any_text(
    commit_id: str | bytes, message: str | bytes, author: str | bytes, url: str | bytes
) -> None:
    """For any text or bytes in any field, both renderers write exactly the plain ones' bytes."""
    fields = {"commit_id": commit_id, "message": message, "author": author, "url": url}
    commit = SourceCommit.of(**fields)
    assert render_v3_xml(commit) == plain_v3(fields)
    assert render_v5_json(commit) == plain_v5(fields)


def test_direct_construction_sanitises_too() -> None:
    """A commit built with the constructor, not ``of``, holds sanitised text and renders validly."""
    commit = SourceCommit("id\x00", "a\ud800b\x1b", "Jo\uffff", "u\x08")
    assert (commit.commit_id, commit.message, commit.author, commit.url) == (
        "id\ufffd",
        "a\ufffdb\ufffd",
        "Jo\ufffd",
        "u\ufffd",
    )
    assert read_xml(render_v3_xml(commit))["message"] == "a\ufffdb\ufffd"


@given(hostile_text)
def test_xml_escape_is_the_plain_escaper(value: str | bytes) -> None:
    """``xml_escape`` sanitises and escapes exactly as the plain translate table does."""
    assert xml_escape(value) == plain_sanitize(value).translate(_PLAIN_ESCAPES)
