"""The worker's Prometheus metrics: what the pipeline counts; the outbox and SLA figures read at each scrape.

Where the counting happens, and why one registry is enough: a worker process fetches, stores and sends in its
own threads; its reading processes (classifier.processes) only parse and classify and hand their results back,
so every event is counted in the worker process after the batch is committed (never inside a transaction that
may be retried). `intake run` serves these metrics from that same process. `intake run --processes N` runs N
such processes under a supervisor that serves the health and metrics address: there the processes write their
values to files in a directory of the supervisor's own (prometheus-client's multiprocess mode, switched on by
PROMETHEUS_MULTIPROC_DIR before they start), which the supervisor adds up at each scrape. The outbox and SLA
figures are read from the database by whoever serves the scrape, so they count every worker's rows once.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from db.queries import open_sla_states, outbox_figures
from db.types import utcnow

if TYPE_CHECKING:
    from intake.pipeline import BatchResult

log = logging.getLogger("intake.metrics")
Exposition = Callable[[], tuple[bytes, str]]  # what a /metrics answer is made from: the body and its type
disable_created_metrics()  # no `_created` series beside every counter: Prometheus notices restarts by itself
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Seconds from a message's arrival in the mailbox (its IMAP internal date) to its acknowledgment sent.
ACK_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600)

FETCHED = Counter("intake_messages_fetched", "Messages fetched from the mailbox", ["mailbox"])
STORED = Counter("intake_messages_stored", "Messages stored, by what they became (new_item, follow_up or "
                 "recorded: kept without an item)", ["mailbox", "outcome"])
QUARANTINED = Counter("intake_messages_quarantined", "Messages quarantined (kept with the reason, not "
                      "processed)", ["mailbox"])
DUPLICATES = Counter("intake_messages_duplicate", "Messages fetched again that were stored already",
                     ["mailbox"])
SCREENED = Counter("intake_messages_screened", "Messages screened out of automatic replies, by the first "
                   "reason (bounce, auto_submitted, list_mail, from_us, no_reply_sender)",
                   ["mailbox", "reason"])
CLASSIFIED = Counter("intake_classifications", "New items classified, by category", ["label"])
FLAGGED = Counter("intake_classifications_flagged", "New items flagged for a PM's review, by category",
                  ["label"])
ACK_LATENCY = Histogram("intake_ack_latency_seconds", "Seconds from a message's arrival in the mailbox to "
                        "its acknowledgment handed to the SMTP server", buckets=ACK_BUCKETS)
# One worker at a time holds a mailbox (leases): across processes, the highest of the live ones is the state.
CONNECTED = Gauge("intake_imap_connected", "1 while the worker holds a connection to the mailbox, else 0",
                  ["mailbox"], multiprocess_mode="livemax")
LAST_SYNC_NAME = "intake_mailbox_last_sync_timestamp_seconds"
LAST_SYNC = Gauge(LAST_SYNC_NAME, "When the mailbox was last synced in full "
                  "(Unix time)", ["mailbox"], multiprocess_mode="max")


def fetched(mailbox: str, count: int) -> None:
    FETCHED.labels(mailbox).inc(count)


def batch_done(mailbox: str, result: BatchResult) -> None:
    """Counts a committed batch's messages by outcome, screening and classification."""
    for outcome, count in (("new_item", len(result.new_items)), ("follow_up", len(result.follow_ups)),
                           ("recorded", result.recorded)):
        if count:
            STORED.labels(mailbox, outcome).inc(count)
    if result.quarantined:
        QUARANTINED.labels(mailbox).inc(result.quarantined)
    if result.duplicates:
        DUPLICATES.labels(mailbox).inc(result.duplicates)
    for reason in result.screened:
        SCREENED.labels(mailbox, reason).inc()
    for label, flagged in result.classified:
        CLASSIFIED.labels(label).inc()
        if flagged:
            FLAGGED.labels(label).inc()


def acks_sent(latencies: Iterable[float]) -> None:
    for seconds in latencies:
        ACK_LATENCY.observe(max(seconds, 0.0))


def connected(mailbox: str, up: bool) -> None:
    CONNECTED.labels(mailbox).set(1 if up else 0)


def synced(mailbox: str) -> None:
    LAST_SYNC.labels(mailbox).set(time.time())


def known_mailboxes(names: Sequence[str]) -> None:
    """Shows every configured mailbox from the start (a mailbox never connected reads 0, not nothing)."""
    for name in names:
        CONNECTED.labels(name)
        FETCHED.labels(name)


class SyncAge(Collector):
    """intake_mailbox_seconds_since_sync, from the last-sync times SOURCE collects (this process's, or the
    processes' together), computed at each scrape."""

    def __init__(self, source: Collector) -> None:
        self.source = source

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        age = GaugeMetricFamily("intake_mailbox_seconds_since_sync", "Seconds since the mailbox was last "
                                "synced in full", labels=["mailbox"])
        now = time.time()
        for family in self.source.collect():
            for sample in family.samples:
                if sample.name == LAST_SYNC_NAME:
                    age.add_metric([sample.labels["mailbox"]], max(now - sample.value, 0.0))
        return [age]


class DatabaseFigures(Collector):
    """The outbox and the open items' SLA states, read from the database at each scrape.

    A database that cannot be read leaves these out of the scrape (and /readyz says why); the counters stay.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def describe(self) -> list[Metric]:
        return []  # read at scrape time only: nothing touches the database when the collector is registered

    def collect(self) -> Iterable[Metric]:
        try:
            with Session(self.engine) as session:
                counts, oldest = outbox_figures(session)
                states = open_sla_states(session)
        except Exception as exc:  # a scrape must answer even while the database is down
            log.debug("event=metrics_database_unreadable error=%r", str(exc))
            return []
        outbox = GaugeMetricFamily("intake_outbox_messages", "Outgoing mail by status (pending: waiting to "
                                   "be sent or retried)", labels=["status"])
        for status in ("pending", "sent", "failed"):
            outbox.add_metric([status], counts.get(status, 0))
        age = GaugeMetricFamily("intake_outbox_oldest_pending_age_seconds", "Age of the oldest pending "
                                "outgoing mail (0: none pending)")
        age.add_metric([], max((utcnow() - oldest).total_seconds(), 0.0) if oldest is not None else 0.0)
        sla = GaugeMetricFamily("intake_sla_items", "Open items by SLA state, as of the worker's last SLA "
                                "check", labels=["state"])
        for state in ("at_risk", "breached"):
            sla.add_metric([state], states.get(state, 0))
        return [outbox, age, sla]


def exposition(engine: Engine) -> Exposition:
    """What /metrics answers (the body and its content type): this process's metrics, or with the
    multiprocess directory set, the sum over every worker process, and the database figures."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
        registry.register(SyncAge(multiprocess.MultiProcessCollector(None)))
    else:
        for metric in (FETCHED, STORED, QUARANTINED, DUPLICATES, SCREENED, CLASSIFIED, FLAGGED, ACK_LATENCY,
                       CONNECTED, LAST_SYNC):
            registry.register(metric)
        registry.register(SyncAge(LAST_SYNC))
    registry.register(DatabaseFigures(engine))
    return lambda: (generate_latest(registry), CONTENT_TYPE_LATEST)


def start_multiprocess() -> str:
    """A fresh directory for the worker processes' values, set in the environment they inherit; call before
    starting them (values from an earlier run would otherwise be added in)."""
    path = tempfile.mkdtemp(prefix="intake-metrics-")
    os.environ[MULTIPROC_ENV] = path
    return path


def end_multiprocess(path: str) -> None:
    os.environ.pop(MULTIPROC_ENV, None)
    shutil.rmtree(path, ignore_errors=True)


def process_gone(pid: int | None) -> None:
    """Drops a dead worker process's live gauges (its counters stay in the sums)."""
    if pid is not None and os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
