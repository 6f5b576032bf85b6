"""Sends the outbox from a thread of its own, woken when a batch queued mail, so SMTP overlaps the next
batch."""
from __future__ import annotations

import threading
from collections.abc import Callable


class SendLoop:
    """Calls SEND whenever it is woken (and every IDLE_SECONDS meanwhile) until stopped; one send at a
    time."""

    def __init__(self, send: Callable[[], object], idle_seconds: float = 5.0, name: str = "outbox") -> None:
        self._send = send
        self._name = name
        self._idle = idle_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> SendLoop:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        """Asks for a send soon (at once if the loop is waiting); calls while one is running merge into
        one."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Finishes the send under way, and one more if one was asked for, then ends the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            self._wake.wait(self._idle)
            stopping = self._stop.is_set()
            self._wake.clear()
            self._send()
            if stopping:
                return
