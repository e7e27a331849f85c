"""The durable queue of commits waiting for Tracker: one interface, SQLite and PostgreSQL stores."""
