"""Shares the mailboxes among workers: this worker's leases, their heartbeat, its fair share, one thread per
mailbox.

Every worker configured with the same database competes for the same leases (db.leases): a mailbox is served,
and connected to over IMAP, only by the worker holding its lease. Each worker takes at most its share
(mailboxes / live workers, rounded up) and gives back what exceeds it, so a worker that joins gets work. A
worker that stops heartbeating (killed, frozen, cut off) loses its mailboxes to the others once its leases
expire; on the same host a dead worker's leases are taken at once (its pid no longer runs).

Which mailboxes exist is the config file's business, not the database's: a running worker re-reads its
[[mailboxes]] on SIGHUP (Worker.mailboxes), so a mailbox and its secret reference live in one reviewed file.
Leases are rows rather than PostgreSQL advisory locks so that the same code runs on SQLite, and so that a
lease outlives a dropped database connection for its length instead of vanishing with it.
"""
from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from db.leases import acquire, all_leases, check_in, check_out, ensure_rows, live_workers, release, renew
from db.types import utcnow
from intake.config import MailboxConfig, WorkerConfig
from intake.health import OutageLog

log = logging.getLogger("intake.cluster")
JOIN_SECONDS = 30.0  # how long stopping waits for a mailbox thread to finish its batch
# a heartbeat waits this long for idle mailbox threads it stopped, to release them at once
GIVE_BACK_WAIT = 2.0


class LeaseLost(Exception):
    """This worker no longer holds the mailbox's lease (taken over, given back, or stopping): stop serving
    it."""


@dataclass
class _Serving:
    box: MailboxConfig
    thread: threading.Thread
    stop: threading.Event


class MailboxLeases:
    """Keeps this worker's leases and runs SERVE(box, stop) in a thread for each mailbox it holds."""

    def __init__(self, factory: sessionmaker[Session], me: str, settings: WorkerConfig,
                 mailboxes: Callable[[], Sequence[MailboxConfig]],
                 serve: Callable[[MailboxConfig, threading.Event], None], stop: threading.Event,
                 outages: OutageLog) -> None:
        self.factory = factory
        self.me = me
        self.settings = settings
        self.mailboxes = mailboxes
        self.serve = serve
        self.stop = stop
        self.outages = outages
        self.wake = threading.Event()  # set to run the next step now (a config reload)
        self._serving: dict[str, _Serving] = {}
        self._releasing: set[str] = set()  # held, its thread stopping, released once the thread has ended
        self._valid_until = 0.0  # monotonic time until which our last renewal is known to hold

    def run(self) -> None:
        """Heartbeats, balances and serves until stop is set; then stops every mailbox and releases the
        leases."""
        try:
            while not self.stop.is_set():
                try:
                    self.step()
                # a bug in one heartbeat must not end the leases, and every mailbox with them
                except Exception:
                    log.exception("event=lease_step_failed")
                deadline = time.monotonic() + self.settings.heartbeat_seconds
                while not self.stop.is_set() and not self.wake.is_set() and time.monotonic() < deadline:
                    self.wake.wait(0.25)  # short slices: stop is a separate event
                self.wake.clear()
        finally:
            self.shutdown()

    def serving(self) -> list[str]:
        """The mailboxes this worker serves right now."""
        return sorted(n for n, s in self._serving.items() if not s.stop.is_set())

    def step(self) -> None:
        """One heartbeat: renew, notice losses, give back what exceeds the share, take free mailboxes."""
        wanted = {b.name: b for b in self.mailboxes()}
        ttl = self.settings.lease_seconds
        started, now = time.monotonic(), utcnow()
        try:
            with self.factory.begin() as s:
                check_in(s, self.me, now, ttl)
                ensure_rows(s, wanted)
                held = renew(s, self.me, now, ttl)
                live = live_workers(s, self.me, now)
                leases = all_leases(s)
        except SQLAlchemyError as exc:
            self.outages.failed("database", exc)
            if time.monotonic() > self._valid_until and self.serving():
                # Unrenewed, our leases may have passed to another worker: stop rather than serve twice.
                log.warning("event=leases_unconfirmed mailboxes=%s", ",".join(self.serving()))
                for srv in self._serving.values():
                    srv.stop.set()
            return
        self.outages.ok("database")
        self._valid_until = started + ttl
        self._reap()
        for name, srv in self._serving.items():
            if srv.stop.is_set():
                continue
            if name not in held:
                log.warning("event=lease_lost mailbox=%s", name)
                srv.stop.set()
            elif name in wanted and wanted[name] != srv.box:
                log.info("event=mailbox_changed mailbox=%s", name)
                srv.stop.set()  # restarted with its new settings once this thread has ended
        share = math.ceil(len(wanted) / len(live)) if wanted else 0
        mine = sorted(n for n in held if n in wanted and n not in self._releasing)
        for name in [n for n in held if n not in wanted] + mine[share:]:
            reason = "removed" if name not in wanted else "share"
            log.info("event=lease_giving_back mailbox=%s reason=%s workers=%d", name, reason, len(live))
            self._releasing.add(name)
            if name in self._serving:
                self._serving[name].stop.set()
        self._release_finished(wait=GIVE_BACK_WAIT)
        mine = mine[:share]
        for name in mine:
            if name not in self._serving:
                self._start(wanted[name])
        free = [n for n in wanted if n not in held and not (n in leases
                                                            and leases[n].held_by_other(self.me, now))]
        random.shuffle(free)  # workers starting together should not all race for the same mailboxes
        for name in free:
            if len(mine) >= share or self.stop.is_set():
                break
            if self._acquire(name):
                mine.append(name)
                self._start(wanted[name])  # connect now, not after the other acquisitions

    def _acquire(self, name: str) -> bool:
        try:
            with self.factory.begin() as s:  # one transaction per lease: a conflict costs only that one
                got = acquire(s, name, self.me, utcnow(), self.settings.lease_seconds)
        except SQLAlchemyError as exc:
            self.outages.failed("database", exc)
            return False
        if got:
            log.info("event=lease_acquired mailbox=%s", name)
        return got

    def _start(self, box: MailboxConfig) -> None:
        stop = threading.Event()
        thread = threading.Thread(target=self._run_one, args=(box, stop), name=f"mailbox-{box.name}",
                                  daemon=True)
        self._serving[box.name] = _Serving(box, thread, stop)
        thread.start()

    def _run_one(self, box: MailboxConfig, stop: threading.Event) -> None:
        log.info("event=serving mailbox=%s", box.name)
        try:
            self.serve(box, stop)
        finally:
            stop.set()
            log.info("event=stopped_serving mailbox=%s", box.name)

    def _reap(self) -> None:
        """Forgets the threads that have ended."""
        for name in [n for n, s in self._serving.items() if not s.thread.is_alive()]:
            del self._serving[name]

    def _release_finished(self, wait: float = 0.0) -> None:
        """Releases the leases given back whose mailbox threads have ended (waiting up to WAIT seconds for
        them)."""
        deadline = time.monotonic() + wait
        for name in self._releasing:
            if name in self._serving:
                self._serving[name].thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self._reap()
        done = sorted(n for n in self._releasing if n not in self._serving)
        if not done:
            return
        try:
            with self.factory.begin() as s:
                release(s, self.me, done)
        except SQLAlchemyError as exc:
            self.outages.failed("database", exc)
            return
        self._releasing.difference_update(done)
        for name in done:
            log.info("event=lease_released mailbox=%s", name)

    def shutdown(self) -> None:
        """Stops every mailbox thread (each finishes its batch), then releases every lease of this worker."""
        for srv in self._serving.values():
            srv.stop.set()
        deadline = time.monotonic() + JOIN_SECONDS
        for srv in list(self._serving.values()):
            srv.thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self._reap()
        if self._serving:
            log.warning("event=mailboxes_still_busy mailboxes=%s", ",".join(sorted(self._serving)))
            return  # their leases expire on their own; releasing now could let another worker in mid-batch
        try:
            with self.factory.begin() as s:
                check_out(s, self.me)
        except SQLAlchemyError as exc:
            log.warning("event=leases_not_released error=%r", str(exc))  # they expire on their own
