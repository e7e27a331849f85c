"""Hostile commit messages and author names through a real push, both forms, v3 XML and v5 JSON.

One push a (form, API version) carries every case of the table as its own commit; each case is
then checked on its own: the body Tracker received parses, equals what git stored (read back
with ``git log``, independently of the hook's code), and is byte for byte what hookrelay's core
renders. Nothing in the text is ever run: markers that ``$(…)`` or backticks would create must
not exist.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import pytest

from hookrelay.core.ingest import read_v3_xml, read_v5_json
from hookrelay.core.source_commit import ApiVersion, SourceCommit, render
from tests.hooks.repos import FORMS, GitWorld, install
from tests.support.recorder import running_recorder
from tests.support.waiting import wait_until

MARK = "@MARK@"  # replaced by a path under the test's folder


@dataclass(frozen=True)
class Case:
    """One hostile commit: its message bytes, its author, any per-commit git settings."""

    message: bytes
    author: str = "Ada Lovelace"
    config: tuple[str, ...] = ()
    sent: bool = True
    as_object: bool = False  # written as a raw commit object: git commit would convert it


CASES = {
    "xml-specials": Case(b"[Finishes #101] & < > \" ' ]]> &amp; <![CDATA[x]]> done"),
    "shell-expansions": Case(
        b"[#102] $(touch @MARK@/dollar) `touch @MARK@/backtick` ${HOME} $HOME \\ \\n '\"$(id)\"'",
        author="Eve $(touch @MARK@/author) `touch @MARK@/author2` ${PATH}",
    ),
    "control-characters": Case(
        b"[#103] bell\x07 escape\x1b[31m \x01\x02\x0b\x0c\x1f\x7f tab\there",
        author="Ctl\x01Char\x1fName",
    ),
    "emoji-and-scripts": Case(
        "[#104] 🚀 naïve 日本語 עברית \u2028 \ufeff".encode(), author="Zoë 🚀 Ørsted"
    ),
    "crlf": Case(b"[Finishes #105] subject\r\n\r\nbody line\r\nlast\r\n"),
    "body-100kb": Case(b"[#106] big\n\n" + b"0123456789 & <x> \"q\" 'a' ]]>\xc3\xa9\n" * 3300),
    "invalid-utf8": Case(
        b"[#107] \xff\xfe \xc3\x28 \xe2\x82 \xed\xa0\x80 \xf0\x9f\x9a \xc0\xaf end\n",
        author="Bad\udcffUTF-8\udcc3",
        as_object=True,
    ),
    "unknown-encoding": Case(
        b"[#115] says EBCDIC, is UTF-8: \xc3\xa9 \xff", config=("i18n.commitEncoding=no-such",)
    ),
    "latin-1-commit": Case(
        "[#108] café crème".encode("latin-1"),
        author="José",
        config=("i18n.commitEncoding=ISO-8859-1",),
    ),
    "author-quotes-and-brackets": Case(
        b"[#109] author", author='Zo\u00eb "Q" O\'Brien & <co> \\ ]]>'
    ),
    "unicode-separator": Case("[Finishes\u00a0#110]".encode()),
    "json-escapes": Case(b'[#111] back\\slash "quoted" \\u0041 /slash/ \\"'),
    "trailing-newlines": Case(b"[#112] keep\n\n  inner  \nend\n\n\r\n\n"),
    "no-brackets-no-story": Case(b"Fixes #113 without brackets", sent=False),
    "only-text": Case(b"[Finishes] no id; #114 outside", sent=False),
}


@dataclass
class Pushed:
    """What one push of every case produced."""

    world: GitWorld
    version: ApiVersion
    commits: dict[str, str]
    bodies: dict[str, bytes]
    content_types: set[str]


@pytest.fixture(
    scope="module",
    params=list(itertools.product(FORMS, ApiVersion)),
    ids=lambda p: f"{p[0]}-{p[1].value}",
)
def pushed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Pushed:
    """Every case committed and pushed in one push, with the hook of one form and version."""
    form, version = request.param
    world = GitWorld(tmp_path_factory.mktemp(f"hostile-{form}-{version.value}"))
    marks = world.root / "marks"
    marks.mkdir()
    with running_recorder() as recorder:
        install(
            "git",
            world.server,
            form,
            f"{recorder.url}/services/{version.value}",
            "--foreground-seconds",
            "60",
            "--commit-url",
            "https://git.example.com/c/%H?a&b",
        )
        commits = {}
        for name, case in CASES.items():
            message = case.message.replace(MARK.encode(), str(marks).encode())
            author = case.author.replace(MARK, str(marks))
            if case.as_object:
                raw_author = author.encode("utf-8", errors="surrogateescape")
                commits[name] = world.commit_object(message, author=raw_author)
            else:
                commits[name] = world.commit(message, author=author, config=case.config)
        world.push("main")
        # The hook sends the oldest few while the push waits and the rest in the background.
        stories = sum(1 for case in CASES.values() if case.sent)
        wait_until(lambda: len(recorder.received) >= stories, 30, "every story commit")
        wait_until(lambda: not (world.state() / "lock").exists(), 30, "the sender to finish")
        bodies = {}
        content_types = set()
        for received in recorder.received:
            reader = read_v3_xml if version is ApiVersion.V3 else read_v5_json
            bodies[reader(received.body).commit_id] = received.body
            content_types.add(received.headers["Content-Type"])
    return Pushed(world, version, commits, bodies, content_types)


def expected(world: GitWorld, commit: str) -> SourceCommit:
    """What Tracker should get for ``commit``, from git's own view of it (``git log``)."""
    message = world.git_bytes("log", "-1", "--format=%B", commit).rstrip(b"\r\n")
    author = world.git_bytes("log", "-1", "--format=%an", commit).rstrip(b"\n")
    return SourceCommit.of(
        commit_id=commit,
        message=message,
        author=author,
        url=f"https://git.example.com/c/{commit}?a&b",
    )


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_hostile_commit_arrives_with_exact_fields(pushed: Pushed, name: str) -> None:
    """Each story commit arrives once, parses, equals git's own view and the core's rendering."""
    commit = pushed.commits[name]
    if not CASES[name].sent:
        assert commit not in pushed.bodies
        return
    want = expected(pushed.world, commit)
    body = pushed.bodies[commit]
    reader = read_v3_xml if pushed.version is ApiVersion.V3 else read_v5_json
    assert reader(body) == want
    assert body == render(want, pushed.version)


def test_git_stored_the_hostile_messages_verbatim(pushed: Pushed) -> None:
    """The fixture's commits hold exactly the bytes written, so the comparison above is exact."""
    marks = str(pushed.world.root / "marks").encode()
    for name, case in CASES.items():
        if case.config:
            continue  # an encoding header: git log re-encodes on purpose
        _, raw = pushed.world.stored(pushed.commits[name])
        assert raw == case.message.replace(MARK.encode(), marks), name


def test_nothing_in_hostile_text_is_executed(pushed: Pushed) -> None:
    """No command substitution in a message or author name ever ran."""
    assert list((pushed.world.root / "marks").iterdir()) == []
    assert not list(Path(pushed.world.root).rglob("dollar*"))


def test_bodies_carry_the_versions_content_type(pushed: Pushed) -> None:
    """v3 bodies go as application/xml, v5 bodies as application/json."""
    assert pushed.content_types == {pushed.version.content_type}
