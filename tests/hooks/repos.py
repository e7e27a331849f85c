"""Real git and Subversion repositories in a temporary folder, and ways to look at them.

``GitWorld`` is a bare "server" repository and a clone that commits and pushes to it;
``SvnWorld`` is an ``svnadmin create`` repository and a ``file://`` working copy. Commit text
goes in as exact bytes (``--cleanup=verbatim``, ``-F file``) so tests can hold the hook to what
was written.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hookrelay.cli import main as hookrelay_main
from hookrelay.core.ingest import read_v3_xml, read_v5_json
from hookrelay.core.source_commit import SourceCommit
from tests.support.recorder import Recorder

ZERO = "0" * 40
FORMS = ("shell", "python")

# A clean environment for git: no user config, a fixed identity, the test's PATH.
GIT_ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": "/nonexistent",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_AUTHOR_NAME": "Ada Lovelace",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada Lovelace",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
    "LC_ALL": "C.UTF-8",
    # Coverage's subprocess measurement (scripts/test), so the hooks git runs are measured too.
    **{name: value for name, value in os.environ.items() if name.startswith("COVERAGE_")},
}


def received_commits(recorder: Recorder) -> list[SourceCommit]:
    """Every ``source_commit`` the recorder got, parsed as its Content-Type says."""
    commits = []
    for request in list(recorder.received):
        content_type = {k.lower(): v for k, v in request.headers.items()}.get("content-type", "")
        reader = read_v5_json if "json" in content_type else read_v3_xml
        commits.append(reader(request.body))
    return commits


TEST_TOKEN = "t0k3n"


def install(
    kind: str, repo: Path, form: str, url: str, *extra: str, token: str = TEST_TOKEN
) -> None:
    """Install the hook of ``form`` ('shell' or 'python') into ``repo`` the way a user would."""
    argv = ["hooks", "install", kind, str(repo), "--url", url, "--token", token, *extra]
    if form == "shell":
        argv.append("--standalone")
    assert hookrelay_main(argv) == 0


@dataclass
class GitWorld:
    """A bare repository (the server, where post-receive runs) and a clone that pushes to it."""

    root: Path
    env: dict[str, str] = field(default_factory=lambda: dict(GIT_ENV))
    last_push: subprocess.CompletedProcess[bytes] | None = None

    def __post_init__(self) -> None:
        self.server = self.root / "server.git"
        self.clone = self.root / "clone"
        self.git(self.root, "init", "-q", "--bare", "-b", "main", str(self.server))
        self.git(self.root, "init", "-q", "-b", "main", str(self.clone))
        self.git(self.clone, "remote", "add", "origin", str(self.server))

    def git(self, where: Path, *args: str, stdin: bytes | None = None) -> str:
        """Run git in ``where``; its stdout, decoded."""
        result = subprocess.run(
            ["git", *args], cwd=where, env=self.env, input=stdin, capture_output=True, check=False
        )
        if result.returncode != 0:
            raise AssertionError(f"git {' '.join(args)}: {result.stderr.decode(errors='replace')}")
        return result.stdout.decode("utf-8", errors="replace")

    def commit(
        self,
        message: bytes | str,
        *,
        author: str | None = None,
        where: Path | None = None,
        config: Sequence[str] = (),
    ) -> str:
        """Commit ``message`` verbatim (a change to a file, so every commit is distinct);
        ``config`` holds ``key=value`` settings for this one commit (``git -c``)."""
        where = where or self.clone
        raw = message.encode() if isinstance(message, str) else message
        # A new file each time: every commit is distinct, and branches merge without conflicts.
        name = f"file-{time.monotonic_ns()}"
        (where / name).write_bytes(raw[:100])
        message_file = self.root / "message"
        message_file.write_bytes(raw)
        self.git(where, "add", name)
        env = dict(self.env)
        if author is not None:
            env["GIT_AUTHOR_NAME"] = author
        settings = [arg for setting in config for arg in ("-c", setting)]
        args = [
            *settings,
            "commit",
            "-q",
            "--no-verify",
            "--cleanup=verbatim",
            "-F",
            str(message_file),
        ]
        result = subprocess.run(
            ["git", *args], cwd=where, env=env, capture_output=True, check=False
        )
        assert result.returncode == 0, result.stderr
        return self.git(where, "rev-parse", "HEAD").strip()

    def commit_object(self, message: bytes, *, author: bytes = b"Ada Lovelace") -> str:
        """Commit exact bytes git's porcelain would convert (invalid UTF-8 in a message or an
        author name), by writing the commit object itself; the branch moves to it."""
        parent = self.git(self.clone, "rev-parse", "HEAD").strip()
        tree = self.git(self.clone, "rev-parse", "HEAD^{tree}").strip()
        raw = (
            f"tree {tree}\nparent {parent}\n".encode()
            + b"author "
            + author
            + b" <ada@example.com> 1700000000 +0000\n"
            + b"committer Ada <ada@example.com> 1700000000 +0000\n\n"
            + message
        )
        commit = self.git(self.clone, "hash-object", "-t", "commit", "-w", "--stdin", stdin=raw)
        self.git(self.clone, "update-ref", "HEAD", commit.strip())
        return commit.strip()

    def fast_import(self, messages: Sequence[bytes], branch: str = "main") -> list[str]:
        """Add one commit a message on top of ``branch`` in the clone, fast (git fast-import)."""
        parent = (
            subprocess.run(
                ["git", "rev-parse", "-q", "--verify", branch],
                cwd=self.clone,
                env=self.env,
                capture_output=True,
                check=False,
            )
            .stdout.decode()
            .strip()
        )  # empty on an unborn branch
        stream = bytearray()
        for number, message in enumerate(messages, start=1):
            content = str(number).encode()
            stream += f"commit refs/heads/{branch}\nmark :{number}\n".encode()
            stream += b"author Ada <ada@example.com> 1700000000 +0000\n"
            stream += b"committer Ada <ada@example.com> 1700000000 +0000\n"
            stream += b"data %d\n%s\n" % (len(message), message)
            if number == 1 and parent:
                stream += f"from {parent}\n".encode()
            stream += b"M 644 inline counter\ndata %d\n%s\n\n" % (len(content), content)
        self.git(self.clone, "fast-import", "--quiet", stdin=bytes(stream))
        listed = self.git(self.clone, "rev-list", "--reverse", f"-{len(messages)}", branch)
        return listed.split()

    def push(self, *refspecs: str) -> str:
        """Push from the clone; the hook's stderr (``remote:`` lines) is returned."""
        result = subprocess.run(
            ["git", "push", "-q", "origin", *refspecs],
            cwd=self.clone,
            env=self.env,
            capture_output=True,
            check=False,
        )
        self.last_push = result
        assert result.returncode == 0, result.stderr
        return result.stderr.decode("utf-8", errors="replace")

    def git_bytes(self, *args: str) -> bytes:
        """Run git in the server repository; its stdout as bytes."""
        return subprocess.run(
            ["git", *args], cwd=self.server, env=self.env, capture_output=True, check=True
        ).stdout

    def stored(self, commit: str) -> tuple[str, bytes]:
        """The author name and raw message bytes git stored for ``commit``."""
        author = self.git(self.server, "log", "-1", "--format=%an", commit).rstrip("\n")
        raw = subprocess.run(
            ["git", "cat-file", "commit", commit],
            cwd=self.server,
            env=self.env,
            capture_output=True,
            check=True,
        ).stdout
        return author, raw.split(b"\n\n", 1)[1]

    def state(self) -> Path:
        """The server's hookrelay folder (spool, log)."""
        return self.server / "hookrelay"


@dataclass
class SvnWorld:
    """A Subversion repository and a ``file://`` working copy that commits to it."""

    root: Path

    def __post_init__(self) -> None:
        self.repository = self.root / "repo"
        self.checkout = self.root / "wc"
        self.run(["svnadmin", "create", str(self.repository)], self.root)
        url = self.repository.as_uri()
        self.run(["svn", "checkout", "-q", url, str(self.checkout)], self.root)
        (self.checkout / "counter").write_text("0")
        self.run(["svn", "add", "-q", "counter"], self.checkout)
        self.added = False

    def run(self, argv: Sequence[str], where: Path) -> subprocess.CompletedProcess[bytes]:
        """Run an svn tool; fail the test if it fails."""
        env = {**GIT_ENV, "LC_ALL": "C.UTF-8"}
        result = subprocess.run(list(argv), cwd=where, env=env, capture_output=True, check=False)
        assert result.returncode == 0, result.stderr.decode(errors="replace")
        return result

    def commit(self, message: bytes | str, *, author: str = "ada") -> str:
        """Commit ``message`` as ``author``; the new revision number."""
        raw = message.encode() if isinstance(message, str) else message
        (self.checkout / "counter").write_text(str(time.monotonic_ns()))
        message_file = self.root / "message"
        message_file.write_bytes(raw)
        self.run(
            ["svn", "commit", "-q", "-F", str(message_file), "--username", author],
            self.checkout,
        )
        return self.youngest()

    def youngest(self) -> str:
        """The newest revision number."""
        return (
            self.run(["svnlook", "youngest", str(self.repository)], self.root)
            .stdout.decode()
            .strip()
        )

    def state(self) -> Path:
        """The repository's hookrelay folder (spool, log)."""
        return self.repository / "hookrelay"
