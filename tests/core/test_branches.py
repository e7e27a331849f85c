"""One rule says which branches relay, for the relay, the hooks and backfill alike."""

from __future__ import annotations

import pytest

from hookrelay.core.branches import branch_relays


@pytest.mark.parametrize(
    ("branch", "globs", "relays"),
    [
        ("main", (), True),
        ("main", ("main",), True),
        ("release/2.0", ("main", "release/*"), True),
        ("feature/x", ("main", "release/*"), False),
        ("Main", ("main",), False),
    ],
    ids=["no-globs-every-branch", "exact", "glob", "no-match", "case-sensitive"],
)
def test_a_branch_relays_when_no_glob_is_set_or_one_matches(
    branch: str, globs: tuple[str, ...], relays: bool
) -> None:
    """No globs relay every branch; otherwise the name must match a glob, case and all."""
    assert branch_relays(branch, globs) is relays
