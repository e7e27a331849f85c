"""Renderers under hostile text: 100,000 generated commits, every body strictly parsed back.

Messages and author names are built from fragments that break naive XML and JSON writers: every
C0 and C1 control, DEL, lone surrogates, U+FFFE/U+FFFF, a BOM, characters past the BMP,
``]]>``, CDATA, entities, a DTD, CR and CRLF, JSON's own specials, random code points, and (one
commit in four) bytes that are not UTF-8 (truncated and overlong sequences, encoded surrogates,
code points past U+10FFFF). Ten of them are over 1 MB. Each commit goes through both renderers;
the v3 body is parsed by defusedxml (expat, DTDs and entities refused), the v5 body by a strict
UTF-8 decode and ``json.loads``; both must give back exactly ``sanitize_text`` of the input, and
that text must hold only characters XML 1.0 allows (checked against the spec's ``Char``
production, written here independently of the code under test). The generator is seeded, so a
failure names a commit that can be rebuilt.
"""

from __future__ import annotations

import json
import random
import re
import time
from dataclasses import dataclass

import defusedxml.ElementTree as SafeET
import pytest

from hookrelay.core.source_commit import SourceCommit, render_v3_xml, render_v5_json, sanitize_text

COMMITS = 100_000
HUGE = 10  # commits whose message is over 1 MB
HUGE_SIZE = 1_050_000
SEED = 20261129

# XML 1.0 §2.2, as the complement of what is allowed (the code under test lists what is not).
NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

TEXT_FRAGMENTS = [
    *(chr(c) for c in range(0x20)),  # every C0 control, tab, LF and CR included
    "\x7f",
    *(chr(c) for c in range(0x80, 0xA0, 3)),  # C1 controls (allowed by XML 1.0)
    "\ud800",
    "\udbff",
    "\udc00",
    "\udfff",
    "\ud83d\ude80",  # a surrogate pair as two code points: both lone in a str
    "\ufffe",
    "\uffff",
    "\ufffd",
    "\ufeff",
    "\u2028",
    "\u2029",
    "\N{ROCKET}",
    "\U0010ffff",
    "é",
    "\u0130",
    "]]>",
    "<![CDATA[",
    "]]",
    "&",
    "<",
    ">",
    '"',
    "'",
    "&amp;",
    "&#0;",
    "&#x1F;",
    "&lt;",
    "&bogus;",
    '<!DOCTYPE x [<!ENTITY y "z">]>&y;',
    '<?xml version="1.0"?>',
    "</message>",
    "</source_commit>",
    "\r\n",
    "\\",
    '\\"',
    "\\u0000",
    '{"source_commit":',
    "[Finishes #12345678]",
    "[#1, #2]",
    " ",
    "Torpedoes powered",
    "Scotty",
]

BAD_UTF8 = [
    b"\xff",
    b"\xfe",
    b"\x80",  # a continuation byte alone
    b"\xc3",  # a truncated two-byte sequence
    b"\xe2\x82",  # a truncated three-byte sequence
    b"\xf0\x9f\x9a",  # a truncated four-byte sequence
    b"\xc0\xaf",  # an overlong '/'
    b"\xe0\x80\xaf",  # an overlong '/', three bytes
    b"\xed\xa0\x80",  # an encoded surrogate
    b"\xf4\x90\x80\x80",  # past U+10FFFF
    b"\x00",
    b"\x1b[31m",
]


@dataclass(frozen=True)
class Sample:
    """One generated commit's raw message and author, text or bytes."""

    message: str | bytes
    author: str | bytes


def _text(rng: random.Random, pieces: int) -> str:
    chosen = rng.choices(TEXT_FRAGMENTS, k=pieces)
    chosen.append(chr(rng.randrange(0x110000)))  # one random code point, anywhere in Unicode
    rng.shuffle(chosen)
    return "".join(chosen)


def _bytes(rng: random.Random, pieces: int) -> bytes:
    text = _text(rng, pieces).encode("utf-8", errors="surrogatepass")
    bad = rng.choices(BAD_UTF8, k=max(1, pieces // 4))
    cut = sorted(rng.randrange(len(text) + 1) for _ in bad)
    out, start = [], 0
    for at, piece in zip(cut, bad, strict=True):
        out += [text[start:at], piece]
        start = at
    out.append(text[start:])
    return b"".join(out)


def _raw(rng: random.Random, pieces: int) -> str | bytes:
    return _bytes(rng, pieces) if rng.random() < 0.25 else _text(rng, pieces)


def _huge(rng: random.Random) -> str | bytes:
    unit = _raw(rng, 200)
    return unit * (HUGE_SIZE // len(unit) + 1)


def generate(rng: random.Random) -> list[Sample]:
    """The commits: mostly a message of up to 40 fragments, a few over 1 MB."""
    samples = [
        Sample(_raw(rng, rng.randrange(41)), _raw(rng, rng.randrange(8)))
        for _ in range(COMMITS - HUGE)
    ]
    samples += [Sample(_huge(rng), _raw(rng, 8)) for _ in range(HUGE)]
    return samples


def check(index: int, sample: Sample) -> None:
    """Both bodies of one commit parse strictly back to the sanitised message and author."""
    commit = SourceCommit.of(
        commit_id=f"{index:040x}", message=sample.message, author=sample.author
    )
    message, author = sanitize_text(sample.message), sanitize_text(sample.author)
    where = f"commit {index} (seed {SEED})"
    for text in (message, author):
        bad = NOT_XML_CHAR.search(text)
        assert bad is None, f"{where}: sanitised text still holds {bad.group()!r}"
    for raw, text in ((sample.message, message), (sample.author, author)):
        if isinstance(raw, str) and NOT_XML_CHAR.search(raw) is None:
            assert text == raw, f"{where}: text XML allows was changed"

    root = SafeET.fromstring(render_v3_xml(commit))
    assert root.tag == "source_commit", where
    xml_fields = {child.tag: child.text or "" for child in root}
    assert xml_fields == {
        "message": message,
        "author": author,
        "commit_id": commit.commit_id,
        "url": "",
    }, where

    document = json.loads(render_v5_json(commit).decode("utf-8"))
    assert document == {
        "source_commit": {
            "commit_id": commit.commit_id,
            "message": message,
            "author": author,
            "url": "",
        }
    }, where


def test_every_body_parses_strictly_back_to_the_sanitised_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """100,000 hostile commits (controls, surrogates, ]]>, invalid UTF-8, 1 MB ones) render to v3
    XML and v5 JSON that strict parsers read back to exactly the sanitised message and author."""
    rng = random.Random(SEED)
    started = time.perf_counter()
    samples = generate(rng)
    generated = time.perf_counter() - started
    slowest = (0.0, -1)
    for index, sample in enumerate(samples):
        began = time.perf_counter()
        check(index, sample)
        slowest = max(slowest, (time.perf_counter() - began, index))
    checked = time.perf_counter() - started - generated

    raw_bytes = sum(len(s.message) + len(s.author) for s in samples)
    as_bytes = sum(isinstance(s.message, bytes) for s in samples)
    with capsys.disabled():
        print(
            f"\nrenderers: {len(samples):,} commits ({as_bytes:,} messages as bytes, {HUGE} over 1 MB), "
            f"{raw_bytes / 1e6:.1f} M raw chars/bytes; generated in {generated:.1f} s, rendered v3+v5 "
            f"and parsed back in {checked:.1f} s ({checked / len(samples) * 1e6:.0f} us a commit); "
            f"slowest commit {slowest[1]} in {slowest[0] * 1e3:.0f} ms; failures 0"
        )
