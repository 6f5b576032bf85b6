"""Runs one worker process: the model loads beside the first IMAP connections; signals stop or reload it."""
from __future__ import annotations

import importlib
import logging
import signal
import sys
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.shell import open_factory
from cli.signals import SignalActions
from intake.config import Config, ConfigError, load_config

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from intake.worker import Worker

log = logging.getLogger("intake.worker")


def load_in_background(model_dir: str | Path | None, after: threading.Event | None = None,
                       wait: float = 1.0, wanted: threading.Event | None = None) -> Future:
    """Loads the classifier in a thread (spaCy is imported there); the Future holds the model or the error.

    With AFTER, loading starts once it is set (the first mailbox connected) or WAIT seconds have passed, so
    the start-up work is not slowed down by the model's; the processing modules are imported there too. With
    WANTED, the model itself is loaded only once that is set (whoever waits for the Future sets it).
    """
    future: Future = Future()

    def load() -> None:
        try:
            if after is not None:
                after.wait(wait)
            from intake.worker import PROCESSING_MODULES

            for name in PROCESSING_MODULES:
                importlib.import_module(name)
            if wanted is not None:
                wanted.wait()
            from classifiers import load_classifier

            future.set_result(load_classifier(model_dir))
        except BaseException as exc:  # handed to whoever waits for the model
            future.set_exception(exc)

    threading.Thread(target=load, name="model-load", daemon=True).start()
    return future


def build_worker(cfg: Config, factory: sessionmaker[Session], stop: threading.Event, config_path: str | None,
                 once: bool = False) -> tuple[Worker, Future]:
    """The worker of `intake run` (ONCE: a drain), and the Future of its model, loading beside the first IMAP
    connection."""
    from intake.worker import Worker

    model_dir = cfg.classifier.model_dir or None
    connected = threading.Event()
    # A drain reads and classifies its mail in the reading processes, which load the model themselves: the
    # worker loads its own copy only if it ends up reading mail itself (the pool off, failing or broken).
    wanted = threading.Event() if once and cfg.classifier.processes > 0 else None
    loading = load_in_background(model_dir, after=connected, wanted=wanted)

    def reload_model():  # type: ignore[no-untyped-def]
        from classifiers import load_classifier

        return load_classifier(model_dir)

    worker = Worker(cfg, factory, loading, stop, reload=reload_model,
                    reload_config=lambda: load_config(config_path))
    worker.connected = connected
    if wanted is not None:
        worker.model_wanted = wanted
        worker.read_in_pool = True
    return worker, loading


# The worker's threads (storing, sending, leases) each wait on I/O many times a batch: every SQLite step,
# socket read and os.urandom call lets go of the GIL, and getting it back from a thread that is computing
# took up to the default 5 ms switch interval. At 0.5 ms a 10,000-email backlog drained 15-20% faster
# (benchmarks.backlog, README); shorter intervals lost it again to switching.
SWITCH_INTERVAL = 0.0005


def run_worker(cfg: Config, config_path: str | None, once: bool = False, health: bool = True) -> int:
    """`intake run` in this process: --once drains and exits; otherwise serves until SIGINT or SIGTERM.

    SIGHUP re-reads CONFIG_PATH (else $INTAKE_CONFIG) and applies its [[mailboxes]]: new ones are served,
    removed ones let go, changed ones reconnected. Other sections need a restart. HEALTH: serve the health
    endpoints on worker.health_address (one of `--processes N` does not: their supervisor does).
    """
    if not cfg.mailboxes:
        raise ConfigError("mailboxes: no mailbox configured; add a [[mailboxes]] table")
    sys.setswitchinterval(SWITCH_INTERVAL)
    stop = threading.Event()
    factory = open_factory(cfg)
    worker, loading = build_worker(cfg, factory, stop, config_path, once)
    if once:
        # Ctrl-C or SIGTERM (a cron job's timeout) ends the drain after the batch in hand, whose
        # acknowledgments still go out; what was not read waits in the mailbox for the next run.
        with SignalActions({signal.SIGINT: stop.set, signal.SIGTERM: stop.set}):
            stats = worker.run_once()
        print(f"new items: {stats.new_items}, follow-ups: {stats.follow_ups}, recorded without reply: "
              f"{stats.recorded}, quarantined: {stats.quarantined}, already known: {stats.duplicates}, "
              f"acknowledgments sent: {stats.acks_sent}")
        for err in stats.errors:
            print(f"intake: {err}", file=sys.stderr)
        if stop.is_set():
            print("intake: stopped by a signal; mail not read yet is read by the next run", file=sys.stderr)
        return 1 if stats.errors or stop.is_set() else 0
    failed = threading.Event()

    def model_done(f: Future) -> None:
        if f.exception() is not None:
            # Without a model no batch can be processed: stop, so the service manager shows the failure.
            log.error("event=model_load_failed error=%r", str(f.exception()))
            failed.set()
            stop.set()

    loading.add_done_callback(model_done)
    health_server = _start_health(cfg, factory, loading) if health else None
    signals = SignalActions({signal.SIGINT: stop.set, signal.SIGTERM: stop.set,
                             signal.SIGHUP: worker.request_reload}).install()
    try:
        worker.run_forever()
    finally:
        signals.restore()
        if health_server is not None:
            health_server.close()
    return 1 if failed.is_set() else 0


def _start_health(cfg: Config, factory: Any, loading: Future) -> Any:
    """The health endpoints on worker.health_address, when configured (/metrics too with worker.metrics)."""
    if cfg.worker.health_endpoint is None:
        return None
    from cli.health_server import start_health_server, worker_readiness

    engine = factory.kw["bind"]
    return start_health_server(cfg.worker.health_address, worker_readiness(engine, loading),
                               metrics_exposition(cfg, engine))


def metrics_exposition(cfg: Config, engine: Any) -> Any:
    """What /metrics answers, or None with worker.metrics off."""
    if not cfg.worker.metrics:
        return None
    from intake.metrics import exposition

    return exposition(engine)
