"""`intake run --processes N`: N worker processes on this host sharing the mailboxes through their leases."""
from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import Any

from cli.signals import SignalActions

log = logging.getLogger("intake.processes")
STOP_SECONDS = 60.0  # a worker finishes its batches and releases its leases; after this it is killed
MAX_BACKOFF = 60.0


def _child(config_path: str | None, log_level: str, log_format: str) -> None:
    """One worker process (started with spawn: a fresh interpreter, its own name on claims and leases)."""
    # The supervisor passes SIGHUP on to every process, this one too while it is still starting: by default
    # that would end it. It reads the config as it starts anyway; run_worker takes SIGHUP over once running.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    from classifiers.lean_import import lean_spacy_import
    from cli.logs import setup_logging
    from cli.serve import run_worker
    from cli.shell import UserError
    from intake.config import ConfigError, load_config

    lean_spacy_import()
    setup_logging(log_level, log_format)
    try:
        # The supervisor serves the health endpoints for all its processes.
        sys.exit(run_worker(load_config(config_path), config_path, health=False))
    except ConfigError as exc:
        print(f"intake: config error: {exc}", file=sys.stderr)
        sys.exit(2)
    except UserError as exc:
        print(f"intake: {exc}", file=sys.stderr)
        sys.exit(1)


def _metrics_gone(pid: int | None) -> None:
    """A dead process's live gauges (its mailboxes' connection state) leave the metrics (when they are on)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from intake.metrics import process_gone

        process_gone(pid)


def supervise(count: int, config_path: str | None, log_level: str, log_format: str,
              health: Callable[[Callable[[], list[int]]], Any] | None = None) -> int:
    """Runs COUNT worker processes until SIGINT/SIGTERM (passed on to them); restarts one that dies, with
    backoff.

    SIGHUP is passed on too, so every process reloads its mailboxes. HEALTH, given the function that lists the
    processes not running, starts the health endpoints (and returns what to close at the end).
    """
    # spawn, not fork: no threads or connections inherited, and each process names itself on its claims.
    ctx = multiprocessing.get_context("spawn")
    stop = threading.Event()
    procs: list[BaseProcess | None] = [None] * count
    started = [0.0] * count
    backoff = [1.0] * count

    def start(i: int) -> None:
        p = ctx.Process(target=_child, args=(config_path, log_level, log_format), name=f"intake-worker-{i}")
        p.start()
        procs[i], started[i] = p, time.monotonic()
        log.info("event=worker_process_started index=%d pid=%s", i, p.pid)

    def forward(sig: int) -> None:
        for p in procs:
            if p is not None and p.is_alive() and p.pid is not None:
                try:
                    os.kill(p.pid, sig)
                except ProcessLookupError:
                    pass

    signals = SignalActions({signal.SIGINT: stop.set, signal.SIGTERM: stop.set,
                             signal.SIGHUP: lambda: forward(signal.SIGHUP)}).install()
    for i in range(count):
        start(i)
    server = health(lambda: [i for i, p in enumerate(procs) if p is None
                             or not p.is_alive()]) if health else None
    restart_at: dict[int, float] = {}
    while not stop.wait(0.5):
        for i, p in enumerate(procs):
            if p is None or p.is_alive() or stop.is_set():
                continue
            if i not in restart_at:
                # A process that ran for a while restarts at once; one that keeps failing waits longer each
                # time.
                backoff[i] = (1.0 if time.monotonic() - started[i] > MAX_BACKOFF
                              else min(backoff[i] * 2, MAX_BACKOFF))
                restart_at[i] = time.monotonic() + backoff[i]
                log.error("event=worker_process_exited index=%d pid=%s code=%s restart_in=%.0fs", i, p.pid,
                          p.exitcode, backoff[i])
                _metrics_gone(p.pid)
            elif time.monotonic() >= restart_at[i]:
                del restart_at[i]
                start(i)
    forward(signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    codes = []
    for p in procs:
        if p is None:
            continue
        p.join(timeout=max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            log.error("event=worker_process_killed pid=%s detail=\"did not stop in time\"", p.pid)
            p.kill()
            p.join()
        codes.append(p.exitcode)
    signals.restore()
    if server is not None:
        server.close()
    log.info("event=workers_stopped codes=%s", ",".join(map(str, codes)))
    return 0 if all(c == 0 for c in codes) else 1
