"""The HTTP receiver: webhooks, Tracker-compatible ingest, health and the delivery list."""

from hookrelay.web.app import create_app

__all__ = ["create_app"]
