"""Mailbox leases: one owner at a time, taken over after expiry (at once from a dead local worker), shared
fairly."""
from __future__ import annotations

import logging
import subprocess
import sys
import threading
from datetime import timedelta

import pytest

from db.claims import worker_name
from db.leases import acquire, all_leases, check_in, check_out, live_workers, release, renew
from db.types import utcnow
from intake.cluster import MailboxLeases
from intake.config import MailboxConfig, WorkerConfig
from intake.health import OutageLog

ELSEWHERE = "elsewhere.example:4242:0badcafe"  # a worker on another host: only its expiry tells it is gone


def dead_local_worker() -> str:
    """The name a worker on this host had whose process has ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    host, _, token = worker_name().split(":")
    return f"{host}:{proc.pid}:{token}"


def test_one_owner_at_a_time_until_released(db):
    me, t0 = worker_name(), utcnow()
    with db.begin() as s:
        assert acquire(s, "support", ELSEWHERE, t0, 15)
    with db.begin() as s:
        assert not acquire(s, "support", me, t0 + timedelta(seconds=10), 15)
        assert renew(s, ELSEWHERE, t0 + timedelta(seconds=10), 15) == {"support"}
    with db.begin() as s:
        assert not acquire(s, "support", me, t0 + timedelta(seconds=20), 15)  # renewed until t0+25
        release(s, ELSEWHERE, ["support"])
    with db.begin() as s:
        assert acquire(s, "support", me, t0 + timedelta(seconds=21), 15)
        assert all_leases(s)["support"].owner == me
        assert renew(s, ELSEWHERE, t0 + timedelta(seconds=21), 15) == set()


def test_an_expired_lease_is_taken_over_and_its_old_owner_learns_it(db):
    me, t0 = worker_name(), utcnow()
    with db.begin() as s:
        assert acquire(s, "support", ELSEWHERE, t0, 15)
        assert acquire(s, "sales", ELSEWHERE, t0, 15)
    with db.begin() as s:
        assert acquire(s, "support", me, t0 + timedelta(seconds=16), 15)
    with db.begin() as s:
        # The old owner's next heartbeat renews what it still has and reports the loss by omission.
        assert renew(s, ELSEWHERE, t0 + timedelta(seconds=17), 15) == {"sales"}
        assert renew(s, me, t0 + timedelta(seconds=17), 15, "support") == {"support"}


def test_a_dead_local_workers_lease_is_taken_at_once(db):
    me, t0 = worker_name(), utcnow()
    with db.begin() as s:
        assert acquire(s, "support", dead_local_worker(), t0, 15)
    with db.begin() as s:
        assert acquire(s, "support", me, t0 + timedelta(seconds=1), 15)


def test_live_workers_are_the_unexpired_ones_whose_process_runs(db):
    me, t0 = worker_name(), utcnow()
    with db.begin() as s:
        check_in(s, ELSEWHERE, t0, 15)
        check_in(s, dead_local_worker(), t0, 15)
        check_in(s, me, t0, 15)
        assert live_workers(s, me, t0 + timedelta(seconds=5)) == sorted([ELSEWHERE, me])
        assert live_workers(s, me, t0 + timedelta(seconds=16)) == [me]
        acquire(s, "support", me, t0, 15)
        check_out(s, me)
        assert all_leases(s)["support"].owner == ""
        assert live_workers(s, ELSEWHERE, t0) == [ELSEWHERE]


class Clock:
    """utcnow for the lease keeper, moved by hand."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self):
        return self.now


def _keeper(factory, name: str, boxes, served: dict[str, set[str]], stop: threading.Event) -> MailboxLeases:
    served[name] = set()

    def serve(box: MailboxConfig, box_stop: threading.Event) -> None:
        served[name].add(box.name)
        box_stop.wait(30)
        served[name].discard(box.name)

    return MailboxLeases(factory, name, WorkerConfig(), lambda: boxes, serve, stop,
                         OutageLog(logging.getLogger("test")))


def _settle(*keepers: MailboxLeases) -> None:
    for _ in range(3):
        for k in keepers:
            k.step()
            for srv in list(k._serving.values()):
                if srv.stop.is_set():
                    srv.thread.join(5)


@pytest.mark.parametrize("n_boxes", [5, 2])
def test_workers_share_the_mailboxes_and_take_over_a_silent_ones(factory, monkeypatch, n_boxes):
    clock = Clock()
    monkeypatch.setattr("intake.cluster.utcnow", clock)
    boxes = tuple(MailboxConfig(name=f"box{i}", host="imap.example", username=f"u{i}", password_env="X")
                  for i in range(n_boxes))
    served: dict[str, set[str]] = {}
    stop_a, stop_b = threading.Event(), threading.Event()
    # Both look remote to each other (in one process a local name would look like a dead earlier process):
    # a worker is gone only once it stops renewing.
    a = _keeper(factory, "host-a.example:1:aaaaaaaa", boxes, served, stop_a)
    b = _keeper(factory, ELSEWHERE, boxes, served, stop_b)
    try:
        _settle(a)
        assert a.serving() == [b.name for b in boxes]  # alone, it serves everything
        _settle(b, a, b)
        names = {x.name for x in boxes}
        assert set(a.serving()) | set(b.serving()) == names
        assert not set(a.serving()) & set(b.serving())
        assert sorted([len(a.serving()), len(b.serving())]) == [n_boxes // 2, n_boxes - n_boxes // 2]
        b_had = set(b.serving())
        clock.now += timedelta(seconds=10)  # b goes silent: within its lease nothing changes
        _settle(a)
        assert set(a.serving()) == names - b_had
        clock.now += timedelta(seconds=6)  # 16 s since b's last renewal: its leases and presence expired
        _settle(a)
        assert a.serving() == sorted(names)
        b.step()  # b wakes up: it learns it lost everything and stops serving
        assert b.serving() == []
    finally:
        stop_a.set()
        stop_b.set()
        a.shutdown()
        b.shutdown()
