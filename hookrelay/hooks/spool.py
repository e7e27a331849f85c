"""Commits a hook has yet to hand to Tracker, kept in the repository until Tracker takes them.

Layout, shared with the shell hooks so either form can send what the other spooled::

    <state>/spool/<stamp>.<pid>.<n>.<commit id>  one file a commit; names sort in the order the
                                                 commits were spooled; it holds how many runs
                                                 Tracker failed it (empty: 0)
    <state>/spool/<stamp>.<pid>.batch            commits a hook spooled and no sender has yet
                                                 made into entries: their ids, oldest first
    <state>/refused/<same name>                  commits Tracker refused for good (see the log)
    <state>/lock/pid                             held by the one hook sending right now

``<state>`` is ``$GIT_DIR/hookrelay`` or ``<svn repository>/hookrelay``. ``<stamp>`` is the
time in seconds, or one more than the newest stamp already spooled when that is later: two
pushes in one second sort in the order they were spooled, whatever their process ids (which
wrap). Only hooks spooling at the very same moment share a stamp, and their order is theirs
to pick. The lock is a ``hookrelay.hooks.dirlock``.

A hook spools a push as one batch file (written aside, then renamed in): creating a file a
commit costs a push of a thousand commits most of a second on some file systems, and the
pusher should not wait for it. The sender, holding the lock, turns each batch into its entries
(``<stamp>.<pid>.<line>.<id>``, sorting where the batch did) before it sends; doing that twice
after a crash makes the same names again, so nothing is sent twice for it.

In a repository shared with a group (git's ``core.sharedRepository``) the folders are made
group-writable and setgid, as git makes its own objects folders, and the hook runs with umask
007; otherwise they are private (0700, umask 077). Nothing is ever world-readable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hookrelay.hooks import dirlock

__all__ = ["Spool", "SpoolEntry"]

_COMMIT_ID = re.compile(r"^[0-9a-f]+$")
_BATCH = ".batch"


@dataclass(frozen=True, slots=True, order=True)
class SpoolEntry:
    """One spooled commit, named so that names sort oldest first."""

    name: str

    @property
    def commit_id(self) -> str:
        """The git hash or svn revision this entry stands for."""
        return self.name.rsplit(".", 1)[-1]

    @property
    def stamp(self) -> int:
        """The number the name starts with (0 when it is not one)."""
        head = self.name.split(".", 1)[0]
        return int(head) if head.isdigit() else 0


class Spool:
    """The spool folder of one repository (see the module's layout)."""

    def __init__(self, state: Path, *, shared: bool = False) -> None:
        self.state = state
        self.shared = shared
        self.folder = state / "spool"
        self.refused_folder = state / "refused"
        self._lock = state / "lock"

    def create(self) -> None:
        """Make the folders: private to the user the hook runs as, or, in a shared repository,
        group-writable and setgid (a folder another user made is left as it is)."""
        mode = 0o2770 if self.shared else 0o700
        for folder in (self.state, self.folder, self.refused_folder):
            folder.mkdir(mode=mode & 0o777, parents=True, exist_ok=True)
            if self.shared:
                try:
                    if folder.stat().st_uid == os.geteuid():
                        folder.chmod(mode)
                except OSError:
                    pass
        if self.shared:
            # Files an earlier, private run made; the git hook's token the group's pushes
            # must read (and nobody change).
            for name, file_mode in (
                ("hookrelay.log", 0o660),
                ("accounted", 0o660),
                ("token", 0o640),
            ):
                try:
                    path = self.state / name
                    if path.stat().st_uid == os.geteuid():
                        path.chmod(file_mode)
                except OSError:
                    pass

    def add(self, commit_ids: Iterable[str], *, now: int, pid: int) -> int:
        """Spool each commit not already waiting, in the given (oldest first) order, after
        every commit already spooled (see the module's layout for the stamp), as one batch."""
        for _ in range(3):
            # A batch a sender expands between the listing and its reading is listed again,
            # so that its commits are seen as waiting (as entries, now).
            pending = self.pending()
            batches = {batch: self._batch_ids(batch) for batch in self._batches()}
            if None not in batches.values():
                break
        waiting = {entry.commit_id for entry in pending}
        stamps = [entry.stamp + 1 for entry in pending[-1:]]
        for batch, ids in batches.items():
            waiting.update(ids or [])
            stamps.append(SpoolEntry(batch.name).stamp + 1)
        new: list[str] = []
        for commit_id in commit_ids:
            if _COMMIT_ID.match(commit_id) and commit_id not in waiting:
                waiting.add(commit_id)
                new.append(commit_id)
        if new:
            name = f"{max([now, *stamps]):010d}.{pid:07d}{_BATCH}"
            staged = self.folder / f".{name}.new"  # not an entry, nor a batch, until renamed
            staged.write_text("".join(f"{commit_id}\n" for commit_id in new), encoding="ascii")
            staged.replace(self.folder / name)
        return len(new)

    def expand(self) -> None:
        """Turn every batch into its entries (call it holding the lock, before sending)."""
        for batch in self._batches():
            prefix = batch.name.removesuffix(_BATCH)
            for number, commit_id in enumerate(self._batch_ids(batch) or [], start=1):
                entry = self.folder / f"{prefix}.{number:06d}.{commit_id}"
                os.close(os.open(entry, os.O_WRONLY | os.O_CREAT, 0o666))
            batch.unlink(missing_ok=True)

    def waiting(self) -> int:
        """How many commits wait, in entries and in batches."""
        return len(self.pending()) + sum(len(self._batch_ids(b) or []) for b in self._batches())

    def pending(self) -> list[SpoolEntry]:
        """Every spooled commit made into an entry, oldest first."""
        try:
            names = [path.name for path in self.folder.iterdir()]
        except FileNotFoundError:
            return []
        return sorted(SpoolEntry(name) for name in names if _COMMIT_ID.match(name.rsplit(".")[-1]))

    def _batches(self) -> list[Path]:
        try:
            return sorted(self.folder.glob(f"[0-9]*{_BATCH}"))
        except FileNotFoundError:
            return []

    @staticmethod
    def _batch_ids(batch: Path) -> list[str] | None:
        """The ids in a batch; None when a sender has just expanded it."""
        try:
            text = batch.read_text(encoding="ascii", errors="replace")
        except FileNotFoundError:
            return None
        return [line for line in text.split() if _COMMIT_ID.match(line)]

    def remove(self, entry: SpoolEntry) -> None:
        """Forget an entry: it was delivered, names no story, or its commit is gone."""
        (self.folder / entry.name).unlink(missing_ok=True)

    def count_failure(self, entry: SpoolEntry) -> int:
        """Note one more run in which Tracker failed this entry; how many there have been."""
        path = self.folder / entry.name
        try:
            text = path.read_text(encoding="ascii", errors="replace").strip()
        except FileNotFoundError:
            return 0
        failures = (int(text) if text.isdigit() else 0) + 1
        path.write_text(f"{failures}\n", encoding="ascii")
        return failures

    def refuse(self, entry: SpoolEntry) -> None:
        """Move an entry Tracker refused for good aside, where a person can look at it."""
        source = self.folder / entry.name
        if source.exists():
            source.replace(self.refused_folder / entry.name)

    def try_lock(self) -> bool:
        """Take the sending lock; False when another live hook holds it."""
        return dirlock.try_take(self._lock)

    def unlock(self) -> None:
        """Give the sending lock back."""
        dirlock.release(self._lock)
