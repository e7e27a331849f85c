"""Hook settings: the svn conf file, the checks, and the branch filter."""

from __future__ import annotations

import pytest

from hookrelay.core.source_commit import ApiVersion
from hookrelay.exceptions import ConfigError
from hookrelay.hooks.settings import HookSettings, parse_conf, render_conf

URL = "https://t.example/services/v3"


def test_conf_round_trips_and_the_last_line_wins() -> None:
    """render_conf writes what parse_conf reads; comments are skipped, repeats override."""
    text = render_conf({"url": URL, "token": "t", "commiturl": "https://s/r%H#x"})
    assert parse_conf(text) == {"url": URL, "token": "t", "commiturl": "https://s/r%H#x"}
    assert parse_conf("# url = no\n  url =  a  \nurl=b\n") == {"url": "b"}


def test_settings_from_values() -> None:
    """Values become a checked target, token and options."""
    settings = HookSettings.from_values(
        {
            "url": URL,
            "token": "t",
            "branches": "main, release/*",
            "allcommits": "Yes",
            "foregroundseconds": "9",
        }
    )
    assert settings.target.version is ApiVersion.V3
    assert settings.branches == ("main", "release/*")
    assert settings.all_commits
    assert settings.foreground_seconds == 9


@pytest.mark.parametrize(
    "values",
    [{"token": "t"}, {"url": URL}, {"url": "https://t.example/api", "token": "t"}],
    ids=["no-url", "no-token", "no-version"],
)
def test_missing_or_bad_settings_are_config_errors(values: dict[str, str]) -> None:
    """A hook without a usable URL or token says so with a ConfigError."""
    with pytest.raises(ConfigError):
        HookSettings.from_values(values)


@pytest.mark.parametrize(
    ("branches", "ref", "wanted"),
    [
        ("", "refs/heads/anything", True),
        ("", "refs/tags/v1", True),
        ("main", "refs/heads/main", True),
        ("main", "refs/heads/mainline", False),
        ("main release/*", "refs/heads/release/1.0", True),
        ("main", "refs/tags/main", False),
        ("main", "HEAD", False),
    ],
    ids=[
        "no-filter",
        "no-filter-tag",
        "exact",
        "prefix-only",
        "glob",
        "tag-named-main",
        "detached",
    ],
)
def test_branch_filter(branches: str, ref: str, wanted: bool) -> None:
    """Branch globs match the name under refs/heads/; nothing else passes a filter."""
    settings = HookSettings.from_values({"url": URL, "token": "t", "branches": branches})
    assert settings.wants_ref(ref) is wanted
