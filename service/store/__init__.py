"""All SQL lives here: the SQLite store and its numbered migrations."""

from service.store.sqlite import PendingAlert, Store

__all__ = ["PendingAlert", "Store"]
