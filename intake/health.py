"""Logs each outage once when it starts and once when it ends, not once per retry."""
from __future__ import annotations

import logging
import threading
import time


class OutageLog:
    """Tracks which dependencies are down and says so only on a change."""

    def __init__(self, logger: logging.Logger) -> None:
        self.log = logger
        self._down: dict[str, float] = {}
        self._lock = threading.Lock()

    def failed(self, what: str, error: BaseException | str) -> None:
        with self._lock:
            if what in self._down:
                return
            self._down[what] = time.monotonic()
        self.log.error("event=outage component=%s error=%s", what, _one_line(error))

    def ok(self, what: str) -> None:
        with self._lock:
            started = self._down.pop(what, None)
        if started is not None:
            self.log.info("event=recovered component=%s after_s=%.1f", what, time.monotonic() - started)

def _one_line(error: BaseException | str) -> str:
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return '"' + " ".join(str(text).split()).replace('"', "'")[:300] + '"'
