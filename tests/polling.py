"""Waiting in tests for something another process or thread does: poll a check until it holds."""
from __future__ import annotations

import time
from collections.abc import Callable

import pytest

WAIT = 90.0  # how long a condition may take before the test gives up (functional, not a speed check)


def wait_until(check: Callable[[], object], timeout: float = WAIT, what: str = "",
               every: float = 0.2) -> float:
    """Polls CHECK every EVERY seconds until it is true; returns the seconds it took, fails the test after
    TIMEOUT."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(every)
    pytest.fail(f"not within {timeout:.0f}s: {what}")
