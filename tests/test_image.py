"""The Docker image installs exactly what ``requirements.lock`` pins, with hashes."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pinned(lock: Path) -> dict[str, str]:
    """Package name (normalised) to pinned version, for every ``name==version`` in ``lock``."""
    pins = re.findall(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==(\S+)", lock.read_text(), re.MULTILINE)
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in pins}


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0]).lower()


def test_every_runtime_dependency_is_pinned_with_hashes() -> None:
    """Each of pyproject's dependencies is pinned in requirements.lock, and every pin has a hash
    (run scripts/lock after changing the dependencies)."""
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pinned = _pinned(ROOT / "requirements.lock")
    assert sorted(_name(d) for d in dependencies if _name(d) not in pinned) == []
    for lock in ("requirements.lock", "requirements-build.lock"):
        blocks = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / lock).read_text().strip())
        assert [b.split()[0] for b in blocks if "--hash=sha256:" not in b] == []


def test_the_dockerfile_installs_from_the_locks_only() -> None:
    """The image's pip installs demand hashes, and the project itself adds no unpinned package."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.count("--require-hashes") == 2
    assert "--no-deps dist/*.whl" in dockerfile
