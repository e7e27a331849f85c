"""Raw commit text to a ``SourceCommit``: the rules both hook forms follow."""

from __future__ import annotations

import pytest

from hookrelay.hooks.commit_text import (
    CommitText,
    commit_url,
    names_story,
    read_git_commit,
    read_svn_revision,
    source_commit,
)

TREE = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"


@pytest.mark.parametrize(
    ("raw", "author", "message"),
    [
        (TREE + b"author Ada L <a@x> 1 +0000\n\n[#1] hi\n", "Ada L", "[#1] hi"),
        (
            TREE + b"author Ada <a@x> 1 +0000\n\nsubject\r\n\r\nbody\r\n\n",
            "Ada",
            "subject\r\n\r\nbody",
        ),
        (TREE + b"author Jos\xe9 <a@x> 1 +0000\nencoding ISO-8859-1\n\ncaf\xe9", "José", "café"),
        (
            TREE + b"author Jos\xe9 <a@x> 1 +0000\nencoding x-unknown\n\ncaf\xe9",
            "Jos\ufffd",
            "caf\ufffd",
        ),
        (TREE + b"author a <b> <c@x> 1 +0000\n\nm", "a <b>", "m"),
        (TREE + b"committer only <c@x> 1 +0000\n", "", ""),
        (TREE + b"author A <a@x> 1 +0000\ngpgsig -----BEGIN\n \n -----END\n\n\nm\n", "A", "\nm"),
    ],
    ids=["plain", "crlf", "latin-1", "unknown-encoding", "angle-in-name", "no-author", "signed"],
)
def test_git_commit_object_is_read(raw: bytes, author: str, message: str) -> None:
    """The author is the first author header's name; the message follows the first blank line."""
    assert read_git_commit(raw) == CommitText(author, message)


def test_svn_output_is_read() -> None:
    """svnlook's author line and log (with its trailing newline) become the author and message."""
    text = read_svn_revision(b"ada\n", b"[#1] one\ntwo\n\n")
    assert text == CommitText("ada", "[#1] one\ntwo")


def test_commit_url_template() -> None:
    """%H in the template becomes the commit id; no template, no url."""
    assert commit_url("https://g/c/%H#%H", "abc") == "https://g/c/abc#abc"
    assert commit_url("", "abc") == ""


def test_story_verdict_uses_the_sanitised_message() -> None:
    """A control character Tracker would see as U+FFFD does not separate tokens."""
    glued = source_commit("1", CommitText("a", "[Finishes\x1c#12]"))
    spaced = source_commit("1", CommitText("a", "[Finishes\u2003#12]"))
    assert not names_story(glued)
    assert names_story(spaced)
