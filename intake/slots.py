"""At most a few batches processed at once in one worker process, however many mailboxes it serves."""
from __future__ import annotations

import threading

# More batches at once only queue for the one interpreter lock and for the database pool (SQLAlchemy's 5 + 10
# connections), where a wait of 30 s fails the batch, and deadlock more often on the rows they share (a client
# organization writing to several mailboxes); a worker serving a hundred mailboxes takes turns instead. Two:
# one batch uses the processor while the other waits for the database.
BATCHES_AT_ONCE = 2


class BatchSlots:
    """A thread takes a slot right before its batch is processed (the lease check) and gives it back after."""

    def __init__(self, count: int = BATCHES_AT_ONCE) -> None:
        self._free = threading.BoundedSemaphore(count)
        self._held = threading.local()

    def take(self) -> None:
        """Waits for a slot, unless this thread holds one already."""
        if not getattr(self._held, "slot", False):
            self._free.acquire()
            self._held.slot = True

    def give_back(self) -> None:
        """Returns this thread's slot, if it holds one (safe to call on every way out)."""
        if getattr(self._held, "slot", False):
            self._held.slot = False
            self._free.release()
