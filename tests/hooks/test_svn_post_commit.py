"""The Subversion post-commit hook, both forms, v3 and v5, against real ``file://`` commits.

Hostile log messages and author names go in through ``svn commit``; what the Tracker side
receives must equal what ``svnlook`` (under a UTF-8 locale) says the revision holds, and be
byte for byte what hookrelay's core renders. Subversion itself normalises CRLF to LF and
refuses invalid UTF-8, so those cases are git's (see ``test_git_hostile_text``).
"""

from __future__ import annotations

import itertools
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from hookrelay.core.ingest import read_v3_xml, read_v5_json
from hookrelay.core.source_commit import ApiVersion, SourceCommit, render
from tests.hooks.repos import FORMS, SvnWorld, install, received_commits
from tests.support.recorder import Recorder, Reply, running_recorder

pytestmark = pytest.mark.svn

MARK = "@MARK@"

CASES = {
    "xml-specials": ("[Finishes #201] & < > \" ' ]]> &amp;", 'Zoë "Q" O\'Brien & <co>'),
    "shell-expansions": (
        "[#202] $(touch @MARK@/dollar) `touch @MARK@/backtick` ${HOME} \\ '\"$(id)\"'",
        "eve$(touch @MARK@/author)`touch @MARK@/author2`",
    ),
    "control-characters": ("[#203] bell\x07 escape\x1b[31m \x01\x1f\x7f tab\there", "ctl\x01user"),
    "emoji-and-crlf": ("[#204] 🚀 naïve 日本語\r\nsecond line\r\n", "Zoë 🚀"),
    "body-100kb": ("[#205] big\n\n" + "0123456789 & <x> \"q\" 'a' ]]>é\n" * 3300, "big"),
    "no-story": ("Fixes #206 without brackets", "nobody"),
}


@dataclass
class Committed:
    """What one repository with every case committed produced."""

    world: SvnWorld
    version: ApiVersion
    revisions: dict[str, str]
    bodies: dict[str, bytes]


def svnlook(world: SvnWorld, what: str, revision: str) -> bytes:
    """What ``svnlook`` prints for a revision, under a UTF-8 locale."""
    return subprocess.run(
        ["svnlook", what, "-r", revision, str(world.repository)],
        env={**os.environ, "LC_ALL": "C.UTF-8"},
        capture_output=True,
        check=True,
    ).stdout


@pytest.fixture(
    scope="module",
    params=list(itertools.product(FORMS, ApiVersion)),
    ids=lambda p: f"{p[0]}-{p[1].value}",
)
def committed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Committed:
    """Every case committed to one repository, with the hook of one form and version."""
    form, version = request.param
    world = SvnWorld(tmp_path_factory.mktemp(f"svn-{form}-{version.value}"))
    marks = world.root / "marks"
    marks.mkdir()
    with running_recorder() as recorder:
        install(
            "svn",
            world.repository,
            form,
            f"{recorder.url}/services/{version.value}",
            "--foreground-seconds",
            "60",
            "--commit-url",
            "https://svn.example.com/r%H",
        )
        revisions = {
            name: world.commit(
                message.replace(MARK, str(marks)), author=author.replace(MARK, str(marks))
            )
            for name, (message, author) in CASES.items()
        }
        reader = read_v3_xml if version is ApiVersion.V3 else read_v5_json
        bodies = {reader(r.body).commit_id: r.body for r in recorder.received}
    return Committed(world, version, revisions, bodies)


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_hostile_revision_arrives_with_exact_fields(committed: Committed, name: str) -> None:
    """Each story revision arrives once and equals svnlook's view and the core's rendering."""
    revision = committed.revisions[name]
    if name == "no-story":
        assert revision not in committed.bodies
        return
    want = SourceCommit.of(
        commit_id=revision,
        message=svnlook(committed.world, "log", revision).rstrip(b"\r\n"),
        author=svnlook(committed.world, "author", revision).rstrip(b"\n"),
        url=f"https://svn.example.com/r{revision}",
    )
    body = committed.bodies[revision]
    reader = read_v3_xml if committed.version is ApiVersion.V3 else read_v5_json
    assert reader(body) == want
    assert body == render(want, committed.version)


def test_svn_kept_the_hostile_text(committed: Committed) -> None:
    """svnlook reports the messages and authors as written (CRLF aside), so the check is exact."""
    for name, (message, author) in CASES.items():
        revision = committed.revisions[name]
        marks = str(committed.world.root / "marks")
        logged = svnlook(committed.world, "log", revision).decode()
        assert logged.rstrip("\n") == message.replace(MARK, marks).replace("\r\n", "\n").rstrip()
        assert (
            svnlook(committed.world, "author", revision).decode()
            == author.replace(MARK, marks) + "\n"
        )


def test_nothing_in_hostile_text_is_executed(committed: Committed) -> None:
    """No command substitution in a log message or author name ever ran."""
    assert list((committed.world.root / "marks").iterdir()) == []
    assert not list(Path(committed.world.root).rglob("dollar*"))


def test_tracker_down_spools_and_the_next_commit_delivers_oldest_first(
    svn_world: SvnWorld, recorder: Recorder, form: str
) -> None:
    """A 503 leaves the revision spooled; the next commit sends it first, then its own."""
    install("svn", svn_world.repository, form, f"{recorder.url}/services/v3")
    recorder.default = Reply(503, b"down for maintenance")
    first = svn_world.commit("[#1] first")
    assert len(list((svn_world.state() / "spool").iterdir())) == 1
    recorder.default = Reply(200, b"<source_commit/>")
    second = svn_world.commit("[#2] second")
    assert [c.commit_id for c in received_commits(recorder)] == [first, first, second]
    assert not list((svn_world.state() / "spool").iterdir())
    log = (svn_world.state() / "hookrelay.log").read_text()
    assert f"waiting {first}: Tracker unavailable (HTTP 503" in log
    assert f"sent {second}: HTTP 200" in log
