"""Parses, screens and classifies fetched batches in processes of their own, so a second core reads the next
batch while the worker stores this one.

Reading mail (MIME repair, HTML to text, quotes and signatures) and classifying it take about half of a
message's processing time and touch no shared state, so they run in a pool of processes fed one batch at a
time; storing stays with the worker, one transaction per batch, as before. The pool is an optimization only:
until its processes have loaded the model, when it is switched off, or when one of them dies, the worker does
the same work itself (and a message that kills the reading process is then caught by the pipeline's claims).
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace

from classifiers import Classifier, Prediction
from classifiers.lean_import import lean_spacy_import
from intake.config import Config
from intake.parsed import Parsed, parse_batch
from intake.values import RawMail

log = logging.getLogger("intake.prepare")


@dataclass(frozen=True)
class Prepared:
    """A batch read and classified: each message's parsed form, and the predictions by UID."""

    parsed: list[Parsed]
    preds: dict[int, Prediction] = field(default_factory=dict)


def classify_batch(parsed: Sequence[Parsed], classifier: Classifier) -> dict[int, Prediction]:
    """Predictions for every parsed email, keyed by UID, in one pass over the batch."""
    todo = [p for p in parsed if p.email is not None]
    # The classifier reads the whole text and keeps only what the client wrote now, as in training.
    preds = classifier.predict_many([(p.email.subject,
                                      p.email.text) for p in todo])  # type: ignore[union-attr]
    return {p.raw.uid: pred for p, pred in zip(todo, preds, strict=True)}


def prepare(raws: Sequence[RawMail], cfg: Config, classifier: Classifier) -> Prepared:
    """RAWS read and classified here, in this process."""
    parsed = parse_batch(raws, cfg)
    return Prepared(parsed, classify_batch(parsed, classifier))


# -- in the pool's processes ----------------------------------------------------------------------------
_cfg: Config | None = None


def _start(cfg: Config, parent: int | None = None) -> None:
    global _cfg
    # Ctrl-C in a terminal reaches every process of the job: the worker decides when these stop (closing the
    # pool), so a KeyboardInterrupt here would only end a batch midway and look like a crash to the worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lean_spacy_import()
    _cfg = cfg
    logging.basicConfig(level=logging.ERROR)  # what reading repairs is recorded with each message
    if parent is not None:
        threading.Thread(target=_end_with, args=(parent,), name="end-with-worker", daemon=True).start()
    _classifier()


def _end_with(parent: int, every: float = 1.0) -> None:
    """Ends this process once PARENT is gone (a worker killed with SIGKILL closes nothing: the pool's queue
    stays open in here, and without this the process would wait on it forever, holding its model)."""
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(0)


def _classifier() -> Classifier:
    from classifiers import load_classifier

    assert _cfg is not None
    # The active version, as the worker loads it: a version activated by `intake train` is picked up here too.
    return load_classifier(_cfg.classifier.model_dir or None)


def _ready() -> bool:
    return True


def _prepare(raws: list[RawMail]) -> Prepared:
    assert _cfg is not None
    done = prepare(raws, _cfg, _classifier())
    # The worker holds the bytes already: sending them back would copy every message through the pipe and
    # pickle a second time (PreparePool.result puts them back).
    return Prepared([replace(p, raw=replace(p.raw, raw=b"")) for p in done.parsed], done.preds)


_MANAGER_EXIT = 10.0  # seconds the executor's thread is given to end once its processes are ended


# -- in the worker --------------------------------------------------------------------------------------
class PreparePool:
    """Processes that read and classify batches for the worker; started at once, used once they are ready."""

    def __init__(self, cfg: Config, processes: int) -> None:
        self.cfg = cfg
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None
        self._warm: list[Future[bool]] = []
        self._start()

    def _start(self) -> None:
        # Spawned, not forked: the worker has threads (mailboxes, sending), and a fork copies their locks.
        self._pool = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_start, initargs=(self.cfg, os.getpid()))
        self._warm = [self._pool.submit(_ready) for _ in range(self.processes)]

    @property
    def ready(self) -> bool:
        """Whether the processes have loaded the model (until then the worker reads mail itself)."""
        return self._pool is not None and all(w.done() and not w.exception() for w in self._warm)

    def submit(self, raws: list[RawMail], wait: bool = False) -> Future[Prepared] | None:
        """Starts reading RAWS in the pool; None when the pool is not ready (the caller reads them itself).

        WAIT: queued even while the processes are still loading the model, to be read once they are ready.
        """
        if not self.ready and not wait:
            return None
        assert self._pool is not None
        try:
            return self._pool.submit(_prepare, raws)
        except (BrokenProcessPool, RuntimeError):
            self._restart()
            return None

    def result(self, future: Future[Prepared] | None, raws: Sequence[RawMail]) -> Prepared | None:
        """The batch RAWS read by FUTURE, or None when it failed there (the caller reads it itself)."""
        if future is None:
            return None
        try:
            done = future.result()
            return Prepared([replace(p, raw=raw) for p, raw in zip(done.parsed, raws, strict=True)],
                            done.preds)
        except BrokenProcessPool:
            log.warning("event=prepare_process_died detail=\"reading this batch in the worker; restarting "
                        "the pool\"")
            self._restart()
        except Exception:  # a bug in reading: the worker's own path has the per-message guards
            log.exception("event=prepare_failed detail=\"reading this batch in the worker\"")
        return None

    def _restart(self) -> None:
        self.close()
        self._start()

    def close(self) -> None:
        """Stops the processes (batches still being read are dropped; the worker reads them again)."""
        if self._pool is None:
            return
        pool, self._pool = self._pool, None
        # The executor's private fields, emptied by shutdown: without them the processes would be left to end
        # on their own, and the executor's thread to end whenever they do.
        processes = list((getattr(pool, "_processes", None) or {}).values())
        manager = getattr(pool, "_executor_manager_thread", None)
        pool.shutdown(wait=False, cancel_futures=True)
        # Ended, not waited for: one still loading the model (a drain that found no mail) or reading a batch
        # nobody will take would hold the exit up for as long, and reading has no side effects to finish.
        for process in processes:
            process.terminate()
        # Then the executor's thread, which closes its wake-up pipe as it ends, is waited for: Python 3.11's
        # exit hook writes to that pipe without a lock, and racing the close it printed an EBADF traceback
        # at the end of a clean stop (CPython gh-125451, fixed in 3.12).
        if manager is not None:
            manager.join(timeout=_MANAGER_EXIT)
            if manager.is_alive():
                log.warning("event=prepare_pool_slow_to_close detail=\"the reading pool's thread is still "
                            "ending\"")
