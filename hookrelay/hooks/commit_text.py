"""A commit's text as both hook forms read it: raw bytes in, a ``SourceCommit`` out, no I/O.

The shell hooks (``hooks/``) implement the same rules in awk, and the tests hold the two to the
same bytes, so these rules are the contract:

* A git commit object is headers, an empty line, then the message. The author is the first
  ``author`` header without its trailing `` <email> timestamp zone``.
* Text is UTF-8 (bytes that are not become U+FFFD), or ISO-8859-1 when the commit's
  ``encoding`` header names it. Any other declared encoding is read as UTF-8: git itself has
  written UTF-8 by default for two decades, and the shell has no portable transcoder.
* Line breaks (CR and LF) at the end of the message are dropped; everything else is kept.
* ``%H`` in a commit URL template becomes the commit id (a git hash or an svn revision).
"""

from __future__ import annotations

from dataclasses import dataclass

from hookrelay.core.messages import parse_message
from hookrelay.core.source_commit import SourceCommit

__all__ = [
    "CommitText",
    "commit_url",
    "decode_commit_text",
    "names_story",
    "read_git_commit",
    "read_svn_revision",
    "source_commit",
]

# Python's aliases of latin-1 (encodings.aliases), spelled as git users write them.
_LATIN_1 = frozenset(
    {"iso-8859-1", "iso8859-1", "iso_8859-1", "iso88591", "latin1", "latin-1", "l1", "cp819"}
)


@dataclass(frozen=True, slots=True)
class CommitText:
    """The author name and message of one commit, decoded but not yet sanitised."""

    author: str
    message: str


def decode_commit_text(raw: bytes, encoding: str = "") -> str:
    """Decode ``raw`` as UTF-8 with U+FFFD for bad bytes, or as ISO-8859-1 when named so."""
    if encoding.strip().lower() in _LATIN_1:
        return raw.decode("latin-1")
    return raw.decode("utf-8", errors="replace")


def read_git_commit(raw: bytes) -> CommitText:
    """Read the author name and message out of a raw git commit object."""
    lines = raw.split(b"\n")
    end = lines.index(b"") if b"" in lines else len(lines)
    author: bytes | None = None
    encoding = ""
    for line in lines[:end]:
        if author is None and line.startswith(b"author "):
            author = line[len(b"author ") :]
            cut = author.rfind(b" <")
            if cut >= 0:
                author = author[:cut]
        elif line.startswith(b"encoding "):
            encoding = line[len(b"encoding ") :].decode("ascii", errors="replace")
    message = b"\n".join(lines[end + 1 :])
    return CommitText(
        author=decode_commit_text(author or b"", encoding),
        message=decode_commit_text(message, encoding).rstrip("\r\n"),
    )


def read_svn_revision(author: bytes, log: bytes) -> CommitText:
    """Read what ``svnlook author`` and ``svnlook log`` printed (UTF-8) for one revision."""
    return CommitText(
        author=decode_commit_text(author.split(b"\n", 1)[0]),
        message=decode_commit_text(log).rstrip("\r\n"),
    )


def commit_url(template: str, commit_id: str) -> str:
    """The ``url`` field: the template with ``%H`` replaced by the commit id ('' without one)."""
    return template.replace("%H", commit_id)


def source_commit(commit_id: str, text: CommitText, url_template: str = "") -> SourceCommit:
    """The ``source_commit`` a hook sends for one commit."""
    return SourceCommit.of(
        commit_id=commit_id,
        message=text.message,
        author=text.author,
        url=commit_url(url_template, commit_id),
    )


def names_story(commit: SourceCommit) -> bool:
    """Whether Tracker would act on the commit: its (sanitised) message names a story."""
    return bool(parse_message(commit.message))
