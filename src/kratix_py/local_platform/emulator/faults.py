"""Fault injection: answer the next N matching requests with an error, leaving state untouched."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from . import errors


@dataclass
class Fault:
    method: str | None  # None matches every method
    path: re.Pattern[str]
    status: int
    remaining: int
    message: str


class FaultInjector:
    """Thread-safe: tests add faults from their own thread while the server consults them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(
        self, method: str | None, path_regex: str, status: int, count: int = 1, message: str = ""
    ) -> None:
        if count < 1:
            raise ValueError("count must be at least 1")
        if not 400 <= int(status) <= 599:
            raise ValueError("status must be an HTTP error code (400-599)")
        fault = Fault(
            method.upper() if method else None, re.compile(path_regex), int(status), int(count), message
        )
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def match(self, method: str, path: str) -> errors.ApiError | None:
        """The error for this request if a fault matches it (the earliest added wins)."""
        if not self._faults:
            return None
        with self._lock:
            for fault in self._faults:
                if (fault.method is None or fault.method == method.upper()) and fault.path.search(path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    error = errors.from_code(fault.status, fault.message)
                    if fault.status == 429:
                        # As kube-apiserver answers a 429: the wait in the header and in the Status.
                        error.headers["Retry-After"] = "1"
                        error.details = {"retryAfterSeconds": 1}
                    return error
        return None
