"""Batch slots: a few batches at once per worker process; a thread never takes two, giving back is always
safe."""
from __future__ import annotations

import threading

from intake.slots import BatchSlots
from tests.polling import wait_until


def test_slots_limit_how_many_threads_process_at_once():
    slots = BatchSlots(2)
    inside, most, lock = 0, 0, threading.Lock()
    release = threading.Event()

    def batch() -> None:
        nonlocal inside, most
        slots.take()
        slots.take()  # the same thread again (a retried check): still one slot
        with lock:
            inside += 1
            most = max(most, inside)
        release.wait(5)
        with lock:
            inside -= 1
        slots.give_back()
        slots.give_back()  # a second give-back is a no-op, not an extra slot

    threads = [threading.Thread(target=batch) for _ in range(5)]
    for t in threads:
        t.start()
    def two_inside() -> bool:
        with lock:
            return inside == 2

    wait_until(two_inside, 30, "two batches inside", every=0.01)
    with lock:
        assert inside == 2
    release.set()
    for t in threads:
        t.join(5)
    assert most == 2
    for _ in range(2):
        assert slots._free.acquire(blocking=False)  # both slots free again, and no more
    assert not slots._free.acquire(blocking=False)
