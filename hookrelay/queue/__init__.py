"""The durable queue of commits waiting for Tracker: one interface, SQLite and PostgreSQL stores.

``open_store(database_url)`` opens the store a URL names; ``store.QueueStore`` is what every
store offers; ``hookrelay.core.lifecycle`` is the table of states a queued commit moves through.
"""

from hookrelay.queue.database_url import DEFAULT_DATABASE_URL, open_store
from hookrelay.queue.store import (
    AttemptResult,
    Delivery,
    EnqueueResult,
    NewDelivery,
    QueueStore,
    State,
)

__all__ = [
    "DEFAULT_DATABASE_URL",
    "AttemptResult",
    "Delivery",
    "EnqueueResult",
    "NewDelivery",
    "QueueStore",
    "State",
    "open_store",
]
