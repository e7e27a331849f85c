"""``hookrelay deliveries``: see the queue and act on it.

``list`` shows the newest deliveries (``--state``, ``--limit``, ``--before ID`` to page,
``--json``); ``show ID`` shows one with its body, its attempts and Tracker's last error;
``retry ID`` makes a dead or waiting delivery due now and ``retry --dead [--repository NAME]``
does so for the dead-letter list (a running worker then delivers them), with today's token and
target (``hookrelay.redelivery``: a token the commit brought stays), saying which on each line.
Tokens are never printed: a delivery shows its token's fingerprint. An unknown ID, or a retry
that would post a delivered commit twice, exits 2.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hookrelay.core.text import shorten
from hookrelay.exceptions import InputError
from hookrelay.queue import DEFAULT_DATABASE_URL, Delivery, QueueStore, State, open_store
from hookrelay.queue.store import MAX_ROW_ID, public_view

__all__ = ["DATABASE_URL_ENV", "register"]

DATABASE_URL_ENV = "HOOKRELAY_DATABASE_URL"
_ERROR_WIDTH = 60


def register(commands: Any) -> None:
    """Add ``deliveries list|show|retry`` to the command line."""
    parser = commands.add_parser(
        "deliveries",
        help="see the delivery queue and retry commits",
        description=(
            "See the queue of commits waiting for Tracker, and retry dead ones. "
            f"The queue is ${DATABASE_URL_ENV} (default {DEFAULT_DATABASE_URL}). "
            "Exit status: 0 done, 1 the queue cannot be read, 2 no such delivery or it cannot "
            "be retried, 78 a bad database URL."
        ),
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help=f"sqlite:///PATH or postgresql://… (default: ${DATABASE_URL_ENV}, or --config)",
    )
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="the TOML settings file serve is given"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="the newest deliveries, newest first")
    listing.add_argument("--state", choices=[s.value for s in State], help="only this state")
    listing.add_argument("--limit", type=_positive, default=50, help="at most N (default 50)")
    listing.add_argument(
        "--before", type=_delivery_id, metavar="ID", help="only ids below ID (paging)"
    )
    listing.add_argument("--json", action="store_true", help='print {"deliveries": [...]}')
    listing.set_defaults(handler=run_list)

    showing = actions.add_parser("show", help="one delivery, with its body and last error")
    showing.add_argument("id", type=_delivery_id, metavar="ID")
    showing.add_argument("--json", action="store_true", help="print the delivery as JSON")
    showing.set_defaults(handler=run_show)

    retrying = actions.add_parser("retry", help="make a dead or waiting delivery due now")
    which = retrying.add_mutually_exclusive_group(required=True)
    which.add_argument("id", type=_delivery_id, nargs="?", metavar="ID")
    which.add_argument("--dead", action="store_true", help="retry every dead delivery")
    retrying.add_argument(
        "--repository", metavar="OWNER/NAME", help="with --dead: only this repository's"
    )
    retrying.set_defaults(handler=run_retry)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _delivery_id(text: str) -> int:
    value = _positive(text)
    if value > MAX_ROW_ID:
        raise argparse.ArgumentTypeError(f"{text} is not a delivery id (too large)")
    return value


def _database_url(args: argparse.Namespace) -> str:
    """Where the queue is: --database-url, else the settings serve reads (env over --config)."""
    if args.database_url:
        return str(args.database_url)
    from hookrelay.settings import load_settings

    return load_settings(args.config).database_url


def _open(args: argparse.Namespace) -> QueueStore:
    # create=False: looking at a queue must not leave an empty hookrelay.db behind.
    return open_store(_database_url(args), create=False)


def run_list(args: argparse.Namespace) -> int:
    """Print the newest deliveries as a table, or as JSON."""
    store = _open(args)
    try:
        deliveries = store.list(
            state=None if args.state is None else State(args.state),
            limit=args.limit,
            before_id=args.before,
        )
    finally:
        store.close()
    if args.json:
        print(json.dumps({"deliveries": [_public(d) for d in deliveries]}))
        return 0
    print(
        f"{'ID':>6}  {'STATE':<9}  {'TRIES':>5}  {'COMMIT':<12}  {'TOKEN':<16}  "
        f"{'WHEN (UTC)':<20}  ERROR"
    )
    for delivery in deliveries:
        # A delivered commit has no error now: an earlier refusal a retry mended is in `show`.
        error = "" if delivery.state is State.DELIVERED else delivery.last_error
        if delivery.repaired:
            # A body an old script broke, read back by the ingest: which script to fix.
            error = f"[repaired: {delivery.repaired}] {error}".rstrip()
        error = shorten(error, _ERROR_WIDTH)
        print(
            f"{delivery.id:>6}  {delivery.state.value:<9}  {delivery.attempts:>5}  "
            f"{delivery.commit_id[:12]:<12}  {delivery.token_fingerprint:<16}  "
            f"{_time(_when(delivery)):<20}  {error}"
        )
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Print one delivery, every field but the token."""
    store = _open(args)
    try:
        delivery = _get(store, args.id)
        attempts = store.attempts(delivery.id)
    finally:
        store.close()
    view = _public(delivery)
    view["body"] = delivery.body.decode("utf-8", errors="replace")
    if args.json:
        view["attempt_log"] = [
            {"number": a.number, "at": a.at, "outcome": a.outcome.value, "answer": a.answer}
            for a in attempts
        ]
        print(json.dumps(view))
        return 0
    for key, value in view.items():
        shown = _time(value) if key.endswith("_at") or key == "lease_until" else value
        print(f"{key + ':':<19} {shown}")
    for attempt in attempts:
        answer = attempt.answer or "accepted"
        print(f"attempt {attempt.number:<11} {_time(attempt.at)} {attempt.outcome.value}: {answer}")
    return 0


def run_retry(args: argparse.Namespace) -> int:
    """Make one delivery, or every dead one, due now, with today's token and target.

    A delivery whose token came from the settings is posted with the token and target its
    repository's route has now; one that brought its own token keeps it (each line says which).
    """
    from hookrelay.redelivery import retry_deliveries, routing_of_serve
    from hookrelay.settings import load_settings

    if args.repository and not args.dead:
        raise InputError("--repository goes with --dead")
    settings = load_settings(args.config)
    routing = routing_of_serve(settings)
    store = open_store(args.database_url or settings.database_url, create=False)
    try:
        if args.dead:
            ids = store.dead_ids(repository=args.repository)
            reports = retry_deliveries(store, routing, ids, now=time.time())
            for report in reports:
                print(report.line())
            count = sum(report.retried for report in reports)
            print(f"{count} dead {'delivery is' if count == 1 else 'deliveries are'} due again")
            return 0
        delivery = _get(store, args.id)
        (report,) = retry_deliveries(store, routing, [delivery.id], now=time.time())
    finally:
        store.close()
    if not report.retried:
        raise InputError(report.line())
    print(report.line())
    return 0


def _get(store: QueueStore, delivery_id: int) -> Delivery:
    delivery = store.get(delivery_id)
    if delivery is None:
        raise InputError(f"no delivery with id {delivery_id}")
    return delivery


def _why_not(delivery: Delivery) -> str:
    if delivery.state is State.DELIVERED:
        return f"delivery {delivery.id} was delivered; retrying it would post the commit twice"
    return f"delivery {delivery.id} is {delivery.state.value} now; it cannot be retried"


def _public(delivery: Delivery) -> dict[str, Any]:
    """A delivery as the command shows it: no token, no body."""
    return public_view(delivery)


def _when(delivery: Delivery) -> float | None:
    """The time that matters in a state: finished, held until, or next attempt."""
    if delivery.state in (State.DELIVERED, State.DEAD):
        return delivery.finished_at
    if delivery.state is State.LEASED:
        return delivery.lease_until
    return delivery.next_attempt_at


def _time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
