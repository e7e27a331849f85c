"""The columns every store selects, in one order, and the ``Delivery`` a row of them makes.

Both are derived from ``Delivery``'s fields (a column a field, same name, same order), and the
INSERT of ``hookrelay.queue.inserting`` from ``NewDelivery``'s: a field added to the dataclass
is a column read and written everywhere, with a converter here when its Python type is not what
the database hands back (``tests/queue/test_rows.py`` ties the fields to the migrated table).
Statements are written once, with ``:name`` placeholders; ``placeholders`` gives psycopg's form.
"""

from __future__ import annotations

import dataclasses
import operator
import re
from collections.abc import Callable, Sequence
from typing import Any

from hookrelay.queue.store import Delivery, NewDelivery, State, TokenSource

__all__ = [
    "COLUMNS",
    "NEW_COLUMNS",
    "delivery_from_row",
    "new_delivery_row",
    "placeholders",
    "story_ids_column",
    "story_ids_from_column",
]


def story_ids_column(story_ids: Sequence[int]) -> str:
    """How a delivery's story IDs are stored: ``' 123 456 '``, so ``LIKE '% 123 %'`` finds one."""
    return f" {' '.join(str(i) for i in story_ids)} " if story_ids else ""


def story_ids_from_column(text: str) -> tuple[int, ...]:
    """The story IDs of a ``story_ids`` column."""
    return tuple(int(part) for part in text.split())


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


# How a column's value becomes a field's (the rest are the database's str as they are).
_FROM_COLUMN: dict[str, Callable[[Any], Any]] = {
    "id": int,
    "body": bytes,  # psycopg hands back a memoryview
    "state": State,
    "attempts": int,
    "created_at": float,
    "next_attempt_at": float,
    "first_attempt_at": _float_or_none,
    "lease_until": _float_or_none,
    "finished_at": _float_or_none,
    "token_source": TokenSource,
    "story_ids": story_ids_from_column,
}
# How a field's value is stored (the rest are stored as they are).
_TO_COLUMN: dict[str, Callable[[Any], Any]] = {
    "token_source": lambda source: source.value,
    "story_ids": story_ids_column,
}

_FIELDS = tuple(f.name for f in dataclasses.fields(Delivery))
_CONVERTED = tuple((name, _FROM_COLUMN[name]) for name in _FIELDS if name in _FROM_COLUMN)
_NEW_FIELDS = tuple(f.name for f in dataclasses.fields(NewDelivery))
_NEW_VALUES = operator.attrgetter(*_NEW_FIELDS)
_NEW_CONVERTED = tuple(
    (index, _TO_COLUMN[name]) for index, name in enumerate(_NEW_FIELDS) if name in _TO_COLUMN
)

COLUMNS = ", ".join(_FIELDS)
"""Every column of a delivery, in ``Delivery``'s field order."""
NEW_COLUMNS = _NEW_FIELDS
"""The columns a commit to queue fills, in ``NewDelivery``'s field order."""


def delivery_from_row(row: Sequence[Any]) -> Delivery:
    """Build a ``Delivery`` from a row selected with ``COLUMNS``."""
    values = dict(zip(_FIELDS, row, strict=True))
    for name, convert in _CONVERTED:  # only the columns that need it: every row leased pays
        values[name] = convert(values[name])
    return Delivery(**values)


def new_delivery_row(item: NewDelivery) -> list[Any]:
    """The values of ``NEW_COLUMNS`` for a commit to queue."""
    values = list(_NEW_VALUES(item))
    for index, convert in _NEW_CONVERTED:
        values[index] = convert(values[index])
    return values


_NAMED = re.compile(r"(?<![:\w]):([a-z_]+)")


def placeholders(sql: str, *, pyformat: bool) -> str:
    """A statement written with ``:name`` placeholders (sqlite3's style), or with ``%(name)s``
    when ``pyformat`` (psycopg's); ``::casts`` are left alone."""
    return _NAMED.sub(r"%(\1)s", sql) if pyformat else sql
