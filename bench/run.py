r"""Every hot path next to its floor, measured side by side: writes bench/results/latest.json.

Each benchmark runs ours and its baseline alternately, several rounds, and reports medians and
``ratio = ours / baseline`` with the goal it is held to (issue 9):

- ``parse``: ``parse_message`` on the 3,702 real messages, µs of CPU a message; baseline
  ``re.findall(r"\[[^\[\]]*\]", m)`` on each (as issue 9 writes it); goal ratio <= 2.
- ``ingest``, ``ingest-postgres``: signed 20-commit pushes into ``hookrelay serve`` from 32
  keep-alive clients, pushes/s; baseline a bare FastAPI endpoint under the same uvicorn that
  reads the body, checks the HMAC and answers 202; goals ratio >= 0.5 and p99 < 100 ms
  (PostgreSQL: ratio >= 0.3).
- ``deliver``, ``deliver-16``, ``deliver-64``, ``deliver-postgres``: ``hookrelay worker``
  draining the queue to a loopback Tracker stand-in with 4 (16, 64) in flight, commits/s;
  baseline the same httpx client posting the same bodies from as many threads; goal ratio
  >= 0.8 at 4.
- ``git-push-1000``: seconds the hook adds to a push of 1,000 story commits with Tracker
  answering in 20 ms, the worse of the shell and Python hooks; baseline the same push with no
  hook; goal ours <= 1 s.
- ``memory-25mb``: peak RSS growth of ``serve`` taking one 25 MB push (~34,000 real commits),
  until every story commit is queued, MB; baseline the body's size; goal ratio <= 3.
- ``lease-100k`` (and ``lease-100k-postgres`` in the full run): one ``lease`` of 4 with
  100,000 queued, ms; baseline the same with 1,000 queued; goal ratio <= 2.

It also prints how costs grow: ingest and deliver at 1, 8 and 32, and parse per KB of message.
Only public entry points are used: the ``hookrelay serve`` and ``hookrelay worker`` commands
(as subprocesses, configured by ``HOOKRELAY_*`` variables), HTTP, the store and the parser.
PostgreSQL rows run when ``HOOKRELAY_TEST_POSTGRES_URL`` is set (a schema of their own,
dropped after).

Run: ``.venv/bin/python bench/run.py`` (full, ~10 min), ``--quick`` (under 3 min on 2 cores:
fewer rounds, one of git-push and memory), ``--smoke`` (seconds, tiny scale: the machinery
only), ``--only parse,lease-100k``, ``--output FILE``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import io
import itertools
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench.harness import (
    REPO,
    SKIPPED,
    Result,
    failed,
    growth_table,
    interleaved,
    machine,
    percentile,
    skipped,
    table,
    write_json,
)
from bench.http_load import LoadResult, load, post_request
from bench.servers import (
    NOT_DELIVERING,
    bare_endpoint,
    hookrelay_serve,
    hookrelay_worker,
    postgres_database,
    reset_peak_rss,
    rss_bytes,
    tracker_stand_in,
)

DEFAULT_OUTPUT = REPO / "bench" / "results" / "latest.json"
GROUP_PATTERN = r"\[[^\[\]]*\]"  # issue 9's parse baseline, as written there
SECRET = "bench-webhook-secret"  # noqa: S105 - signs made-up pushes
STORY = 187000001
MB = 1024 * 1024


@dataclass(frozen=True)
class Scale:
    """How much of each benchmark to run."""

    name: str
    parse_rounds: int
    parse_messages: int | None  # None: all 3,702
    ingest_seconds: float
    ingest_rounds: int
    ingest_levels: tuple[int, ...]
    ingest_headline: int
    deliver_commits: int
    deliver_rounds: int
    deliver_levels: tuple[int, ...]
    deliver_headline: int
    git_commits: int
    git_rounds: int
    memory_bytes: int
    memory_rounds: int
    lease_small: int
    lease_big: int
    lease_rounds: int
    postgres_lease: bool


FULL = Scale(
    name="full",
    parse_rounds=15, parse_messages=None,
    ingest_seconds=3.0, ingest_rounds=5, ingest_levels=(1, 8, 32), ingest_headline=32,
    deliver_commits=1000, deliver_rounds=5, deliver_levels=(1, 4, 8, 16, 32, 64),
    deliver_headline=4,
    git_commits=1000, git_rounds=3,
    memory_bytes=25 * MB, memory_rounds=2,
    lease_small=1000, lease_big=100_000, lease_rounds=7, postgres_lease=True,
)  # fmt: skip
QUICK = Scale(
    name="quick",
    parse_rounds=9, parse_messages=None,
    ingest_seconds=1.5, ingest_rounds=3, ingest_levels=(1, 8, 32), ingest_headline=32,
    deliver_commits=500, deliver_rounds=3, deliver_levels=(1, 4, 8, 16, 32, 64),
    deliver_headline=4,
    git_commits=1000, git_rounds=1,
    memory_bytes=25 * MB, memory_rounds=1,
    lease_small=1000, lease_big=100_000, lease_rounds=5, postgres_lease=False,
)  # fmt: skip
SMOKE = Scale(
    name="smoke",
    parse_rounds=2, parse_messages=300,
    ingest_seconds=0.3, ingest_rounds=1, ingest_levels=(2,), ingest_headline=2,
    deliver_commits=20, deliver_rounds=1, deliver_levels=(4,), deliver_headline=4,
    git_commits=5, git_rounds=1,
    memory_bytes=300_000, memory_rounds=1,
    lease_small=10, lease_big=100, lease_rounds=1, postgres_lease=False,
)  # fmt: skip


@dataclass
class Run:
    """One invocation: its scale, a scratch folder, and what it has found so far."""

    scale: Scale
    folder: Path
    results: list[Result] = field(default_factory=list)
    growth: dict[str, Any] = field(default_factory=dict)


def note(text: str) -> None:
    """Progress on stderr, so stdout is the table alone."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# --- parse ----------------------------------------------------------------------------------


def corpus() -> list[dict[str, str]]:
    """The 3,702 real commit messages (tests/fixtures, else ../shared/fixtures)."""
    from bench.core_throughput import CORPUS

    path = CORPUS
    if not path.exists():
        path = REPO.parent / "shared" / "fixtures" / "commit-messages" / CORPUS.name
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def parse(run: Run) -> None:
    """``parse``: µs a message, against one ``re.findall`` pass; and the cost per KB."""
    from hookrelay.core.messages import parse_message

    messages = [r["message"] for r in corpus()][: run.scale.parse_messages]
    compiled = re.compile(GROUP_PATTERN).findall

    # CPU time of this thread, not wall time: on a machine shared with other work, being
    # descheduled mid-pass would otherwise count as parsing time.
    def per_message(work: Callable[[str], object], texts: list[str], passes: int = 3) -> float:
        started = time.thread_time()
        for _ in range(passes):
            for text in texts:
                work(text)
        return (time.thread_time() - started) / passes / len(texts) * 1e6

    def findall(text: str) -> object:
        return re.findall(GROUP_PATTERN, text)

    compiled_times: list[float] = []

    def baseline() -> float:
        compiled_times.append(per_message(compiled, messages))
        return per_message(findall, messages)

    ours, base, _ = interleaved(
        run.scale.parse_rounds, lambda: per_message(parse_message, messages), baseline
    )
    run.results.append(
        Result(
            "parse",
            ours,
            base,
            f"re.findall(r'{GROUP_PATTERN}', m) on each of {len(messages):,} real messages",
            "µs CPU/message",
            "ratio <= 2",
            run.scale.parse_rounds,
            {
                "messages": len(messages),
                "ratio_to_precompiled_pattern": round(ours / statistics.median(compiled_times), 2),
            },
        )
    )

    text = "\n".join(messages)
    rows = []
    for size_kb in (0.25, 1, 4, 16, 64):
        size = int(size_kb * 1024)
        sample = [(text * (size // len(text) + 1))[:size]] * max(1, 256 // max(1, int(size_kb)))
        mine, floor, _ = interleaved(
            3,
            lambda s=sample: per_message(parse_message, s),
            lambda s=sample: per_message(findall, s),
        )
        rows.append(
            {
                "kb": size_kb,
                "ours_us_per_kb": round(mine / size_kb, 3),
                "baseline_us_per_kb": round(floor / size_kb, 3),
                "ratio": round(mine / floor, 2),
            }
        )
    run.growth["parse_per_kb"] = rows


# --- ingest -----------------------------------------------------------------------------------


def github_commit(sha: str, message: str, author: str = "Ada Lovelace") -> dict[str, Any]:
    """One commit as GitHub's push payload carries it (docs.github.com, "push" event)."""
    person = {"name": author, "email": "ada@example.org", "username": "ada"}
    return {
        "id": sha,
        "tree_id": "f" * 40,
        "distinct": True,
        "message": message,
        "timestamp": "2026-01-02T03:04:05Z",
        "url": f"https://github.com/octo/rocket/commit/{sha}",
        "author": person,
        "committer": person,
        "added": [],
        "removed": [],
        "modified": ["README.md"],
    }


def github_push(commits: list[dict[str, Any]]) -> bytes:
    """A GitHub push of ``commits`` to octo/rocket's main branch."""
    document = {
        "ref": "refs/heads/main",
        "before": "a" * 40,
        "after": commits[-1]["id"] if commits else "b" * 40,
        "created": False,
        "deleted": False,
        "forced": False,
        "repository": {"full_name": "octo/rocket", "name": "rocket"},
        "commits": commits,
    }
    return json.dumps(document).encode()


_PUSH_NUMBERS = itertools.count(1)
_PLACEHOLDER = b"f00dface"


def github_headers(body: bytes) -> dict[str, str]:
    """The headers GitHub sends with a push, signed with the benchmark's secret."""
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-Hub-Signature-256": "sha256="
        + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
    }


def new_pushes(commits: int) -> Callable[[], tuple[bytes, dict[str, str]]]:
    """A maker of signed pushes (body, headers) of ``commits`` story commits, each commit id
    new to the run (cheap: one template, its placeholder replaced, then signed)."""
    template = github_push(
        [
            github_commit(_PLACEHOLDER.decode() + f"{n:032x}", f"[#{STORY}] bench commit {n}")
            for n in range(commits)
        ]
    )

    def make() -> tuple[bytes, dict[str, str]]:
        body = template.replace(_PLACEHOLDER, b"%08x" % next(_PUSH_NUMBERS))
        return body, github_headers(body)

    return make


def signed_pushes(url: str, commits: int) -> Callable[[], bytes]:
    """A maker of whole HTTP requests posting new signed pushes to ``url``/github."""
    make_push = new_pushes(commits)

    def make() -> bytes:
        body, headers = make_push()
        return post_request(url, "/github", body, headers)

    return make


def _accepted(result: LoadResult, who: str) -> LoadResult:
    refused = {s: n for s, n in result.statuses.items() if s != 202}
    if refused or not result.requests:
        raise RuntimeError(f"{who} answered {dict(result.statuses)} (every push should get 202)")
    return result


@contextlib.contextmanager
def queue_database(run: Run, kind: str, name: str) -> Iterator[str]:
    """A fresh queue: a SQLite file in the scratch folder, or a PostgreSQL schema."""
    if kind == "sqlite":
        yield f"sqlite:///{run.folder / f'{name}.db'}"
    else:
        with postgres_database(run.folder) as url:
            yield url


def _drain_inbox(store: Any, within: float = 300.0) -> float:
    """Seconds until the pushes ``serve`` kept in its inbox have all been expanded."""
    started = time.perf_counter()
    while store.inbox_count():
        if time.perf_counter() - started > within:
            raise TimeoutError(f"the inbox was not expanded within {within:.0f} s")
        time.sleep(0.02)
    return time.perf_counter() - started


def ingest(run: Run, kind: str) -> None:
    """``ingest`` (SQLite, with growth at each level) or ``ingest-postgres``: pushes/s and p99.

    After each of ``serve``'s rounds the pushes it kept in its inbox are expanded before the
    next round starts, so that work never overlaps the baseline's round; the time it takes is
    reported beside the answer rate, as the rate sustained over the round and its expansion.
    """
    from hookrelay.queue import open_store

    scale = run.scale
    levels = scale.ingest_levels if kind == "sqlite" else (scale.ingest_headline,)
    settings = {**NOT_DELIVERING, "HOOKRELAY_GITHUB_SECRET": SECRET}
    rows = []
    with (
        queue_database(run, kind, "ingest") as database,
        bare_endpoint(run.folder, SECRET) as bare,
        hookrelay_serve(run.folder, database, settings) as serve,
    ):
        store = open_store(database)
        try:
            for clients in levels:
                rows.append(_ingest_level(run, kind, clients, serve.url, bare.url, store))
        finally:
            store.close()
    headline = rows[-1]
    name = "ingest" if kind == "sqlite" else "ingest-postgres"
    goal = "ratio >= 0.5 and p99_ms < 100" if kind == "sqlite" else "ratio >= 0.3"
    run.results.append(
        Result(
            name,
            headline["ours_per_s"],
            headline["baseline_per_s"],
            "bare FastAPI endpoint, same uvicorn: read body, check HMAC, 202",
            f"pushes/s ({headline['clients']} clients, 20 commits each)",
            goal,
            scale.ingest_rounds,
            {
                "p99_ms": headline["ours_p99_ms"],
                "baseline_p99_ms": headline["baseline_p99_ms"],
                "sustained_per_s": headline["ours_sustained_per_s"],
                "clients": headline["clients"],
                "seconds_per_round": scale.ingest_seconds,
            },
        )
    )
    if kind == "sqlite":
        run.growth["ingest"] = rows


def _ingest_level(  # noqa: PLR0917 - one level's setting
    run: Run, kind: str, clients: int, ours_url: str, bare_url: str, store: Any
) -> dict[str, Any]:
    """One level of ``ingest``: rounds of ``serve`` and the bare endpoint, interleaved."""
    scale = run.scale
    ours_p99: list[float] = []
    base_p99: list[float] = []
    sustained: list[float] = []

    def measure(url: str, p99s: list[float], who: str) -> float:
        result = _accepted(
            load(url, signed_pushes(url, 20), clients=clients, seconds=scale.ingest_seconds),
            who,
        )
        p99s.append(percentile(result.latencies, 0.99) * 1e3)
        return result.rate

    def ours() -> float:
        rate = measure(ours_url, ours_p99, "hookrelay serve")
        drained = _drain_inbox(store)
        sustained.append(rate * scale.ingest_seconds / (scale.ingest_seconds + drained))
        return rate

    note(f"ingest ({kind}): {clients} client(s), {scale.ingest_rounds} round(s)")
    _drain_inbox(store)
    ours_rate, base_rate, _ = interleaved(
        scale.ingest_rounds, ours, lambda: measure(bare_url, base_p99, "the bare endpoint")
    )
    return {
        "clients": clients,
        "ours_per_s": round(ours_rate, 1),
        "baseline_per_s": round(base_rate, 1),
        "ratio": round(ours_rate / base_rate, 3),
        "ours_p99_ms": round(statistics.median(ours_p99), 1),
        "baseline_p99_ms": round(statistics.median(base_p99), 1),
        "ours_sustained_per_s": round(statistics.median(sustained), 1),
    }


# --- deliver ----------------------------------------------------------------------------------


def deliver(run: Run, kind: str) -> None:
    """``deliver`` at each level (SQLite) or ``deliver-postgres`` at 4: commits/s."""
    from bench.queue_throughput import BODY, TOKEN, item
    from hookrelay.queue import State, open_store
    from hookrelay.tracker.client import make_http_client

    scale = run.scale
    levels = scale.deliver_levels if kind == "sqlite" else (scale.deliver_headline,)
    numbers = itertools.count()
    rows = []
    with tracker_stand_in(run.folder) as stand_in, queue_database(run, kind, "deliver") as database:
        target = f"{stand_in.url}/services/v5"
        store = open_store(database)
        try:

            def delivered() -> int:
                return store.counts().get(State.DELIVERED, 0)

            def drain(count: int, worker_alive: Callable[[], bool]) -> float:
                batch = [item(next(numbers), target) for _ in range(count)]
                goal, posts = delivered() + count, stand_in.count() + count
                store.enqueue(batch, now=time.time())
                started = time.perf_counter()
                deadline = started + 300

                def check() -> None:
                    if not worker_alive():
                        raise RuntimeError("hookrelay worker exited while draining")
                    if time.perf_counter() > deadline:
                        raise TimeoutError(f"{count} commits not delivered within 300 s")

                def wait(done: Callable[[], bool], pause: float) -> None:
                    while not done():
                        check()
                        time.sleep(pause)

                # The stand-in answers once the last post has arrived (a long poll: polling it
                # loaded the machine the worker runs on, which the baseline never had); the
                # queue's count, ~2 ms of CPU, is asked only then.
                while stand_in.wait_for(posts, 1.0) < posts:
                    check()
                wait(lambda: delivered() >= goal, 0.002)
                return count / (time.perf_counter() - started)

            headers = {"X-TrackerToken": TOKEN, "Content-Type": "application/json"}
            # The stand-in does not count these posts, so its count is the worker's alone.
            baseline_url = f"{stand_in.url}/baseline/services/v5/source_commits"
            transport_errors = [0]

            def post_all(http: Any, count: int, threads: int) -> float:
                def post(_: int) -> None:
                    for _attempt in range(5):
                        try:
                            answer = http.post(baseline_url, content=BODY, headers=headers)
                        except httpx.TransportError:
                            # httpcore's pool, shared by more threads than it keeps
                            # connections, now and then hands a thread a closed socket.
                            transport_errors[0] += 1
                            continue
                        if answer.status_code != 200:
                            raise RuntimeError(f"the stand-in answered {answer.status_code}")
                        return
                    raise RuntimeError("five transport errors in a row posting to the stand-in")

                with ThreadPoolExecutor(threads) as pool:
                    started = time.perf_counter()
                    list(pool.map(post, range(count)))
                    return count / (time.perf_counter() - started)

            def measure_level(in_flight: int) -> dict[str, Any]:
                settings = {
                    "HOOKRELAY_CONCURRENCY": str(in_flight),
                    "HOOKRELAY_POLL_INTERVAL": "0.01",
                    "HOOKRELAY_TRACKER_URL": target,
                    "HOOKRELAY_TRACKER_TOKEN": TOKEN,
                }
                note(f"deliver ({kind}): {in_flight} in flight, {scale.deliver_rounds} round(s)")
                stand_in.reset()
                transport_errors[0] = 0
                n = scale.deliver_commits
                with (
                    hookrelay_worker(run.folder, database, settings) as worker,
                    make_http_client() as http,
                ):

                    def alive() -> bool:
                        return worker.popen.poll() is None

                    drain(2 * in_flight, alive)  # the worker is up and its code paths warm
                    post_all(http, 2 * in_flight, in_flight)
                    ours, base, _ = interleaved(
                        scale.deliver_rounds,
                        lambda: drain(n, alive),
                        lambda: post_all(http, n, in_flight),
                    )
                return {
                    "in_flight": in_flight,
                    "ours_per_s": round(ours, 1),
                    "baseline_per_s": round(base, 1),
                    "ratio": round(ours / base, 3),
                    "posts_beyond_one_a_commit": stand_in.count()
                    - (2 * in_flight + scale.deliver_rounds * n),
                    "baseline_transport_errors": transport_errors[0],
                }

            for in_flight in levels:
                name = _deliver_name(kind, in_flight, scale.deliver_headline)
                try:
                    rows.append(measure_level(in_flight))
                except Exception as exc:
                    if name is None:
                        raise
                    run.results.append(failed(name, "", exc))
        finally:
            store.close()
    for row in rows:
        level = row["in_flight"]
        name = _deliver_name(kind, level, scale.deliver_headline)
        if name is None:
            continue
        run.results.append(
            Result(
                name,
                row["ours_per_s"],
                row["baseline_per_s"],
                f"the same httpx client posting the same bodies from {level} threads",
                f"commits/s ({level} in flight)",
                "ratio >= 0.8" if level == scale.deliver_headline else "",
                scale.deliver_rounds,
                {k: row[k] for k in ("posts_beyond_one_a_commit", "baseline_transport_errors")},
            )
        )
    if kind == "sqlite":
        run.growth["deliver"] = [r for r in rows if r["in_flight"] in (1, 8, 32)]


def _deliver_name(kind: str, in_flight: int, headline: int) -> str | None:
    """The table's name for a level (None: a growth row only)."""
    if kind == "postgres":
        return "deliver-postgres"
    if in_flight == headline:
        return "deliver"
    return f"deliver-{in_flight}" if in_flight in (16, 64) else None


# --- git push ---------------------------------------------------------------------------------


def git_push(run: Run) -> None:
    """``git-push-1000``: seconds the hook adds to a push, the worse of the two forms."""
    from tests.hooks.repos import FORMS, GitWorld, install
    from tests.support.waiting import wait_until

    scale = run.scale
    size = scale.git_commits
    messages = [f"[#{n}] change {n}".encode() for n in range(1, size + 1)]

    with tracker_stand_in(run.folder) as stand_in:

        def push(form: str | None) -> float:
            with tempfile.TemporaryDirectory(dir=run.folder) as scratch:
                world = GitWorld(Path(scratch))
                if form is not None:
                    with contextlib.redirect_stdout(io.StringIO()):
                        install("git", world.server, form, f"{stand_in.url}/services/v3")
                world.fast_import(messages)
                stand_in.reset()
                stand_in.delay(0.02)  # a distant Tracker, while the pusher waits
                started = time.perf_counter()
                world.push("main")
                pushed = time.perf_counter() - started
                # What is measured is over; let the hook's background sender finish fast.
                stand_in.delay(0)
                if form is not None:
                    wait_until(lambda: stand_in.count() >= size, 300, "delivery")
                    wait_until(lambda: not (world.state() / "lock").exists(), 30, "the sender")
                return pushed

        plain: list[float] = []
        hooked: dict[str, list[float]] = {form: [] for form in FORMS}
        for number in range(scale.git_rounds):
            note(f"git push of {size} commits: round {number + 1} of {scale.git_rounds}")
            plain.append(push(None))
            for form in FORMS:
                hooked[form].append(push(form))
    base = statistics.median(plain)
    added = {form: statistics.median(times) - base for form, times in hooked.items()}
    worse = max(added, key=lambda form: added[form])
    run.results.append(
        Result(
            "git-push-1000",
            added[worse],
            base,
            "the same push with no hook (ratio: seconds added / plain push)",
            f"s added to a push of {size:,} ({worse} hook, Tracker answering in 20 ms)",
            "ours <= 1",
            scale.git_rounds,
            {f"{form}_added_s": round(seconds, 3) for form, seconds in added.items()},
        )
    )


# --- memory -----------------------------------------------------------------------------------


def big_push(size: int) -> tuple[bytes, int]:
    """A push of real commit messages, as many as fit in ``size`` bytes; and how many."""
    records = corpus()
    commits: list[dict[str, Any]] = []
    estimate = 0
    for number in itertools.count():
        record = records[number % len(records)]
        commit = github_commit(f"{number:040x}", record["message"], record["author"])
        estimate += len(json.dumps(commit)) + 2
        if estimate > size - 1000:
            break
        commits.append(commit)
    return github_push(commits), len(commits)


def wait_queued(store: Any, count: int, within: float = 120.0) -> float:
    """Wait until ``store`` holds ``count`` commits; return the time it did."""
    deadline = time.perf_counter() + within
    while sum(store.counts().values()) < count:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"fewer than {count:,} commits queued within {within:.0f} s")
        time.sleep(0.02)
    return time.perf_counter()


def memory(run: Run) -> None:
    """``memory-25mb``: peak RSS growth of ``serve`` taking one big push, over the body size."""
    from hookrelay.core.messages import parse_message
    from hookrelay.queue import open_store

    scale = run.scale
    body, commits = big_push(scale.memory_bytes)
    headers = github_headers(body)
    settings = {**NOT_DELIVERING, "HOOKRELAY_GITHUB_SECRET": SECRET}
    growths, answers, queued = [], [], []
    peak_sources: set[str] = set()
    story_commits = sum(1 for c in json.loads(body)["commits"] if parse_message(c["message"]))
    for number in range(scale.memory_rounds):
        note(f"memory: one {len(body) / MB:.1f} MB push of {commits:,} commits, round {number + 1}")
        with (
            queue_database(run, "sqlite", f"memory{number}") as database,
            hookrelay_serve(run.folder, database, settings) as serve,
            httpx.Client(timeout=600) as client,
            contextlib.closing(open_store(database)) as store,
        ):
            warm_body, warm_headers = new_pushes(20)()  # a push's code paths, loaded once
            client.post(f"{serve.url}/github", content=warm_body, headers=warm_headers)
            kernel_peak = reset_peak_rss(serve.pid)
            peak_sources.add("VmHWM and sampling" if kernel_peak else "sampling")
            before = rss_bytes(serve.pid)[0]
            peak = [before]
            done = threading.Event()

            def sample(pid: int = serve.pid, done: Any = done, peak: list[int] = peak) -> None:
                while not done.wait(0.005):
                    with contextlib.suppress(OSError, KeyError):
                        peak[0] = max(peak[0], rss_bytes(pid)[0])

            sampler = threading.Thread(target=sample)
            sampler.start()
            started = time.perf_counter()
            try:
                answer = client.post(f"{serve.url}/github", content=body, headers=headers)
                answers.append(time.perf_counter() - started)
                if answer.status_code != 202:
                    raise RuntimeError(f"serve answered {answer.status_code}: {answer.text[:200]}")
                # Work done after the answer (expanding a stored push) counts too: sample on
                # until every story commit of the push is in the queue.
                queued.append(wait_queued(store, 20 + story_commits) - started)
            finally:
                done.set()
                sampler.join()
            highest = max(peak[0], rss_bytes(serve.pid)[1] if kernel_peak else 0)
            growths.append((highest - before) / MB)
    growth = statistics.median(growths)
    run.results.append(
        Result(
            "memory-25mb",
            growth,
            len(body) / MB,
            f"the body's size ({commits:,} real commits)",
            "MB peak RSS growth",
            "ratio <= 3",
            scale.memory_rounds,
            {
                "commits": commits,
                "answered_in_s": round(statistics.median(answers), 2),
                "all_queued_in_s": round(statistics.median(queued), 2),
                "peak_from": ", ".join(sorted(peak_sources)),
            },
        )
    )


# --- lease ------------------------------------------------------------------------------------


def lease(run: Run, kind: str) -> None:
    """``lease-100k``: one lease of 4 with 100,000 queued, over the same with 1,000."""
    from bench.queue_throughput import item
    from hookrelay.queue import open_store

    scale = run.scale

    def fill(store: Any, count: int) -> None:
        for start in range(0, count, 10_000):
            store.enqueue([item(n) for n in range(start, min(count, start + 10_000))], now=0.0)

    def timed_lease(store: Any) -> float:
        samples = []
        for _ in range(20):
            started = time.perf_counter()
            leased = store.lease(now=1.0, limit=4, lease_seconds=3600)
            samples.append(time.perf_counter() - started)
            if len(leased) != 4:
                raise RuntimeError(f"leased {len(leased)} commits, not 4")
            for delivery in leased:  # back to pending (untimed), so the queue keeps its size
                store.release(delivery, now=1.0)
        return statistics.median(samples) * 1e3

    with (
        queue_database(run, kind, "lease-small") as small_url,
        queue_database(run, kind, "lease-big") as big_url,
    ):
        small, big = open_store(small_url), open_store(big_url)
        try:
            note(f"lease ({kind}): queueing {scale.lease_big:,} and {scale.lease_small:,} commits")
            started = time.perf_counter()
            fill(big, scale.lease_big)
            filled = time.perf_counter() - started
            fill(small, scale.lease_small)
            ours, base, _ = interleaved(
                scale.lease_rounds, lambda: timed_lease(big), lambda: timed_lease(small)
            )
        finally:
            small.close()
            big.close()
    run.results.append(
        Result(
            "lease-100k" if kind == "sqlite" else "lease-100k-postgres",
            ours,
            base,
            f"the same lease with {scale.lease_small:,} queued",
            f"ms a lease of 4 ({scale.lease_big:,} queued)",
            "ratio <= 2",
            scale.lease_rounds,
            {
                "queued": scale.lease_big,
                "enqueue_s_per_1000": round(filled / scale.lease_big * 1000, 3),
            },
        )
    )


# --- running them -----------------------------------------------------------------------------

POSTGRES_ENV = "HOOKRELAY_TEST_POSTGRES_URL"

# group -> its benchmarks (name, goal, how to run it); a group's members run together.
GROUPS: dict[str, list[tuple[str, str, Callable[[Run], None]]]] = {
    "parse": [("parse", "ratio <= 2", parse)],
    "ingest": [
        ("ingest", "ratio >= 0.5", lambda r: ingest(r, "sqlite")),
        ("ingest-postgres", "ratio >= 0.3", lambda r: ingest(r, "postgres")),
    ],
    "deliver": [
        ("deliver", "ratio >= 0.8", lambda r: deliver(r, "sqlite")),
        ("deliver-postgres", "ratio >= 0.8", lambda r: deliver(r, "postgres")),
    ],
    "git-push-1000": [("git-push-1000", "ours <= 1", git_push)],
    "memory-25mb": [("memory-25mb", "ratio <= 3", memory)],
    "lease-100k": [
        ("lease-100k", "ratio <= 2", lambda r: lease(r, "sqlite")),
        ("lease-100k-postgres", "ratio <= 2", lambda r: lease(r, "postgres")),
    ],
}


def run_all(scale: Scale, only: set[str], folder: Path) -> Run:
    """Run the chosen groups; a benchmark that fails is reported, and the others still run."""
    run = Run(scale, folder)
    postgres = bool(os.environ.get(POSTGRES_ENV, "").strip())
    for group, members in GROUPS.items():
        if only and group not in only:
            continue
        for name, goal, work in members:
            if name == "lease-100k-postgres" and not scale.postgres_lease:
                continue
            if name.endswith("-postgres") and (not postgres or scale.name == "smoke"):
                why = "not in --smoke" if postgres else f"{POSTGRES_ENV} is not set"
                run.results.append(skipped(name, goal, why))
                continue
            started = time.perf_counter()
            note(f"{name} ...")
            try:
                work(run)
            except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the rest
                run.results.append(failed(name, goal, exc))
            note(f"{name}: {time.perf_counter() - started:.1f} s")
    return run


def print_growth(growth: dict[str, Any]) -> None:
    """The "how each cost grows" tables."""
    if "ingest" in growth:
        print()
        print(
            growth_table(
                "ingest (SQLite) by clients: pushes/s answered and p99; sustained: over the "
                "round and the expansion of what it kept",
                (
                    "clients",
                    "ours/s",
                    "baseline/s",
                    "ratio",
                    "ours p99 ms",
                    "baseline p99 ms",
                    "ours sustained/s",
                ),
                [
                    (
                        str(r["clients"]),
                        f"{r['ours_per_s']:.0f}",
                        f"{r['baseline_per_s']:.0f}",
                        f"{r['ratio']:.2f}x",
                        f"{r['ours_p99_ms']:.1f}",
                        f"{r['baseline_p99_ms']:.1f}",
                        f"{r['ours_sustained_per_s']:.0f}",
                    )
                    for r in growth["ingest"]
                ],
            )
        )
    if "deliver" in growth:
        print()
        print(
            growth_table(
                "deliver (SQLite) by commits in flight: commits/s",
                ("in flight", "ours/s", "baseline/s", "ratio"),
                [
                    (
                        str(r["in_flight"]),
                        f"{r['ours_per_s']:.0f}",
                        f"{r['baseline_per_s']:.0f}",
                        f"{r['ratio']:.2f}x",
                    )
                    for r in growth["deliver"]
                ],
            )
        )
    if "parse_per_kb" in growth:
        print()
        print(
            growth_table(
                "parse by message size: µs per KB",
                ("KB", "ours", "baseline", "ratio"),
                [
                    (
                        f"{r['kb']:g}",
                        f"{r['ours_us_per_kb']:.3f}",
                        f"{r['baseline_us_per_kb']:.3f}",
                        f"{r['ratio']:.2f}x",
                    )
                    for r in growth["parse_per_kb"]
                ],
            )
        )


def main(argv: list[str] | None = None) -> int:
    """Run, print the table, write the JSON; exit 1 if a benchmark failed to run."""
    parser = argparse.ArgumentParser(
        description="Measure hookrelay's hot paths against same-run baselines."
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="fewer rounds: under 3 min on 2 cores")
    size.add_argument("--smoke", action="store_true", help="tiny scale: checks the machinery only")
    parser.add_argument("--only", default="", help=f"comma-separated groups: {', '.join(GROUPS)}")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the JSON file")
    args = parser.parse_args(argv)
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = only - set(GROUPS)
    if unknown:
        parser.error(f"--only: no benchmark group named {', '.join(sorted(unknown))}")
    scale = SMOKE if args.smoke else QUICK if args.quick else FULL
    command = "bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:])

    info = machine()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hookrelay-bench-") as folder:
        run = run_all(scale, only, Path(folder))
    info["scale"] = scale.name
    info["seconds"] = round(time.perf_counter() - started, 1)
    write_json(args.output, info, run.results, run.growth, command.strip())

    print(
        f"{command.strip()}: {info['cpu']}, {info['cores']} cores, load average at start "
        f"{info['load_average_at_start'][0]}, Python {info['python']}, commit {info['commit']}, "
        f"{info['seconds']:.0f} s"
    )
    print(table(run.results))
    print_growth(run.growth)
    print(f"\nwritten to {args.output}")
    broken = [r for r in run.results if r.error and not r.error.startswith(SKIPPED)]
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
