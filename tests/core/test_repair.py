"""Bodies old hook scripts break are read back as their authors meant them, and nothing less safe."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from hookrelay.core.ingest import ingest_v3_xml, ingest_v5_json
from hookrelay.core.repair import Repair, repair_v3_xml
from hookrelay.core.repair_json import repair_v5_json
from hookrelay.core.source_commit import sanitize_text
from hookrelay.exceptions import NotASourceCommit, PayloadError
from tests.support.old_scripts import (
    HOSTILE_MESSAGES,
    STYLES,
    UNCARRIABLE,
    bash52_escape,
    cases,
    sed_escape,
)

AUTHOR = 'Zoë <zoe&co> "Z" O\'Neil'.encode()
CASES = cases()


def read(version: str, body: bytes) -> tuple[str, str, tuple[Repair, ...]]:
    """The message, author and repairs the ingest reads from ``body``."""
    ingested = ingest_v3_xml(body) if version == "v3" else ingest_v5_json(body)
    return ingested.commit.message, ingested.commit.author, ingested.repairs


@pytest.mark.parametrize(
    ("style", "message"),
    [(style, message) for style, _, message in CASES],
    ids=[f"{style.name}-{name}" for style, name, _ in CASES],
)
def test_every_script_style_is_read_back_as_its_author_meant(style: object, message: bytes) -> None:
    """Each script style's body, for each hostile message, gives back the message and author."""
    assert hasattr(style, "build")
    text = message.replace(b"{story}", b"123")
    body = style.build(text, AUTHOR, b"r42")  # type: ignore[attr-defined]
    got_message, got_author, _ = read(style.version, body)  # type: ignore[attr-defined]
    assert got_message == sanitize_text(text)
    assert got_author == sanitize_text(AUTHOR)


@pytest.mark.parametrize(
    ("style_name", "message_name", "got"),
    [("cdata", "cdata end", "[#123]  and  open")],
    ids=["cdata-cdata-end"],
)
def test_what_a_style_cannot_carry_is_read_as_the_xml_it_is(
    style_name: str, message_name: str, got: str
) -> None:
    """A body that is well-formed XML meaning another text is read as XML reads it (stated)."""
    assert (style_name, message_name) in UNCARRIABLE
    style = next(s for s in STYLES if s.name == style_name)
    text = HOSTILE_MESSAGES[message_name].replace(b"{story}", b"123")
    assert read(style.version, style.build(text, b"a", b"1"))[0] == got


REPAIRED = [
    ("bare ampersand", b"<source_commit><message>R&D</message><commit_id>1</commit_id></source_commit>", "R&D", {Repair.BARE_AMPERSAND}),
    ("bare lt", b"<source_commit><message>a < b</message><commit_id>1</commit_id></source_commit>", "a < b", {Repair.BARE_LT}),
    ("bash 5.2", b"<source_commit><message>a <lt; b >gt; c &amp; d</message><commit_id>1</commit_id></source_commit>", "a < b > c & d", {Repair.BASH_DOUBLING}),
    ("not utf-8", b"<source_commit><message>caf\xe9 & co</message><commit_id>1</commit_id></source_commit>", "caf\ufffd & co", {Repair.NOT_UTF8, Repair.BARE_AMPERSAND}),
    ("declared latin-1", b"<?xml version='1.0' encoding='ISO-8859-1'?><source_commit><message>caf\xe9 & co</message><commit_id>1</commit_id></source_commit>", "caf\xe9 & co", {Repair.BARE_AMPERSAND}),
    ("bare cdata end", b"<source_commit><message>a ]]> b</message><commit_id>1</commit_id></source_commit>", "a ]]> b", {Repair.BARE_CDATA_END}),
    ("cdata kept as text", b"<source_commit><message><![CDATA[<x> & y]]> & z</message><commit_id>1</commit_id></source_commit>", "<x> & y & z", {Repair.BARE_AMPERSAND}),
    ("numeric references", b"<source_commit><message>&#60;&#x3e; & &nbsp; &#0;</message><commit_id>1</commit_id></source_commit>", "<> & &nbsp; &#0;", {Repair.BARE_AMPERSAND}),
    ("crlf kept", b"<source_commit><message>a\r\nb</message><commit_id>1</commit_id></source_commit>", "a\r\nb", set()),
    ("unknown entity not expanded", b"<source_commit><message>&xxe; & more</message><commit_id>1</commit_id></source_commit>", "&xxe; & more", {Repair.BARE_AMPERSAND}),
    ("attributes and empty url", b'<?xml version="1.0"?>\n<source_commit type="x">\n <message a="b">x & y</message>\n <url/>\n <commit_id>1</commit_id>\n</source_commit>\n', "x & y", {Repair.BARE_AMPERSAND}),
    ("own closing tag not followed by a field", b"<source_commit><message>see </message> here & there</message><commit_id>1</commit_id></source_commit>", "see </message> here & there", {Repair.BARE_LT, Repair.BARE_AMPERSAND}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "message", "repairs"),
    [r[1:] for r in REPAIRED],
    ids=[r[0] for r in REPAIRED],
)
def test_each_xml_repair_is_named(body: bytes, message: str, repairs: set[Repair]) -> None:
    """Each kind of damage is repaired to the text meant, and named in the repairs."""
    got_message, _, got_repairs = read("v3", body)
    assert got_message == message
    assert set(got_repairs) == repairs


JSON_REPAIRED = [
    ("raw quote", b'{"source_commit":{"commit_id":"1","message":"say "hi""}}', 'say "hi"', {Repair.BARE_QUOTE}),
    ("stray backslash", b'{"source_commit":{"commit_id":"1","message":"C:\\Users"}}', "C:\\Users", {Repair.STRAY_BACKSLASH}),
    ("raw newline", b'{"source_commit":{"commit_id":"1","message":"a\nb\tc"}}', "a\nb\tc", {Repair.CONTROL_CHARACTER}),
    ("escapes still read", b'{"source_commit":{"message":"\\u00e9\\ud83d\\ude80 \\"q\\" \n","commit_id":7}}', 'é🚀 "q" \n', {Repair.CONTROL_CHARACTER}),
    ("null author", b'{"source_commit":{"commit_id":"1","author":null,"message":"a\tb"}}', "a\tb", {Repair.CONTROL_CHARACTER}),
    ("not utf-8", b'{"source_commit":{"commit_id":"1","message":"caf\xe9\n"}}', "caf\ufffd\n", {Repair.NOT_UTF8, Repair.CONTROL_CHARACTER}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "message", "repairs"),
    [r[1:] for r in JSON_REPAIRED],
    ids=[r[0] for r in JSON_REPAIRED],
)
def test_each_json_repair_is_named(body: bytes, message: str, repairs: set[Repair]) -> None:
    """Each kind of damage to v5 JSON is repaired to the text meant, and named."""
    got_message, _, got_repairs = read("v5", body)
    assert got_message == message
    assert set(got_repairs) == repairs


NOT_RECOGNISABLE = [
    ("v3", "no root", b"<message>a & b</message><commit_id>1</commit_id>"),
    ("v3", "text between fields", b"<source_commit>x<message>a & b</message><commit_id>1</commit_id></source_commit>"),
    ("v3", "unknown element", b"<source_commit><message>a & b</message><branch>m</branch><commit_id>1</commit_id></source_commit>"),
    ("v3", "field twice", b"<source_commit><message>a & b</message><message>c</message><commit_id>1</commit_id></source_commit>"),
    ("v3", "never closed", b"<source_commit><message>a & b<commit_id>1</commit_id></source_commit>"),
    ("v3", "truncated", b"<source_commit><message>a & b</message><commit_id>1</comm"),
    ("v5", "not an object", b'["source_commit", "a\nb"]'),
    ("v5", "unknown key", b'{"source_commit":{"commit_id":"1","branch":"m","message":"a\nb"}}'),
    ("v5", "key twice", b'{"source_commit":{"commit_id":"1","message":"a\nb","message":"c"}}'),
    ("v5", "truncated", b'{"source_commit":{"commit_id":"1","message":"a\nb'),
    ("v5", "value not text", b'{"source_commit":{"commit_id":"1","message":["a\nb"]}}'),
]  # fmt: skip


@pytest.mark.parametrize(
    ("version", "body"), [c[::2] for c in NOT_RECOGNISABLE], ids=[c[1] for c in NOT_RECOGNISABLE]
)
def test_what_is_not_recognisably_a_source_commit_is_400(version: str, body: bytes) -> None:
    """A broken body that is not a source_commit's shape is refused with one line, never guessed."""
    with pytest.raises(PayloadError) as caught:
        read(version, body)
    assert caught.value.status_hint == 400
    assert "\n" not in str(caught.value)


STILL_REFUSED = [
    ("doctype before a broken body", b'<!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]><source_commit><message>&x; & </message><commit_id>1</commit_id></source_commit>'),
    ("entity declaration inside a broken body", b"<source_commit><message><!ENTITY a 'b'> & </message><commit_id>1</commit_id></source_commit>"),
    ("processing instruction in a broken body", b"<source_commit><message><?php system('x') ?> & </message><commit_id>1</commit_id></source_commit>"),
    ("doctype after the declaration", b'<?xml version="1.0"?><!DOCTYPE source_commit SYSTEM "http://127.0.0.1:1/x.dtd"><source_commit><message>a & b</message><commit_id>1</commit_id></source_commit>'),
    ("billion laughs, broken", b'<!DOCTYPE s [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><source_commit><message>&b; <</message><commit_id>1</commit_id></source_commit>'),
    ("lower-case doctype, broken", b"<!doctype s><source_commit><message>a & b</message><commit_id>1</commit_id></source_commit>"),
    ("utf-16 declared, broken", b'<?xml version="1.0" encoding="utf-32"?><source_commit><message>&</message></source_commit>'),
]  # fmt: skip


@pytest.mark.parametrize("body", [s[1] for s in STILL_REFUSED], ids=[s[0] for s in STILL_REFUSED])
def test_dtds_entities_and_processing_instructions_are_refused_before_any_repair(
    body: bytes,
) -> None:
    """Every XML attack refused before is refused still, however broken the rest of the body."""
    with pytest.raises(PayloadError) as caught:
        ingest_v3_xml(body)
    assert caught.value.status_hint == 400
    assert "passwd" not in str(caught.value)


def test_well_formed_but_not_a_commit_is_422() -> None:
    """Readable XML or JSON that is not a commit Tracker could take is 422, as Tracker answered."""
    with pytest.raises(NotASourceCommit):
        ingest_v3_xml(b"<commit><message>m</message></commit>")
    with pytest.raises(NotASourceCommit):
        ingest_v5_json(b'{"source_commit": {"message": "m"}}')


# --- the scripts' escaping, checked against the real shells -------------------------------------

SHELL_MESSAGES = [m.replace(b"{story}", b"9") for m in HOSTILE_MESSAGES.values()]


def shell(script: str, interpreter: str, message: bytes) -> bytes:
    """What ``script`` prints, run by ``interpreter`` with ``$M`` holding ``message``."""
    return subprocess.run(
        [interpreter, "-c", script],
        env={b"PATH": os.environb[b"PATH"], b"LC_ALL": b"C", b"M": message},
        capture_output=True,
        check=True,
        timeout=10,
    ).stdout


def test_the_bash_escaping_is_what_bash_5_2_does() -> None:
    """``bash52_escape`` is byte for byte what Tracker's documented substitutions give in bash."""
    version = shell('printf %s "$BASH_VERSION"', "bash", b"")
    assert re.match(rb"5\.[2-9]|[6-9]\.", version), "the table models bash 5.2 or later"
    script = 'M=${M//&/&amp;}; M=${M//</&lt;}; M=${M//>/&gt;}; printf %s "$M"'
    for message in SHELL_MESSAGES:
        assert shell(script, "bash", message) == bash52_escape(message)


def test_the_sed_and_printf_styles_are_what_dash_does() -> None:
    """``sed_escape`` and the printf body are what ``dash``, ``sed`` and ``printf`` produce."""
    sed = "printf %s \"$M\" | sed -e 's/&/\\&amp;/g' -e 's/</\\&lt;/g' -e 's/>/\\&gt;/g'"
    body = "printf '<source_commit><message>%s</message><author>%s</author><commit_id>%s</commit_id></source_commit>' \"$M\" a r1"
    printf = next(s for s in STYLES if s.name == "printf")
    for message in SHELL_MESSAGES:
        assert shell(sed, "dash", message) == sed_escape(message)
        assert shell(body, "dash", message) == printf.build(message, b"a", b"r1")


# --- properties ---------------------------------------------------------------------------------


def xml_body(message: str, escape: object = None) -> bytes:
    """The body a script interpolating ``message`` (escaped with ``escape``) sends."""
    raw = message.encode("utf-8")
    if callable(escape):
        raw = escape(raw)
    return (
        b"<source_commit><message>"
        + raw
        + b"</message><author>a</author><commit_id>1</commit_id></source_commit>"
    )


def meant(text: str) -> str:
    """``text`` as a SourceCommit carries it (what any reader can give back)."""
    return sanitize_text(text.encode("utf-8", errors="surrogatepass"))


@given(st.text(min_size=1))
@example("</message><author>x")
@example("a <lt; b >gt; &amp; ]]> <![CDATA[")
def test_tracker_bash_script_bodies_are_read_back_for_any_text(text: str) -> None:
    """For any text, the body Tracker's documented script builds under bash 5.2 reads back to it."""
    text = meant(text)
    assume(text.strip())
    assert read("v3", xml_body(text, bash52_escape))[0] == text


# What raw interpolation cannot carry, because the body cannot tell it from markup: an entity or
# character reference (read as the character), a CDATA section (read as its text), bash 5.2's
# doublings (read as the character), a DTD, declaration or processing instruction (refused).
_RAW_AMBIGUOUS = re.compile(r"&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);|<!|<\?|<lt;|>gt;")


@given(st.text(min_size=1))
@example("R&D <b>x</b> ]]> 'a' \"b\" \r\n\t `x` $(y)")
@example("see </author><commit_id>2</commit_id> and </source_commit>")
def test_raw_interpolation_is_read_back_unless_the_text_holds_its_closing_tag(text: str) -> None:
    """For any text without its own closing tag (nor what raw interpolation cannot carry), the
    body a script builds with no escaping at all reads back to that text."""
    text = meant(text)
    assume(text.strip() and "</message" not in text and not _RAW_AMBIGUOUS.search(text))
    assert read("v3", xml_body(text))[0] == text


@given(st.text(), st.text())
@example("a", "<author>x")
@example("", "<commit_id>9</commit_id><author>evil")
@example("x", " tail & more")
def test_a_text_holding_its_own_closing_tag_is_cut_there_or_refused(
    before: str, after: str
) -> None:
    """A text holding ``</message>`` followed by another field's tag is cut at a ``</message>``
    (the message is the text up to one), or the body is refused: never read past the body."""
    text = meant(before) + "</message>" + meant(after)
    assume(not _RAW_AMBIGUOUS.search(text))
    try:
        message = read("v3", xml_body(text))[0]
    except PayloadError:
        return
    assert text == message or text.startswith(message + "</message>")


_JSON_AMBIGUOUS = re.compile(r'\\|"\s*,\s*"[A-Za-z_][A-Za-z0-9_]*"\s*:')


@given(st.text(min_size=1))
@example('say "hi", then \r\n\t leave')
def test_raw_json_interpolation_is_read_back(text: str) -> None:
    """For any text without a backslash (JSON escapes read as escapes) or a quote followed by
    another field's key, the JSON a script builds with no escaping reads back to that text."""
    text = meant(text)
    assume(text.strip() and not _JSON_AMBIGUOUS.search(text))
    body = b'{"source_commit":{"message":"' + text.encode() + b'","commit_id":"1"}}'
    assert read("v5", body)[0] == text


@given(st.binary(max_size=300))
def test_any_bytes_give_a_commit_or_a_payload_error(body: bytes) -> None:
    """Whatever arrives, the readers return a commit or raise the payload errors, nothing else."""
    for repair in (repair_v3_xml, repair_v5_json):
        with contextlib.suppress(PayloadError):
            repair(body)
    for version in ("v3", "v5"):
        with contextlib.suppress(PayloadError):
            read(version, body)
