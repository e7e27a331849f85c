"""Settings: environment over TOML file over defaults, routes, and one clear line per bad value."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hookrelay.core.source_commit import ApiVersion
from hookrelay.exceptions import ConfigError
from hookrelay.settings import Settings, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No HOOKRELAY_* variable of the machine leaks into a test."""
    for name in list(os.environ):
        if name.startswith("HOOKRELAY_"):
            monkeypatch.delenv(name)
    return monkeypatch


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hookrelay.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_name_tracker_v5_and_a_local_sqlite_file() -> None:
    """With nothing configured, commits go to Tracker's v5 API and queue in ./hookrelay.db."""
    settings = load_settings()
    assert settings.target.version is ApiVersion.V5
    assert settings.tracker_url == "https://www.pivotaltracker.com/services/v5"
    assert settings.database_url == "sqlite:///./hookrelay.db"
    assert settings.tracker_token is None
    assert settings.branches == ()
    assert settings.all_commits is False
    assert settings.max_body_bytes == 26 * 1024 * 1024


def test_environment_values_are_read(clean_environment: pytest.MonkeyPatch) -> None:
    """HOOKRELAY_* variables set every documented setting, branches as a comma list."""
    env = clean_environment
    env.setenv("HOOKRELAY_TRACKER_URL", "http://127.0.0.1:9/services/v3/")
    env.setenv("HOOKRELAY_TRACKER_TOKEN", "t0k3n")
    env.setenv("HOOKRELAY_GITHUB_SECRET", "s3cr3t")
    env.setenv("HOOKRELAY_DATABASE_URL", "postgresql://postgres@127.0.0.1/test")
    env.setenv("HOOKRELAY_BRANCHES", "main, release/*,")
    env.setenv("HOOKRELAY_ADMIN_TOKEN", "adm1n")
    env.setenv("HOOKRELAY_ALL_COMMITS", "true")
    env.setenv("HOOKRELAY_LOG_FORMAT", "JSON")
    settings = load_settings()
    assert settings.target.base_url == "http://127.0.0.1:9/services/v3"
    assert settings.target.version is ApiVersion.V3
    assert settings.tracker_token is not None
    assert settings.tracker_token.get_secret_value() == "t0k3n"
    assert settings.branches == ("main", "release/*")
    assert settings.all_commits is True
    assert settings.log_format == "json"


def test_toml_file_with_routes_is_read(tmp_path: Path) -> None:
    """The TOML file sets the same names and per-repository routes, keyed case-insensitively."""
    path = write(
        tmp_path,
        """
        tracker_token = "global"
        branches = ["main"]
        poll_interval = 0.05

        [routes."Octo/Cat"]
        token = "octo"
        target = "http://127.0.0.1:9/services/v3"
        branches = "main, dev"
        secret = "octo-secret"
        """,
    )
    settings = load_settings(path)
    route = settings.routes["octo/cat"]
    assert route.token is not None
    assert route.token.get_secret_value() == "octo"
    assert route.branches == ("main", "dev")
    assert route.target == "http://127.0.0.1:9/services/v3"
    assert settings.poll_interval == 0.05


def test_environment_overrides_the_file(
    tmp_path: Path, clean_environment: pytest.MonkeyPatch
) -> None:
    """A variable wins over the same setting in the file, so a deployment can override one value."""
    path = write(tmp_path, 'tracker_token = "from-file"\nport = 9000\n')
    clean_environment.setenv("HOOKRELAY_TRACKER_TOKEN", "from-env")
    settings = load_settings(path)
    assert settings.tracker_token is not None
    assert settings.tracker_token.get_secret_value() == "from-env"
    assert settings.port == 9000


def test_secrets_never_show_in_repr(clean_environment: pytest.MonkeyPatch) -> None:
    """Tokens and secrets print as stars, so a logged Settings object leaks nothing."""
    clean_environment.setenv("HOOKRELAY_TRACKER_TOKEN", "t0k3n-value")
    clean_environment.setenv("HOOKRELAY_GITHUB_SECRET", "s3cr3t-value")
    clean_environment.setenv("HOOKRELAY_ADMIN_TOKEN", "adm1n-value")
    shown = repr(load_settings()) + str(load_settings())
    for secret in ("t0k3n-value", "s3cr3t-value", "adm1n-value"):
        assert secret not in shown


def test_retry_policy_follows_the_settings(clean_environment: pytest.MonkeyPatch) -> None:
    """The workers' first retry delay comes from HOOKRELAY_RETRY_FIRST_DELAY (fast e2e tests)."""
    clean_environment.setenv("HOOKRELAY_RETRY_FIRST_DELAY", "0.2")
    clean_environment.setenv("HOOKRELAY_RETRY_MAX_DELAY", "0.1")
    policy = load_settings().retry_policy
    assert policy.first == 0.2
    assert policy.cap == 0.2


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("HOOKRELAY_TRACKER_URL", "ftp://tracker/services/v5", "HOOKRELAY_TRACKER_URL"),
        ("HOOKRELAY_TRACKER_URL", "https://tracker.example/api", "/services/v3 or /services/v5"),
        ("HOOKRELAY_DATABASE_URL", "mysql://db/x", "sqlite:///"),
        ("HOOKRELAY_ALL_COMMITS", "maybe", "HOOKRELAY_ALL_COMMITS"),
        ("HOOKRELAY_PORT", "http", "HOOKRELAY_PORT"),
        ("HOOKRELAY_MAX_BODY_BYTES", "0", "greater than 0"),
        ("HOOKRELAY_LOG_FORMAT", "xml", "HOOKRELAY_LOG_FORMAT"),
        ("HOOKRELAY_POLL_INTERVAL", "-1", "HOOKRELAY_POLL_INTERVAL"),
        ("HOOKRELAY_TRACKER_TOKEN", "   ", "visible ASCII"),
        ("HOOKRELAY_TRACKER_TOKEN", "two words", "visible ASCII"),
        ("HOOKRELAY_GITHUB_SECRET", "  ", "blank"),
        ("HOOKRELAY_ADMIN_TOKEN", "\t", "blank"),
        ("HOOKRELAY_TRACKER_URL", "https://me:pa55@tracker.example/services/v5", "me:***@"),
        ("HOOKRELAY_INGEST_TOKENS", "good, tök", "HOOKRELAY_INGEST_TOKENS"),
        ("HOOKRELAY_INGEST_MAX_BODY_BYTES", "0", "HOOKRELAY_INGEST_MAX_BODY_BYTES"),
    ],
    ids=[
        "scheme",
        "no-version",
        "database",
        "bool",
        "port",
        "body-limit",
        "log-format",
        "poll",
        "blank-token",
        "token-with-space",
        "blank-secret",
        "blank-admin-token",
        "password-in-tracker-url",
        "ingest-token-not-ascii",
        "ingest-body-limit",
    ],
)
def test_a_bad_variable_is_one_clear_line(
    clean_environment: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    """A bad value stops start-up with a single line that names the setting and the reason."""
    clean_environment.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('trackr_url = "x"\n', "unknown setting trackr_url"),
        ('tracker_url = "x"\n[routes.bad]\ntoken = "t"\n', "route 'bad' is not"),
        ('[routes."a/b"]\ntokn = "t"\n', 'routes."a/b".tokn'),
        ('[routes."a/b"]\ntarget = "http://x/api"\n', 'routes."a/b".target'),
        ("tracker_url = \n", "not valid TOML"),
        ('concurrency = "many"\n', "concurrency (HOOKRELAY_CONCURRENCY)"),
    ],
    ids=["unknown-key", "route-name", "route-key", "route-target", "syntax", "type"],
)
def test_a_bad_file_is_one_clear_line(tmp_path: Path, text: str, expected: str) -> None:
    """A typo, a bad route or bad TOML in the file is a ConfigError naming what is wrong."""
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("HOOKRELAY_PORT", "abc", "port (HOOKRELAY_PORT): Input should be a valid integer"),
        ("HOOKRELAY_CONCURRENCY", "0", "greater than or equal to 1"),
        ("HOOKRELAY_ALL_COMMITS", "maybe", "valid boolean"),
        ("HOOKRELAY_LOG_FORMAT", "xml", "log_format (HOOKRELAY_LOG_FORMAT)"),
    ],
    ids=["not-a-number", "out-of-range", "not-a-switch", "not-a-choice"],
)
def test_a_bad_number_switch_or_choice_is_repeated(
    clean_environment: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    """The line about a bad number, switch or choice repeats the value given, so a user sees
    which of their values it was (these are never secrets)."""
    clean_environment.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert expected in str(caught.value)
    assert str(caught.value).endswith(f"(got {value!r})")


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    """--config naming no file says so instead of silently using defaults."""
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nowhere.toml")


def test_secret_values_do_not_appear_in_errors(clean_environment: pytest.MonkeyPatch) -> None:
    """A ConfigError about a route never repeats the token it was given."""
    clean_environment.setenv("HOOKRELAY_ROUTES", '{"a/b": {"token": 5, "nonsense": "hunter2"}}')
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "hunter2" not in str(caught.value)


def test_settings_are_frozen() -> None:
    """Settings are built once at start-up and never change under a running server."""
    settings = Settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.port = 1  # type: ignore[misc]


def test_set_but_empty_secrets_mean_unset(clean_environment: pytest.MonkeyPatch) -> None:
    """HOOKRELAY_TRACKER_TOKEN= and friends, set to nothing, leave the setting unset."""
    for name in ("HOOKRELAY_TRACKER_TOKEN", "HOOKRELAY_GITHUB_SECRET", "HOOKRELAY_ADMIN_TOKEN"):
        clean_environment.setenv(name, "")
    settings = load_settings()
    assert (settings.tracker_token, settings.github_secret, settings.admin_token) == (
        None,
        None,
        None,
    )


def test_a_password_in_the_tracker_url_is_never_repeated(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    """A Tracker URL carrying a password is refused without the password in the message."""
    clean_environment.setenv("HOOKRELAY_TRACKER_URL", "https://me:pa55@tracker.example/x")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "pa55" not in str(caught.value)


def test_ingest_tokens_are_a_list_and_secrets(clean_environment: pytest.MonkeyPatch) -> None:
    """HOOKRELAY_INGEST_TOKENS is comma-separated, and each token is kept from the logs."""
    clean_environment.setenv("HOOKRELAY_INGEST_TOKENS", "first-token, second-token,")
    settings = load_settings()
    assert [t.get_secret_value() for t in settings.ingest_tokens] == ["first-token", "second-token"]
    assert {"first-token", "second-token"} <= set(settings.secret_values())
    assert settings.ingest_max_body_bytes == 1024 * 1024
