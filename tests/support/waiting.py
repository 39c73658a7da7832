"""Wait for a condition, never for a fixed time: a test that sleeps N seconds is slow when the
machine is fast and flaky when it is slow; ``wait_until`` returns as soon as the condition holds
and fails with what it waited for after a bounded deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T | None], what: str, timeout: float = 30.0, interval: float = 0.1
) -> T:
    """Poll ``condition`` until it returns something truthy (returned); AssertionError after
    ``timeout`` seconds naming ``what`` and the last value seen."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s (last: {value!r})")
        time.sleep(interval)
