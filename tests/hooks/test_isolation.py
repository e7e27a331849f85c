"""A repository's own files never run in place of hookrelay when its Python hook fires."""

from __future__ import annotations

from pathlib import Path

from hookrelay.core.source_commit import SourceCommit
from tests.hooks.repos import GitWorld, install, received_commits
from tests.support.recorder import Recorder

IMPOSTOR = "from pathlib import Path\nPath({marker!r}).write_text('ran')\n"


def test_a_repositorys_own_hookrelay_package_is_not_run(
    git_world: GitWorld, recorder: Recorder, tmp_path: Path
) -> None:
    """A working tree holding hookrelay/__main__.py and logging.py: the commit is relayed by the
    installed hookrelay, and neither file runs."""
    marker = tmp_path / "impostor-ran"
    (git_world.clone / "hookrelay").mkdir()
    for name in ("hookrelay/__init__.py", "hookrelay/__main__.py", "logging.py"):
        (git_world.clone / name).write_text(IMPOSTOR.format(marker=str(marker)))
    install("git", git_world.clone, "python", f"{recorder.url}/services/v5")
    commit = git_world.commit("[Finishes #7] beside an impostor\n")
    assert received_commits(recorder) == [
        SourceCommit(commit, "[Finishes #7] beside an impostor", "Ada Lovelace", "")
    ]
    assert not marker.exists()
