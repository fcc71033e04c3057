"""Delivery: render alerts (pure) and post them to Slack or the console through the outbox."""

from service.deliver.base import Deliverer

__all__ = ["Deliverer"]
