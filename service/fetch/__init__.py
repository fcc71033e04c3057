"""HTTP fetching policy: one shared client, timeouts and a deadline, size caps, conditional GET."""

from service.fetch.client import Fetcher

__all__ = ["Fetcher"]
