"""Old hook scripts, pointed at ``hookrelay serve`` by their host only, get every commit through.

The bodies every script style builds (``tests/support/old_scripts.py``) go to a real ``serve``
delivering to the emulator; Tracker's documented Subversion hook runs in a real ``svn commit``
through ``file://``; a curl ``post-receive`` runs in a real ``git push``. Each story's comment
must be exactly the message the script started from.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from hookrelay.core.source_commit import SourceCommit
from hookrelay.emulator.world import commit_comment_text
from tests.e2e.process import ServeProcess, hookrelay_serve
from tests.hooks.repos import GitWorld, SvnWorld
from tests.support.emulator import RunningEmulator, running_emulator
from tests.support.old_scripts import HOSTILE_MESSAGES, cases
from tests.support.waiting import wait_until

SCRIPTS = Path(__file__).parents[1] / "scripts"
TOKEN = "old-scripts-token"
AUTHOR = 'Zoë <zoe&co> "Z" O\'Neil'.encode()


@dataclass
class Setup:
    """A running serve, the emulator it delivers to, and a project to make stories in."""

    serve: ServeProcess
    tracker: RunningEmulator
    project: int

    def comments_of(self, stories: list[int], within: float = 60.0) -> list[str]:
        """The one comment of each story, waiting until every story has it."""
        found: list[list[dict[str, Any]]] = []

        def every_story_commented() -> bool:
            found[:] = [self.tracker.comments(self.project, s) for s in stories]
            return all(found)

        wait_until(
            every_story_commented,
            within,
            lambda: f"{sum(1 for f in found if not f)} of {len(stories)} stories still uncommented",
            every=0.1,
        )
        return [comments[0]["text"] for comments in found]


@contextmanager
def running_setup(tmp_path: Path) -> Iterator[Setup]:
    """The emulator, and ``hookrelay serve`` delivering to it with the scripts' token known."""
    with running_emulator(token=TOKEN) as tracker:
        env = {
            "HOOKRELAY_TRACKER_URL": tracker.v5_url,
            "HOOKRELAY_TRACKER_TOKEN": TOKEN,
            "HOOKRELAY_DATABASE_URL": f"sqlite:///{tmp_path / 'queue.db'}",
            "HOOKRELAY_POLL_INTERVAL": "0.05",
            "HOOKRELAY_CONCURRENCY": "8",
        }
        with hookrelay_serve(env) as serve:
            yield Setup(serve, tracker, tracker.create_project("old scripts"))


def expected_comment(commit_id: str, message: bytes, author: bytes) -> str:
    """The comment Tracker writes for the commit the script meant to send."""
    meant = SourceCommit.of(commit_id=commit_id, message=message, author=author)
    return commit_comment_text(meant)


def test_every_script_styles_body_comments_exactly_the_message(tmp_path: Path) -> None:
    """Each script style's body for each hostile message, posted to serve, comments the message."""
    with running_setup(tmp_path) as setup:
        stories, expected = [], []
        for number, (style, name, message) in enumerate(cases()):
            story = setup.tracker.create_story(setup.project, f"{style.name}: {name}")
            text = message.replace(b"{story}", str(story).encode())
            commit_id = f"r{number}"
            answer = httpx.post(
                f"{setup.serve.url}/services/{style.version}/source_commits",
                content=style.build(text, AUTHOR, commit_id.encode()),
                headers={  # what `curl -d` labels any body with
                    "X-TrackerToken": TOKEN,
                    "Content-Type": "application/x-www-form-urlencoded",
                },
                timeout=10,
            )
            assert answer.status_code == 200, (style.name, name, answer.text)
            stories.append(story)
            expected.append(expected_comment(commit_id, text, AUTHOR))
        assert setup.comments_of(stories) == expected
        assert setup.serve.logged("(repaired: ")


def install_script(path: Path, script: str, serve_url: str) -> None:
    """Copy ``script`` to ``path`` with its host and token filled in, as a team would."""
    text = (SCRIPTS / script).read_text(encoding="utf-8")
    text = text.replace("https://www.pivotaltracker.com", serve_url)
    text = text.replace("YOUR_TRACKER_API_TOKEN", TOKEN)
    path.write_text(text, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


# Subversion keeps log messages as UTF-8 with LF line ends (svn commit turns CRLF into LF, and
# refuses bytes that are not text in the locale): the hook starts from what svn stored.
SVN_MESSAGES = [name for name in HOSTILE_MESSAGES if name != "latin-1 bytes"]


def test_trackers_documented_svn_hook_in_a_real_svn_commit(tmp_path: Path) -> None:
    """Tracker's own svn example, host changed, run by ``svn commit``: every message arrives."""
    (tmp_path / "svn").mkdir()
    svn = SvnWorld(tmp_path / "svn")
    hook = svn.repository / "hooks" / "post-commit"
    with running_setup(tmp_path) as setup:
        install_script(hook, "tracker-svn-post-commit", setup.serve.url)
        # Subversion runs hooks with an empty environment; hooks-env is how an admin gives it one.
        (svn.repository / "conf" / "hooks-env").write_text(
            f"[default]\nPATH = {os.environ['PATH']}\nLC_ALL = C.UTF-8\n", encoding="utf-8"
        )
        stories, expected = [], []
        for name in SVN_MESSAGES:
            story = setup.tracker.create_story(setup.project, f"svn: {name}")
            message = HOSTILE_MESSAGES[name].replace(b"{story}", str(story).encode())
            revision = svn.commit(message, author="ada")
            stories.append(story)
            # $(svnlook log) drops the trailing line breaks: the script starts from that text.
            stored = message.replace(b"\r\n", b"\n").rstrip(b"\n")
            expected.append(expected_comment(revision, stored, b"ada"))
        assert setup.comments_of(stories) == expected


def test_a_curl_post_receive_in_a_real_git_push(tmp_path: Path) -> None:
    """A post-receive that puts ``$MESSAGE`` into XML raw, run by ``git push``: all arrive."""
    (tmp_path / "git").mkdir()
    git = GitWorld(tmp_path / "git")
    git.commit("initial, before the hook")
    git.push("main")
    with running_setup(tmp_path) as setup:
        install_script(
            git.server / "hooks" / "post-receive", "curl-git-post-receive", setup.serve.url
        )
        stories, commits = [], []
        for name, message in HOSTILE_MESSAGES.items():
            story = setup.tracker.create_story(setup.project, f"git: {name}")
            text = message.replace(b"{story}", str(story).encode())
            stories.append(story)
            commits.append((git.commit(text, author="Zoë d'Arc <&>"), text))
        pushed = git.push("main")
        assert "posted the commits of refs/heads/main" in pushed
        # The script starts from $(git log --format=%B): git's text for the message (a Latin-1
        # message comes out re-encoded as UTF-8) without its trailing line breaks; git itself
        # keeps no < or > in a name.
        expected = [
            expected_comment(
                commit,
                git.git_bytes("log", "-1", "--pretty=format:%B", commit).rstrip(b"\n"),
                git.git_bytes("log", "-1", "--pretty=format:%an", commit),
            )
            for commit, _ in commits
        ]
        assert [e.rsplit("] ", 1)[-1] for e in expected[:2]] == [
            "R&D & friends",
            "if a < b && c > d then <b>bold</b>",
        ]
        assert setup.comments_of(stories) == expected


@pytest.mark.parametrize("script", sorted(p.name for p in SCRIPTS.iterdir()))
def test_the_scripts_are_kept_as_their_authors_wrote_them(script: str) -> None:
    """The script files keep Tracker's host and a token placeholder: the test fills both in."""
    text = (SCRIPTS / script).read_text(encoding="utf-8")
    assert "https://www.pivotaltracker.com/services/v3/source_commits" in text
    assert 'TOKEN="YOUR_TRACKER_API_TOKEN"' in text
