"""Whether a setup works, one check at a time: what ``hookrelay doctor`` runs.

Each check is a ``Check``: what was checked, whether it passed, and when it did not, what to do.
In order: the settings load; the queue is reachable and its schema current; every Tracker
target answers and accepts every token configured for it (v5 ``GET /me``, on the same host for a
v3 target; tokens shown as fingerprints only); a webhook secret is set when ``serve`` listens
beyond loopback; the admin token is set; no dead letters wait; no push has waited in the inbox
for a minute; and for each repository given, its hook is installed, executable, and posts where
the settings say (a configured Tracker target, or this hookrelay's own Tracker-compatible
ingest).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from hookrelay.core.text import one_line
from hookrelay.core.tracker_api import TrackerTarget, token_fingerprint
from hookrelay.exceptions import ConfigError, HookrelayError, StoreError
from hookrelay.hooks.settings import parse_conf
from hookrelay.hooks.svn_reader import CONF_NAME
from hookrelay.listening import is_loopback, url_host
from hookrelay.queue import State, open_store
from hookrelay.queue.migrations import LATEST_VERSION
from hookrelay.settings import Settings, load_settings

__all__ = ["Check", "check_repository", "check_settings_file", "run_checks"]

_TIMEOUT = httpx.Timeout(5.0, connect=3.0)


@dataclass(frozen=True, slots=True)
class Check:
    """One check's result: what, whether it passed, and the fix when it did not."""

    ok: bool
    what: str
    fix: str = ""

    @classmethod
    def passed(cls, what: str) -> Check:
        """A check that passed."""
        return cls(ok=True, what=what)

    @classmethod
    def failed(cls, what: str, fix: str) -> Check:
        """A check that failed, and what to do about it."""
        return cls(ok=False, what=what, fix=fix)


def check_settings_file(config: Path | None) -> tuple[Check, Settings | None]:
    """Load the settings as ``serve`` would."""
    where = f"environment and {config}" if config is not None else "environment"
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        return Check.failed(f"settings load ({where}): {exc}", "correct the setting named"), None
    return Check.passed(f"settings load ({where})"), settings


_ADMIN_TOKEN_MIN_LENGTH = 16


def run_checks(
    settings: Settings, repositories: Sequence[Path], *, http: httpx.Client | None = None
) -> Iterator[Check]:
    """Every check after the settings load, in order (repositories last)."""
    yield check_queue(settings.database_url)
    client = http or httpx.Client(timeout=_TIMEOUT, follow_redirects=False, verify=True)
    try:
        yield from check_trackers(settings, client)
    finally:
        if http is None:
            client.close()
    yield check_secret(settings)
    if settings.admin_token is None:
        yield Check.failed(
            "admin token set",
            "set HOOKRELAY_ADMIN_TOKEN: the dashboard and /deliveries stay closed without it",
        )
    elif len(settings.admin_token.get_secret_value()) < _ADMIN_TOKEN_MIN_LENGTH:
        # Nothing slows a guesser down: each try is one request, hundreds a second.
        yield Check.failed(
            f"admin token strong: it is {len(settings.admin_token.get_secret_value())} "
            f"characters, short enough to guess (at least {_ADMIN_TOKEN_MIN_LENGTH})",
            "set HOOKRELAY_ADMIN_TOKEN to a random one, e.g. "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(24))'",
        )
    else:
        yield Check.passed("admin token set (the dashboard is open to it)")
    yield check_dead_letters(settings.database_url)
    yield check_inbox(settings.database_url, now=time.time())
    for repository in repositories:
        yield check_repository(repository, settings)


def check_queue(database_url: str) -> Check:
    """The queue can be opened, read and written, and its schema is this hookrelay's."""

    shown = database_url.rsplit("@", 1)[-1]
    try:
        store = open_store(database_url, create=False)
    except StoreError as exc:
        return Check.failed(
            f"queue reachable: {exc}",
            "check HOOKRELAY_DATABASE_URL (a new SQLite queue is made by serve's first start)",
        )
    try:
        store.ping()
    except StoreError as exc:
        return Check.failed(f"queue writable: {exc}", "check HOOKRELAY_DATABASE_URL")
    finally:
        store.close()
    # Opening a store applies the steps it misses, as serve does at start-up.
    return Check.passed(f"queue reachable at {shown}, schema version {LATEST_VERSION} (current)")


def _routes(settings: Settings) -> list[tuple[str, TrackerTarget, str | None]]:
    """(whose, target, token) for the default route and each repository's route."""

    routing = settings.routing()
    routes = [("HOOKRELAY_TRACKER_TOKEN", routing.default.target, routing.default.token)]
    for name, route in routing.repositories.items():
        routes.append((f'routes."{name}".token', route.target, route.token))
    return routes


def check_trackers(settings: Settings, http: httpx.Client) -> Iterator[Check]:
    """Every target answers, and accepts every token configured for it (``GET /me``)."""
    if "tracker_url" not in settings.model_fields_set:
        if settings.emulator or is_loopback(settings.host):
            yield Check.passed(
                "Tracker: none configured, so serve delivers to its built-in emulator (a demo)",
            )
        else:
            yield Check.failed(
                f"Tracker: none configured, and serve listens on {settings.host}, beyond "
                "loopback, so it stops at start-up (exit 78)",
                "set HOOKRELAY_TRACKER_URL (or HOOKRELAY_EMULATOR=true for a demo)",
            )
        return
    seen: set[tuple[str, str]] = set()
    for whose, target, token in _routes(settings):
        if token is None:
            yield Check.failed(
                f"Tracker token for {target.base_url}: none configured",
                f"set {whose} (only commits that bring their own ?token= can be delivered)",
            )
            continue
        key = (target.base_url, token_fingerprint(token))
        if key in seen:
            continue
        seen.add(key)
        yield _check_token(http, target, token, whose)


def _me_url(target: TrackerTarget) -> str:
    base = target.base_url
    return (
        base[: -len("/services/v3")] + "/services/v5/me" if base.endswith("/v3") else f"{base}/me"
    )


def _check_token(http: httpx.Client, target: TrackerTarget, token: str, whose: str) -> Check:
    fingerprint = token_fingerprint(token)
    try:
        answer = http.get(_me_url(target), headers={"X-TrackerToken": token})
    except httpx.HTTPError as exc:
        return Check.failed(
            f"Tracker reachable at {target.base_url}: {type(exc).__name__}: {exc}",
            "check HOOKRELAY_TRACKER_URL (or the route's target) and the network",
        )
    if answer.status_code == 200:
        return Check.passed(f"Tracker at {target.base_url} accepts token {fingerprint}")
    words = one_line(answer.text, 200)
    if answer.status_code in (401, 403):
        return Check.failed(
            f"Tracker at {target.base_url} refuses token {fingerprint}: "
            f"HTTP {answer.status_code} {words}",
            f"set {whose} to a token Tracker accepts",
        )
    return Check.failed(
        f"Tracker at {target.base_url} answered GET /me with HTTP {answer.status_code} {words}",
        "check that HOOKRELAY_TRACKER_URL is Tracker's API (…/services/v5)",
    )


def check_secret(settings: Settings) -> Check:
    """A webhook secret is set whenever serve listens beyond loopback."""
    if settings.github_secret is not None:
        return Check.passed("webhook secret set (pushes must be signed)")
    if is_loopback(settings.host):
        return Check.passed(f"webhook secret not needed: serve listens on {settings.host} only")
    return Check.failed(
        f"webhook secret set: serve listens on {settings.host} and takes unsigned pushes",
        "set HOOKRELAY_GITHUB_SECRET (and the same secret in the forge's webhook)",
    )


def check_dead_letters(database_url: str) -> Check:
    """No commit waits in the dead-letter list."""

    try:
        store = open_store(database_url, create=False)
    except StoreError as exc:
        return Check.failed(f"dead letters: cannot read the queue: {exc}", "see the queue check")
    try:
        dead = store.counts()[State.DEAD]
    finally:
        store.close()
    if dead == 0:
        return Check.passed("no dead letters")
    return Check.failed(
        f"{dead} dead letter{'s' if dead != 1 else ''} in the queue",
        "read Tracker's answers on /dashboard/deliveries?state=dead, fix the setting, then "
        "`hookrelay deliveries retry --dead`",
    )


INBOX_LATE = 60.0
"""Seconds after which a push still in the inbox is late (it is expanded within seconds)."""


def check_inbox(database_url: str, *, now: float) -> Check:
    """No push accepted under load has waited in the inbox for a minute."""
    try:
        store = open_store(database_url, create=False)
    except StoreError as exc:
        return Check.failed(f"inbox: cannot read the queue: {exc}", "see the queue check")
    try:
        waiting = store.inbox_count()
        oldest = store.inbox(limit=1)
    finally:
        store.close()
    late = oldest and now - oldest[0].received_at > INBOX_LATE
    if not late:
        return Check.passed(f"no push waits in the inbox ({waiting} being expanded)")
    return Check.failed(
        f"{waiting} push{'es' if waiting != 1 else ''} in the inbox, the oldest kept "
        f"{now - oldest[0].received_at:.0f} s ago",
        "start `hookrelay serve` or `hookrelay worker` (they expand it); if one runs, its log "
        "says why a push stays (`inbox: push … stays in the inbox`): fix that setting, restart",
    )


def check_repository(path: Path, settings: Settings) -> Check:
    """The repository's hook is installed, executable, and posts where the settings say."""
    # GitPython is loaded only when a repository is checked: doctor runs where git is not
    # installed (the image) for every other check.
    from hookrelay.hooks.installer import is_ours  # noqa: PLC0415

    try:
        hook, url = _hook_of(path)
    except HookrelayError as exc:
        return Check.failed(f"{path}: {exc}", "give the folder of a git or Subversion repository")
    kind = "svn" if hook.parent.parent == path and (path / "db").is_dir() else "git"
    install = f"hookrelay hooks install {kind} {path} --url URL --token TOKEN"

    if not hook.exists():
        return Check.failed(f"{path}: no hook at {hook}", install)
    if not is_ours(hook):
        return Check.failed(f"{path}: {hook} is not hookrelay's", install)
    if not os.access(hook, os.X_OK):
        return Check.failed(f"{path}: {hook} is not executable", f"chmod +x {hook}")
    expected = _expected_urls(settings)
    if not url:
        return Check.failed(f"{path}: the hook has no Tracker URL", install)
    try:
        posts_to = TrackerTarget.parse(url).base_url
    except ConfigError as exc:
        return Check.failed(f"{path}: the hook's URL is unusable: {exc}", install)
    if expected and posts_to not in expected:
        return Check.failed(
            f"{path}: the hook posts to {posts_to}, the settings say {' or '.join(expected)}",
            install.replace("URL", expected[0]),
        )
    return Check.passed(f"{path}: {hook.name} installed, executable, posting to {posts_to}")


def _expected_urls(settings: Settings) -> list[str]:
    """Where a hook may post: a configured target, or this hookrelay's own ingest."""
    if "tracker_url" not in settings.model_fields_set:
        return []  # serve's built-in emulator: a demo, any URL will do

    urls = [target.base_url for _, target, _ in _routes(settings)]
    own = f"http://{url_host(settings.host)}:{settings.port}"
    urls += [f"{own}/services/v5", f"{own}/services/v3"]
    return list(dict.fromkeys(urls))


def _hook_of(path: Path) -> tuple[Path, str]:
    """The hook file hookrelay would install in ``path``, and the URL its settings name."""
    if (path / "format").is_file() and (path / "db").is_dir():
        try:
            text = (path / "conf" / CONF_NAME).read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        return path / "hooks" / "post-commit", parse_conf(text).get("url", "")

    if not path.is_dir():
        raise HookrelayError(f"{path} is not a folder")
    from hookrelay.hooks.git_reader import open_repository  # noqa: PLC0415 - see check_repository

    repo: Any = open_repository(path)
    with repo:
        name = "post-receive" if repo.bare else "post-commit"
        relative = str(repo.git.rev_parse("--git-path", "hooks"))
        folder = (Path(repo.working_dir) / relative).resolve()
        url = str(repo.git.config("--get", "hookrelay.url", with_exceptions=False))
    return folder / name, url
