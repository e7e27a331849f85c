"""hookrelay's settings: ``HOOKRELAY_*`` environment variables over an optional TOML file.

A setting is read, most specific first, from:

1. the environment, ``HOOKRELAY_<NAME>`` (``HOOKRELAY_BRANCHES`` is a comma-separated list);
2. the TOML file given with ``--config`` (the same names in lower case, plus per-repository
   routes as ``[routes."owner/repo"]`` tables with ``token``, ``target``, ``branches``, ``secret``);
3. the defaults below.

A value hookrelay cannot use stops start-up with one ``ConfigError`` line naming the setting.
Tokens and secrets are ``SecretStr``: their ``repr`` and ``str`` never show the value.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from hookrelay.core.backoff import RetryPolicy
from hookrelay.core.routing import Route, Routing
from hookrelay.core.tracker_api import DEFAULT_TRACKER_URL, TrackerTarget, is_usable_token
from hookrelay.exceptions import ConfigError, HookrelayError
from hookrelay.queue.database_url import DEFAULT_DATABASE_URL, check_database_url

__all__ = ["DEFAULT_DATABASE_URL", "RouteSettings", "Settings", "load_settings"]

_ENV_PREFIX = "HOOKRELAY_"


def _split_globs(value: Any) -> Any:
    """Read a branch list from ``"main, release/*"`` (environment) or a TOML array."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


def _tracker_url(value: str) -> str:
    try:
        return TrackerTarget.parse(value).base_url
    except HookrelayError as exc:
        # A ValueError lets pydantic name the setting in front of the reason.
        raise ValueError(str(exc)) from exc


def _usable_token(value: SecretStr | None) -> SecretStr | None:
    if value is None or value.get_secret_value() == "":
        return None  # HOOKRELAY_TRACKER_TOKEN= (set but empty) means unset
    if not is_usable_token(value.get_secret_value()):
        # The message must not repeat the value: it is a secret.
        raise ValueError("a Tracker token must be 1 to 256 visible ASCII characters with no spaces")
    return value


def _usable_secret(value: SecretStr | None) -> SecretStr | None:
    if value is None or value.get_secret_value() == "":
        return None  # set but empty means unset
    if not value.get_secret_value().strip():
        raise ValueError("must not be empty or blank (leave it unset instead)")
    return value


class RouteSettings(BaseModel):
    """Where one repository's commits go, overriding the global settings field by field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: SecretStr | None = None
    target: str | None = None
    branches: tuple[str, ...] | None = None
    secret: SecretStr | None = None

    @field_validator("branches", mode="before")
    @classmethod
    def _branch_list(cls, value: Any) -> Any:
        return _split_globs(value)

    @field_validator("target")
    @classmethod
    def _valid_target(cls, value: str | None) -> str | None:
        return None if value is None else _tracker_url(value)

    _valid_token = field_validator("token")(_usable_token)
    _valid_secret = field_validator("secret")(_usable_secret)


class Settings(BaseSettings):
    """Everything ``hookrelay serve`` and ``hookrelay worker`` can be told."""

    model_config = SettingsConfigDict(
        env_prefix=_ENV_PREFIX, extra="forbid", frozen=True, case_sensitive=False
    )

    tracker_url: str = Field(DEFAULT_TRACKER_URL, description="Tracker API base URL (…/v3, …/v5)")
    tracker_token: SecretStr | None = Field(None, description="token for commits without their own")
    github_secret: SecretStr | None = Field(None, description="webhook secret (X-Gitlab-Token too)")
    database_url: str = Field(DEFAULT_DATABASE_URL, description="sqlite:///path or postgresql://…")
    branches: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="branch globs that relay; empty means every branch"
    )
    admin_token: SecretStr | None = Field(None, description="bearer token for /deliveries")
    all_commits: bool = Field(default=False, description="relay commits that name no story")
    max_body_bytes: int = Field(26 * 1024 * 1024, gt=0, description="largest request body")
    body_budget_bytes: int = Field(
        32 * 1024 * 1024, gt=0, description="request bodies held at once, across all requests"
    )
    head_timeout: float = Field(
        10.0, gt=0, description="seconds a connection has to send a whole request head"
    )
    body_stall_timeout: float = Field(
        10.0, gt=0, description="seconds a request body may go without a byte arriving"
    )
    max_connections: int = Field(
        1000, ge=1, description="open connections (and requests) at once; 503 beyond"
    )
    host: str = Field("127.0.0.1", description="address serve listens on")
    port: int = Field(8080, ge=0, le=65535, description="port serve listens on (0: any free)")
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    access_log: bool = Field(
        default=False,
        description="a line per HTTP request (refusals and pushes are logged either way)",
    )
    concurrency: int = Field(4, ge=1, le=256, description="deliveries in flight at once")
    poll_interval: float = Field(1.0, gt=0, description="seconds between looks at an idle queue")
    lease_seconds: float = Field(60.0, gt=0, description="how long a delivery is held by a worker")
    retry_first_delay: float = Field(10.0, gt=0, description="seconds before the first retry")
    retry_max_delay: float = Field(3600.0, gt=0, description="longest wait between retries")
    give_up_after: float = Field(72 * 3600.0, ge=0, description="seconds of retrying before dead")
    keep_finished_days: float = Field(30.0, gt=0, description="days delivered/dead rows are kept")
    routes: dict[str, RouteSettings] = Field(default_factory=dict)
    # The Tracker-compatible ingest (/services/v3|v4|v5/source_commits, github_commits?token=).
    ingest_tokens: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        (), description="tokens the ingest accepts beside the configured ones (comma-separated)"
    )
    ingest_max_body_bytes: int = Field(
        1024 * 1024, gt=0, description="largest source_commit body the ingest reads"
    )
    ingest_unconfirmed_pending_bytes: int = Field(
        4 * 1024 * 1024,
        ge=0,
        description="pending bytes a token the Tracker target could not confirm may queue",
    )
    ingest_token_cache_seconds: float = Field(
        300.0, ge=0, description="how long the target's word on a token is remembered"
    )
    emulator: bool = Field(
        default=False,
        description="serve the built-in Tracker emulator even beyond loopback (serve --emulator)",
    )
    emulator_data: str | None = Field(
        None, description="the emulator's SQLite file (default: hookrelay-emulator.db by the queue)"
    )
    emulator_max_projects: int = Field(100, ge=1, description="most projects the emulator holds")
    emulator_max_stories: int = Field(10_000, ge=1, description="most stories the emulator holds")
    emulator_max_comments: int = Field(
        100_000, ge=1, description="most comments the emulator holds"
    )

    @field_validator("branches", mode="before")
    @classmethod
    def _branch_list(cls, value: Any) -> Any:
        return _split_globs(value)

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_case(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("tracker_url")
    @classmethod
    def _valid_tracker_url(cls, value: str) -> str:
        return _tracker_url(value)

    _valid_token = field_validator("tracker_token")(_usable_token)

    @field_validator("ingest_tokens", mode="before")
    @classmethod
    def _token_list(cls, value: Any) -> Any:
        return _split_globs(value)

    @field_validator("ingest_tokens")
    @classmethod
    def _usable_tokens(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        for token in value:
            if not is_usable_token(token.get_secret_value()):
                # The message must not repeat the value: it is a secret.
                raise ValueError(
                    "each token must be 1 to 256 visible ASCII characters with no spaces"
                )
        return value

    _valid_secrets = field_validator("github_secret", "admin_token")(_usable_secret)

    @field_validator("database_url")
    @classmethod
    def _valid_database_url(cls, value: str) -> str:
        try:
            check_database_url(value)
        except HookrelayError as exc:
            # A ValueError lets pydantic name the setting in front of the reason.
            raise ValueError(str(exc)) from None
        return value.strip()

    @field_validator("routes")
    @classmethod
    def _repository_names(cls, value: dict[str, RouteSettings]) -> dict[str, RouteSettings]:
        # Forges treat owner/name case-insensitively, and so do the routes.
        for name in value:
            if name.count("/") < 1 or not all(name.split("/")):
                raise ValueError(f"route {name!r} is not a repository full name (owner/name)")
        return {name.lower(): route for name, route in value.items()}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment overrides the file, whose values arrive as constructor arguments."""
        return env_settings, init_settings

    @property
    def target(self) -> TrackerTarget:
        """The default Tracker target."""
        return TrackerTarget.parse(self.tracker_url)

    @property
    def retry_policy(self) -> RetryPolicy:
        """How the workers space their retries."""
        return RetryPolicy(
            first=self.retry_first_delay,
            cap=max(self.retry_max_delay, self.retry_first_delay),
            give_up_after=self.give_up_after,
        )

    def routing(self) -> Routing:
        """The routing table: each route inherits what it does not set from the global settings."""
        default = Route(
            target=self.target,
            token=_reveal(self.tracker_token),
            branches=self.branches,
            secret=_reveal(self.github_secret),
        )
        repositories = {
            name: Route(
                target=TrackerTarget.parse(route.target) if route.target else default.target,
                token=_reveal(route.token) or default.token,
                branches=default.branches if route.branches is None else route.branches,
                secret=_reveal(route.secret) or default.secret,
            )
            for name, route in self.routes.items()
        }
        return Routing(default, repositories, self.all_commits)

    def secret_values(self) -> tuple[str, ...]:
        """Every token and secret the settings hold, for the log filter to remove."""
        values = [self.tracker_token, self.github_secret, self.admin_token, *self.ingest_tokens]
        for route in self.routes.values():
            values += [route.token, route.secret]
        password = urlsplit(self.database_url).password
        texts = [v.get_secret_value() for v in values if v is not None]
        return tuple(t for t in (*texts, password or "") if t)


def _reveal(value: SecretStr | None) -> str | None:
    """The text of a secret setting; an empty one counts as unset."""
    return (value.get_secret_value() or None) if value is not None else None


def load_settings(config_file: Path | None = None) -> Settings:
    """Read the settings from the environment and ``config_file``; ``ConfigError`` if unusable."""
    values = _read_toml(config_file) if config_file is not None else {}
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, config_file)) from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"config file {str(path)!r} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None


def _setting_name(loc: tuple[int | str, ...]) -> str:
    """Name a setting as the user wrote it: the variable, or its path in the TOML file."""
    head = str(loc[0]) if loc else "?"
    if head == "routes" and len(loc) > 1:
        rest = "".join(f".{part}" for part in loc[2:])
        return f'routes."{loc[1]}"{rest}'
    if head in Settings.model_fields:
        return f"{head} ({_ENV_PREFIX}{head.upper()})"
    return head


# Errors about numbers, switches and choices: the value given is never a secret, so the line
# repeats it (a token, secret or URL is never repeated: other errors leave the input out).
_SHOWN_INPUT_ERRORS = frozenset(
    {
        "int_parsing",
        "int_from_float",
        "float_parsing",
        "bool_parsing",
        "greater_than",
        "greater_than_equal",
        "less_than",
        "less_than_equal",
        "literal_error",
        "enum",
    }
)


def _one_line(exc: ValidationError, config_file: Path | None) -> str:
    reasons = []
    for error in exc.errors(include_url=False):
        name = _setting_name(tuple(error["loc"]))
        if error["type"] == "extra_forbidden":
            where = f" in {config_file}" if config_file is not None else ""
            reasons.append(f"unknown setting {name}{where}")
        else:
            reason = f"{name}: {error['msg'].removeprefix('Value error, ')}"
            if error["type"] in _SHOWN_INPUT_ERRORS:
                reason += f" (got {str(error.get('input'))[:40]!r})"
            reasons.append(reason)
    return "; ".join(reasons)
