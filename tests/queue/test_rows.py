"""The delivery's one shape: ``Delivery`` and ``NewDelivery`` make the table's columns, the
SELECT list, the INSERT list and the public view (``hookrelay.queue.rows``, ``store.public_view``)."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from hookrelay.core.routing import TokenSource
from hookrelay.queue import Delivery, NewDelivery, QueueStore, State
from hookrelay.queue.rows import (
    COLUMNS,
    NEW_COLUMNS,
    delivery_from_row,
    new_delivery_row,
    placeholders,
)
from hookrelay.queue.store import PRIVATE_FIELDS, PUBLIC_FIELDS, public_view
from tests.queue.conftest import QueueDatabase
from tests.queue.test_store_contract import new_delivery


def _names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def _table_columns(database: QueueDatabase) -> set[str]:
    if database.kind == "sqlite":
        return {row[1] for row in database.execute("PRAGMA table_info(deliveries)")}
    rows = database.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'deliveries'"
    )
    return {row[0] for row in rows}


def test_the_migrated_table_has_a_column_for_each_field_of_a_delivery(
    queue_database: QueueDatabase,
) -> None:
    """Every migration step applied, the table's columns are exactly ``Delivery``'s fields."""
    queue_database.open()
    assert _table_columns(queue_database) == set(_names(Delivery))


def test_a_commit_to_queue_is_part_of_a_delivery() -> None:
    """Each field of ``NewDelivery`` is a field of ``Delivery`` of the same type (``Delivery``
    extends it), so the INSERT list (``NEW_COLUMNS``) names columns ``COLUMNS`` reads back."""
    new = typing.get_type_hints(NewDelivery)
    stored = typing.get_type_hints(Delivery)
    assert {name: stored.get(name) for name in new} == new
    assert list(NEW_COLUMNS) == _names(NewDelivery)
    assert COLUMNS.split(", ") == _names(Delivery)


def _row(**columns: object) -> tuple[object, ...]:
    """A row in ``COLUMNS`` order, as a database hands it back."""
    return tuple(columns[name] for name in COLUMNS.split(", "))


def test_a_row_becomes_the_delivery_it_was_made_of() -> None:
    """A row in ``COLUMNS`` order, as a database hands it back, converts to each field's type."""
    row = _row(
        id="7", dedupe_key="key", target_url="http://t", token="tok", token_fingerprint="fp",
        commit_id="c0ffee", body=memoryview(b"{}"), repository="octo/a", branch="main",
        summary="s", state="waiting", attempts=2, created_at=10, next_attempt_at=20,
        first_attempt_at=11, lease_until=None, finished_at=None, last_error="boom", repaired="",
        token_source="commit", story_ids=" 12 34 ",
    )  # fmt: skip
    delivery = delivery_from_row(row)
    assert delivery == Delivery(
        id=7, dedupe_key="key", target_url="http://t", token="tok", token_fingerprint="fp",
        commit_id="c0ffee", body=b"{}", repository="octo/a", branch="main", summary="s",
        state=State.WAITING, attempts=2, created_at=10.0, next_attempt_at=20.0,
        first_attempt_at=11.0, lease_until=None, finished_at=None, last_error="boom",
        repaired="", token_source=TokenSource.COMMIT, story_ids=(12, 34),
    )  # fmt: skip
    assert (type(delivery.created_at), type(delivery.body)) == (float, bytes)


def test_a_commit_to_queue_is_stored_as_its_columns() -> None:
    """The INSERT's values are the fields in order, the enum as its value and the story IDs as
    the column's text."""
    item = dataclasses.replace(
        new_delivery(1), token_source=TokenSource.COMMIT, story_ids=(5, 6), repaired="r"
    )
    values = dict(zip(NEW_COLUMNS, new_delivery_row(item), strict=True))
    assert values == {
        **{name: getattr(item, name) for name in NEW_COLUMNS},
        "token_source": "commit",
        "story_ids": " 5 6 ",
    }


def test_every_queued_field_comes_back(store: QueueStore) -> None:
    """A commit queued with every field set is read back with the same values, on every store."""
    item = dataclasses.replace(
        new_delivery(1), token_source=TokenSource.COMMIT, story_ids=(5, 6), repaired="r"
    )
    store.enqueue([item], now=1000.0)
    (delivery,) = store.list()
    assert {name: getattr(delivery, name) for name in NEW_COLUMNS} == dataclasses.asdict(item)


def test_the_public_view_is_every_field_but_the_token_and_the_body() -> None:
    """What the CLI and HTTP show of a delivery: each of its fields, except the two never shown."""
    assert {"token", "body"} == PRIVATE_FIELDS
    assert set(PUBLIC_FIELDS) == set(_names(Delivery)) - {"token", "body"}
    assert len(PUBLIC_FIELDS) == len(set(PUBLIC_FIELDS))


def test_the_public_view_holds_json_values_and_no_secret() -> None:
    """The view has ``PUBLIC_FIELDS`` in order, enums as strings, story IDs as a list, and
    neither the token nor the body anywhere in it."""
    delivery = delivery_from_row(
        _row(
            id=1, dedupe_key="key", target_url="http://t", token="secret-token",
            token_fingerprint="fp", commit_id="c0ffee", body=b"secret-body", repository="octo/a",
            branch="main", summary="s", state="leased", attempts=1, created_at=10,
            next_attempt_at=20, first_attempt_at=11, lease_until=80, finished_at=None,
            last_error="", repaired="", token_source="settings", story_ids=" 9 ",
        )
    )  # fmt: skip
    view = public_view(delivery)
    assert tuple(view) == PUBLIC_FIELDS
    assert (view["state"], view["token_source"], view["story_ids"]) == ("leased", "settings", [9])
    assert (view["first_attempt_at"], view["lease_until"]) == (11.0, 80.0)
    assert "secret" not in repr(view)


@pytest.mark.parametrize("pyformat", [False, True], ids=["sqlite3", "psycopg"])
def test_statements_are_written_once_with_named_placeholders(pyformat: bool) -> None:
    """``:name`` stays for sqlite3 and is ``%(name)s`` for psycopg; a ``::cast`` and a ``:``
    inside a word are not placeholders."""
    sql = "SELECT :id::bigint, 'a:b' WHERE x = :next_attempt_at"
    expected = "SELECT %(id)s::bigint, 'a:b' WHERE x = %(next_attempt_at)s"
    assert placeholders(sql, pyformat=pyformat) == (expected if pyformat else sql)
