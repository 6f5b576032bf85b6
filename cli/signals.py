"""Signals acted on by a thread of their own: a handler only notes the signal, so it can take no lock."""
from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Mapping

log = logging.getLogger("intake.signals")


class SignalActions:
    """Runs an action for each signal received, on a dispatching thread, not in a Python handler.

    Python runs a handler in the main thread between two steps of whatever it was doing. An action that takes
    a lock (threading.Event.set does) deadlocks when the main thread already held that lock at that moment:
    a Ctrl-C followed by a SIGTERM, the second arriving while the main thread wakes from the first inside
    Event.wait, left a worker hung for good. And a signal the kernel hands to another thread waits for the
    main thread's next step, which may be a long wait away. So the signal's number goes through Python's
    wakeup file descriptor, written at once by the low-level handler whichever thread took the signal, and a
    thread reading it acts; the Python handlers do nothing.
    """

    def __init__(self, actions: Mapping[int, Callable[[], object]]) -> None:
        self.actions = dict(actions)
        self._previous: dict[int, object] = {}
        self._read = self._write = -1
        self._previous_fd = -1
        self._thread: threading.Thread | None = None

    def install(self) -> SignalActions:
        """Takes over the signals (from the main thread, as Python requires)."""
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)  # as set_wakeup_fd requires: a full pipe drops, never blocks
        self._thread = threading.Thread(target=self._dispatch, name="signals", daemon=True)
        self._thread.start()
        self._previous_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        for sig in self.actions:
            self._previous[sig] = signal.signal(sig, _ignore)
        return self

    def restore(self) -> None:
        """Gives the signals back to their earlier handlers and ends the thread."""
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)  # type: ignore[arg-type]
        self._previous.clear()
        if self._write >= 0:
            signal.set_wakeup_fd(self._previous_fd)
            os.close(self._write)  # the thread reads the end of the pipe and returns
            self._write = -1
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SignalActions:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.restore()

    def _dispatch(self) -> None:
        try:
            while chunk := os.read(self._read, 64):
                for signum in chunk:
                    action = self.actions.get(signum)
                    if action is None:
                        continue  # another signal with a Python handler of its own
                    try:
                        action()
                    except Exception:  # one failed action must not leave later signals unanswered
                        log.exception("event=signal_action_failed signal=%d", signum)
        finally:
            os.close(self._read)
            self._read = -1


def _ignore(_signum: int, _frame: object) -> None:
    """The Python-level handler: the wakeup descriptor has carried the signal to the dispatching thread."""
