"""Delivering queued commits to Tracker: the worker that leases, posts and records outcomes."""

from hookrelay.delivery.worker import DeliveryWorker

__all__ = ["DeliveryWorker"]
