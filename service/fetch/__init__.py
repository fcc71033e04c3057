"""HTTP fetching policy: one shared client, an address guard, timeouts and a deadline, size caps,
conditional GET."""

from service.errors import BlockedAddressError
from service.fetch.client import Fetcher

__all__ = ["BlockedAddressError", "Fetcher"]
