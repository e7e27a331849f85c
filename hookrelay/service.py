"""Running hookrelay: the process ``hookrelay serve`` and ``hookrelay worker`` start.

Settings, logging, the store and the HTTP client are built here, at the entry point, and handed
to the app factory and the workers. Both stop gracefully on SIGTERM or SIGINT: the receiver
stops accepting connections and finishes its requests, the workers lease nothing more, finish
the posts in flight and release what they had not started (``hookrelay.delivery.worker``).
With no Tracker configured, ``serve`` on a loopback address (or asked with ``--emulator``) mounts
the Tracker emulator at ``/emulator`` and delivers to it, so a first run shows a commit move a
story; the emulator keeps its stories in ``hookrelay-emulator.db`` beside the queue, so the demo
works again after a restart. On any other address, no Tracker is a configuration error: the
emulator's token is printed for all to read, so it must not face the internet by default.
"""

from __future__ import annotations

import gc
import logging
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from hookrelay.core.text import without_password
from hookrelay.core.tracker_api import DEFAULT_TRACKER_URL
from hookrelay.delivery import DeliveryWorker
from hookrelay.emulator.app import create_app as create_emulator_app
from hookrelay.emulator.demo import DEMO_TOKEN, banner, seed_demo
from hookrelay.emulator.world import World
from hookrelay.exceptions import ConfigError
from hookrelay.inbox import Expander, Inbox
from hookrelay.listening import is_loopback, listen, url_host
from hookrelay.logs import configure_logging
from hookrelay.metrics import RelayMetrics
from hookrelay.queue import QueueStore, open_store
from hookrelay.queue.database_url import check_database_url, sqlite_path
from hookrelay.settings import Settings, load_settings
from hookrelay.tracker.client import make_http_client
from hookrelay.web import create_app
from hookrelay.web.connections import server_config

__all__ = ["delivery_http_client", "delivery_worker", "serve", "settings_from", "work"]

log = logging.getLogger("hookrelay.serve")

_SECONDS_PER_DAY = 86400.0


def settings_from(args: Any) -> Settings:
    """The settings, with command-line options (``config``, ``host``, ``port``, ``log_format``
    attributes of ``args``) over the environment and the file."""
    settings = load_settings(getattr(args, "config", None))
    overrides = {
        name: value
        for name in ("host", "port", "log_format", "emulator")
        if (value := getattr(args, name, None)) is not None
    }
    if overrides:
        try:
            # Only the fields that were set, so model_fields_set still tells what was configured.
            given = settings.model_dump(include=settings.model_fields_set)
            settings = Settings.model_validate({**given, **overrides})
        except ValueError as exc:
            raise ConfigError(f"bad command-line option: {exc}") from None
    return settings


def _announce(settings: Settings, emulator: BuiltInEmulator | None) -> None:
    """Say plainly at start-up what cannot work yet, instead of failing commit by commit."""
    if emulator is not None:
        log.warning(
            "no Tracker is configured (HOOKRELAY_TRACKER_URL): delivering to the built-in "
            "Tracker emulator; set HOOKRELAY_TRACKER_URL to deliver to a real server"
        )
        if not is_loopback(settings.host):
            log.warning(
                "the built-in Tracker emulator is served on %s (--emulator): anyone who can "
                "reach this port can use it with the token below",
                settings.host,
            )
        for line in emulator.banner.splitlines():
            log.info("%s", line)
        return
    if settings.tracker_token is None and not any(r.token for r in settings.routes.values()):
        log.warning(
            "no Tracker token is configured (HOOKRELAY_TRACKER_TOKEN): only commits that bring "
            "their own token are relayed (?token= in the hook URL, X-TrackerToken on "
            "/services/v3|v5/source_commits)"
        )
    if settings.tracker_url == DEFAULT_TRACKER_URL:
        log.warning(
            "HOOKRELAY_TRACKER_URL is %s, which closed in 2025: point it at a Tracker-compatible "
            "server",
            DEFAULT_TRACKER_URL,
        )


EMULATOR_PATH = "/emulator"


@dataclass(frozen=True)
class BuiltInEmulator:
    """The Tracker emulator ``serve`` mounts at ``/emulator`` when no Tracker is configured."""

    world: World
    app: FastAPI
    settings: Settings
    banner: str


def mounts_emulator(settings: Settings) -> bool:
    """Whether ``serve`` runs the built-in emulator: no Tracker configured, and listening on
    loopback or asked to (``--emulator``). ``ConfigError`` when it cannot decide for the user."""
    configured = "tracker_url" in settings.model_fields_set
    if configured:
        if settings.emulator:
            raise ConfigError(
                "--emulator (HOOKRELAY_EMULATOR) delivers to the built-in Tracker emulator, but "
                "HOOKRELAY_TRACKER_URL is set too: choose one"
            )
        return False
    if settings.emulator or is_loopback(settings.host):
        return True
    raise ConfigError(
        f"no Tracker is configured and serve listens on {settings.host}, beyond loopback: set "
        "HOOKRELAY_TRACKER_URL (or pass --emulator to serve the demo Tracker emulator there)"
    )


EMULATOR_FILE = "hookrelay-emulator.db"


def emulator_data_path(settings: Settings) -> str | None:
    """Where the built-in emulator keeps its world: ``HOOKRELAY_EMULATOR_DATA``, else
    ``hookrelay-emulator.db`` in the SQLite queue's folder (the working folder for PostgreSQL);
    None (in memory) beside an in-memory queue."""
    if settings.emulator_data:
        return settings.emulator_data
    if check_database_url(settings.database_url) != "sqlite":
        return EMULATOR_FILE
    queue_file = sqlite_path(settings.database_url.strip())
    if queue_file == ":memory:":
        return None
    return str(Path(queue_file).parent / EMULATOR_FILE)


def _built_in_emulator(relay_url: str, settings: Settings) -> BuiltInEmulator:
    """A demo Tracker inside the relay, and the settings that deliver to it.

    A newcomer's first run then shows a commit move a story, with nothing else to start; the
    emulator accepts the configured token, or the demo token when none is set. Its world is
    kept in a file, so after a restart the queue and the stories still agree.
    """
    path = emulator_data_path(settings)
    try:
        world = World.open(
            path,
            max_projects=settings.emulator_max_projects,
            max_stories=settings.emulator_max_stories,
            max_comments=settings.emulator_max_comments,
        )
    except sqlite3.Error as exc:
        raise ConfigError(
            f"cannot open the emulator's file {path} (HOOKRELAY_EMULATOR_DATA): {exc}"
        ) from exc
    demo = seed_demo(world)
    token = settings.tracker_token.get_secret_value() if settings.tracker_token else DEMO_TOKEN
    base_url = relay_url + EMULATOR_PATH
    delivering = settings.model_copy(
        update={"tracker_url": f"{base_url}/services/v5", "tracker_token": SecretStr(token)}
    )
    return BuiltInEmulator(
        world,
        create_emulator_app(world, token, max_body_bytes=settings.max_body_bytes),
        delivering,
        banner(base_url, token, demo, with_curl=False),
    )


def delivery_http_client(settings: Settings) -> httpx.Client:
    """The HTTP client the workers post with, its timeout well inside a lease."""
    # A post must end well inside its lease, or another worker could take it over and post the
    # commit a second time (see hookrelay.delivery.worker).
    limit = min(10.0, settings.lease_seconds / 3)
    timeout = httpx.Timeout(limit, connect=min(3.0, limit))
    return make_http_client(timeout, connections=max(settings.concurrency, 8))


def delivery_worker(
    settings: Settings, store: QueueStore, http: httpx.Client, metrics: RelayMetrics
) -> DeliveryWorker:
    """The delivery worker the settings describe (timings, concurrency, retry policy)."""
    return DeliveryWorker(
        store,
        http,
        policy=settings.retry_policy,
        concurrency=settings.concurrency,
        lease_seconds=settings.lease_seconds,
        poll_interval=settings.poll_interval,
        keep_finished=settings.keep_finished_days * _SECONDS_PER_DAY,
        metrics=metrics,
    )


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Turn SIGTERM and SIGINT into ``stop``, the handlers uvicorn restores and re-raises into."""

    def handle(signum: int, frame: FrameType | None) -> None:
        if not stop.is_set():
            log.info("%s received: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Server(uvicorn.Server):
    """uvicorn, telling the workers to stop taking work as soon as a signal arrives."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Stop the workers and the receiver together."""
        log.info("%s received: stopping", signal.Signals(sig).name)
        self._on_exit()
        super().handle_exit(sig, frame)


def serve(settings: Settings) -> int:
    """Receive and deliver until SIGTERM/SIGINT; 0 after a graceful stop, 1 if workers failed."""
    configure_logging(
        settings.log_format, level=settings.log_level, secrets=settings.secret_values()
    )
    with_emulator = mounts_emulator(settings)
    with ExitStack() as resources:
        sock = resources.enter_context(listen(settings.host, settings.port))
        store = open_store(settings.database_url)
        resources.callback(store.close)
        http = resources.enter_context(delivery_http_client(settings))
        metrics = RelayMetrics()
        stop = threading.Event()
        host, port = sock.getsockname()[:2]
        emulator = None
        if with_emulator:
            emulator = _built_in_emulator(f"http://{url_host(host)}:{port}", settings)
            resources.callback(emulator.world.close)
            settings = emulator.settings
        app = create_app(settings, store, metrics=metrics)
        if emulator is not None:
            app.mount(EMULATOR_PATH, emulator.app)
        config = server_config(app, settings, timeout_graceful_shutdown=15)
        server = _Server(config, on_exit=stop.set)
        # What start-up made lives until the end: out of the collector's way, a full collection
        # under load walks only what requests made (https://docs.python.org/3/library/gc.html#gc.freeze).
        gc.freeze()
        failed = threading.Event()

        def deliver() -> None:
            try:
                delivery_worker(settings, store, http, metrics).run(stop)
            except Exception:
                # Receiving without delivering would only fill the queue: stop, and let the
                # supervisor restart the whole process.
                log.exception("the delivery workers stopped unexpectedly; shutting down")
                failed.set()
                server.should_exit = True

        workers = threading.Thread(target=deliver, name="hookrelay-workers")
        expander = _expander_thread(settings, store, metrics, stop, app.state.relay.inbox)
        with _stop_on_signals(stop):
            # Said once SIGTERM is handled, so whoever reads the lines may stop serve at once.
            _announce(settings, emulator)
            log.info(
                "hookrelay listening on http://%s:%d, queue %s, delivering to %s",
                host,
                port,
                without_password(settings.database_url),
                settings.tracker_url,
                extra={"event": "started", "port": port},
            )
            workers.start()
            expander.start()
            try:
                server.run(sockets=[sock])
            finally:
                # The receiver has answered its last request; now the posts in flight finish.
                stop.set()
                workers.join()
                expander.join()
    log.info("hookrelay stopped", extra={"event": "stopped"})
    return 1 if failed.is_set() else 0


def work(settings: Settings) -> int:
    """Deliver until SIGTERM/SIGINT; 0 after a graceful stop."""
    configure_logging(
        settings.log_format, level=settings.log_level, secrets=settings.secret_values()
    )
    with ExitStack() as resources:
        store = open_store(settings.database_url)
        resources.callback(store.close)
        http = resources.enter_context(delivery_http_client(settings))
        stop = threading.Event()
        with _stop_on_signals(stop):
            # Said once SIGTERM is handled, so whoever reads the line may stop the worker at once.
            log.info(
                "hookrelay worker delivering from %s",
                without_password(settings.database_url),
                extra={"event": "started"},
            )
            metrics = RelayMetrics()
            expander = _expander_thread(settings, store, metrics, stop)
            expander.start()
            try:
                delivery_worker(settings, store, http, metrics).run(stop)
            finally:
                stop.set()
                expander.join()
    return 0


def _expander_thread(
    settings: Settings,
    store: QueueStore,
    metrics: RelayMetrics,
    stop: threading.Event,
    inbox: Inbox | None = None,
) -> threading.Thread:
    """The thread expanding the inbox's pushes into deliveries until ``stop`` (giving way to
    ``inbox``'s requests in ``serve``)."""
    expander = Expander(store, settings.routing(), clock=time.time, metrics=metrics, inbox=inbox)
    return threading.Thread(
        target=expander.run,
        args=(stop,),
        kwargs={"poll_interval": settings.poll_interval},
        name="hookrelay-inbox",
    )
