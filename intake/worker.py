"""The intake worker: syncs the mailboxes it holds leases on (IDLE or polling), runs the pipeline, drains the
outbox."""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from tenacity import Retrying, retry_if_exception_type, stop_when_event_set, wait_exponential

from db.claims import worker_name
from db.engine import make_engine, make_sessionmaker
from db.leases import acquire, release, renew
from db.quarantine import unread_uids
from db.queries import lock_mailbox
from db.types import utcnow
from intake import metrics
from intake.cluster import LeaseLost, MailboxLeases
from intake.config import Config, ConfigError, MailboxConfig
from intake.duties import Duties, smtp_settings, webhook_targets
from intake.health import OutageLog
from intake.imap import IMAP_ERRORS, MailboxClient
from intake.send_loop import SendLoop
from intake.slots import BatchSlots
from intake.values import RawMail
from responders.sender import SmtpLink
from responders.webhooks import WebhookSender, WebhookTarget

if TYPE_CHECKING:
    from classifiers import Classifier
    from intake.pipeline import BatchResult
    from intake.prepare import Prepared, PreparePool

log = logging.getLogger("intake.worker")
TRANSIENT = (*IMAP_ERRORS, SQLAlchemyError)
OUTBOX_RETRY_SECONDS = 5.0
WEBHOOK_POLL_SECONDS = 2.0  # how often the webhook loop looks for due deliveries when nothing woke it

# The pipeline (mail parsing, templates), quarantine retries and SLA checks (reports) are imported on first
# use: the mailboxes connect without waiting for them; the model-loading thread imports them meanwhile
# (cli.serve).
PROCESSING_MODULES = ("intake.pipeline", "intake.quarantine", "responders.sla_warnings")
BATCH_SLOTS = BatchSlots()  # taken by the lease check right before a batch, given back once it is processed


def process_batch(*args: Any, **kwargs: Any) -> BatchResult:
    """intake.pipeline.process_batch (imported on first use), in the batch slot the lease check took."""
    from intake.pipeline import process_batch as run

    try:
        return run(*args, **kwargs)
    finally:
        BATCH_SLOTS.give_back()


@dataclass
class RunStats:
    """Totals of a run."""

    new_items: int = 0
    follow_ups: int = 0
    recorded: int = 0
    quarantined: int = 0
    duplicates: int = 0
    acks_sent: int = 0
    sla_warnings: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, r: BatchResult) -> None:
        self.new_items += len(r.new_items)
        self.follow_ups += len(r.follow_ups)
        self.recorded += r.recorded
        self.quarantined += r.quarantined
        self.duplicates += r.duplicates


def mailbox_passwords(boxes: Sequence[MailboxConfig]) -> dict[str, str]:
    """Each mailbox's IMAP password, read from where its config says (ConfigError when it cannot be)."""
    return {m.name: (m.secret.read(f"mailboxes.{m.name}.password") or "") if m.auth == "password" else ""
            for m in boxes}


class Worker(Duties):
    """Runs intake for the configured mailboxes whose leases it holds (all of them when it runs alone).

    CLASSIFIER may be a Future still loading: the mailboxes connect meanwhile and the first batch waits for
    it.
    RELOAD_CONFIG re-reads the config file when asked (SIGHUP); its mailboxes and chat and webhook targets
    ([[notify]]) are taken over, the rest needs a restart.
    """

    def __init__(self, cfg: Config, factory: sessionmaker[Session],
                 classifier: Classifier | Future[Classifier],
                 stop: threading.Event | None = None,
                 reload: Callable[[], Classifier] | None = None,
                 reload_config: Callable[[], Config] | None = None) -> None:
        self.cfg = cfg
        self.factory = factory
        self._loading = classifier if isinstance(classifier, Future) else None
        self.classifier: Classifier | None = None if isinstance(classifier, Future) else classifier
        self.reload = reload
        self.reload_config = reload_config
        self.stop = stop or threading.Event()
        self.outages = OutageLog(log)
        self.name = worker_name()
        self.passwords = mailbox_passwords(cfg.mailboxes)
        self.smtp = smtp_settings(cfg)
        self.smtp_link = SmtpLink(self.smtp)  # one connection for every drain of this worker
        self.sender: SendLoop | None = None
        targets = webhook_targets(cfg)
        if cfg.surveys.enabled and (cfg.surveys.secret_key_env or cfg.surveys.secret_key_file):
            from intake.client_settings import configured_survey_key

            configured_survey_key(cfg)  # a wrong key stops the start, not a client's decision by email later
        # Chat alerts and webhooks go out from a loop of their own: a slow or dead target never holds up mail.
        self.webhooks = WebhookSender(factory, targets, self.name) if targets else None
        self.webhook_loop: SendLoop | None = None
        # Targets read again on SIGHUP, taken over by the webhook loop between two passes.
        self._new_targets: dict[str, WebhookTarget] | None = None
        # Processes that read and classify the next batch while this one is stored; started when a backlog
        # first shows (a second batch waiting), so a worker that keeps up never pays for them.
        self.pool: PreparePool | None = None
        self._smtp_lock = threading.Lock()
        self._lock = threading.Lock()
        self._reload_requested = threading.Event()
        self.leases: MailboxLeases | None = None
        self.connected = threading.Event()  # set at the first mailbox connection (the model loads after it)
        self.model_wanted = threading.Event()  # set when this process needs its own model (see cli.serve)
        # Every batch read in the pool from the first (a drain); otherwise the pool starts when a backlog
        # shows.
        self.read_in_pool = False
        self.stats = RunStats()

    # -- one mailbox ---------------------------------------------------------------------------
    def sync(self, client: MailboxClient, catch_up: bool = False) -> None:
        """Processes everything pending in CLIENT's folder, batch by batch (CATCH_UP: first after
        connecting)."""
        name = client.cfg.name
        untouched: frozenset[int] = frozenset()
        with self.factory.begin() as session:
            box = lock_mailbox(session, name)
            last_uid, known_validity = box.last_uid or 0, box.uidvalidity
            if known_validity and known_validity != client.uidvalidity:
                # The folder was recreated or restored: every UID is new; Message-IDs keep us from
                # duplicating.
                log.warning("event=uidvalidity_changed mailbox=%s old=%s new=%s", name, known_validity,
                            client.uidvalidity)
                box.uidvalidity, box.last_uid, last_uid = client.uidvalidity, 0, 0
            if catch_up and client.cfg.on_processed != "keep" and last_uid:
                untouched = unread_uids(session, box.id, client.uidvalidity)
        self.outages.ok("database")
        if catch_up:
            # The commit and the mailbox action are not atomic: finish what a crash interrupted.
            done = client.catch_up(last_uid, untouched)
            if done:
                log.info("event=processed_action_caught_up mailbox=%s count=%d", name, done)
        # One batch ahead: while a batch is stored here, the next is read and classified in the pool.
        ahead: deque[tuple[list[RawMail], Future[Prepared] | None]] = deque()
        for batch in client.batches(last_uid, self.cfg.tracker.max_message_bytes):
            if not batch:
                continue
            metrics.fetched(name, len(batch))
            if (ahead or self.read_in_pool) and self.pool is None and self.cfg.classifier.processes > 0:
                from intake.prepare import PreparePool  # imported when a backlog first shows

                with self._lock:
                    self.pool = self.pool or PreparePool(self.cfg, self.cfg.classifier.processes)
            reading = self.pool.submit(batch, wait=self.read_in_pool) if self.pool is not None else None
            ahead.append((batch, reading))
            if len(ahead) > 1 and not self._store(client, *ahead.popleft()):
                return
        while ahead:
            if not self._store(client, *ahead.popleft()):
                return
        metrics.synced(name)

    def _store(self, client: MailboxClient, batch: list[RawMail], reading: Future[Prepared] | None) -> bool:
        """Stores BATCH (read in the pool when READING is given); False when the worker is stopping."""
        if client.guard is not None:
            client.guard()  # the lease check, the last step before processing (raises LeaseLost)
        prepared = self.pool.result(reading, batch) if self.pool is not None else None
        result = process_batch(self.factory, self.cfg, client.cfg.name, batch, self.current_classifier,
                               prepared=prepared)
        with self._lock:
            self.stats.add(result)
        metrics.batch_done(client.cfg.name, result)
        client.after_commit(result.processed_uids)
        if result.acks_queued:
            self.outbox_due()
        if result.stored and self.webhook_loop is not None:
            self.webhook_loop.wake()
        return not self.stop.is_set()

    def current_classifier(self) -> Classifier:
        """The active model; a version activated by `intake train` is picked up here, between batches."""
        loading = self._loading
        if loading is not None:
            self.model_wanted.set()
            self.classifier = loading.result()  # the first batch waits for the model loading beside it
            self._loading = None
        assert self.classifier is not None
        if self.reload is not None:
            try:
                fresh = self.reload()
            except Exception as exc:  # a broken new version must not stop intake: keep the loaded one
                log.error("event=model_reload_failed error=%r", str(exc))
                return self.classifier
            if fresh is not self.classifier:
                log.info("event=model_loaded version=%s previous=%s", fresh.version, self.classifier.version)
                self.classifier = fresh
        return self.classifier

    def _client(self, box: MailboxConfig, stop: threading.Event) -> MailboxClient:
        client = MailboxClient(box, self.passwords[box.name])
        client.guard = lambda: self.confirm_lease(box.name, stop)
        return client

    def confirm_lease(self, mailbox: str, stop: threading.Event) -> None:
        """Renews MAILBOX's lease right before a batch is processed; raises LeaseLost if it is no longer ours.

        The heartbeat notices a takeover within seconds; this check makes sure a worker that was frozen or cut
        off meanwhile does not process one more batch of a mailbox another worker now serves. It first waits
        for a batch slot, so that the check is the last thing before processing.
        """
        BATCH_SLOTS.take()
        try:
            if stop.is_set():
                raise LeaseLost(mailbox)
            with self.factory.begin() as session:
                held = renew(session, self.name, utcnow(), self.cfg.worker.lease_seconds, mailbox)
            if mailbox not in held:
                log.warning("event=lease_lost mailbox=%s", mailbox)
                stop.set()
                raise LeaseLost(mailbox)
        except BaseException:
            BATCH_SLOTS.give_back()
            raise

    def request_reload(self) -> None:
        """Asks for the config file's mailboxes and [[notify]] targets to be read again (on SIGHUP: only
        sets flags)."""
        self._reload_requested.set()
        if self.leases is not None:
            self.leases.wake.set()

    def mailboxes(self) -> tuple[MailboxConfig, ...]:
        """The configured mailboxes, after applying a requested reload (the [[notify]] targets with them); a
        broken new config keeps the old one."""
        if self._reload_requested.is_set() and self.reload_config is not None:
            self._reload_requested.clear()
            try:
                fresh = self.reload_config()
                passwords = mailbox_passwords(fresh.mailboxes)
                targets = webhook_targets(fresh)
            except ConfigError as exc:
                log.error("event=config_reload_failed error=%r", str(exc))
            else:
                self.passwords = {**self.passwords, **passwords}
                # The routes (which events and clients each target wants) come with the config; alerts already
                # queued keep their target's name and go out to the target of that name, if any.
                self.cfg = replace(self.cfg, mailboxes=fresh.mailboxes, notify=fresh.notify)
                with self._lock:
                    self._new_targets = targets
                if self.webhook_loop is not None:
                    self.webhook_loop.wake()
                log.info("event=config_reloaded mailboxes=%s notify=%s",
                         ",".join(b.name for b in fresh.mailboxes), ",".join(n.name for n in fresh.notify))
        return self.cfg.mailboxes

    # -- modes ---------------------------------------------------------------------------------
    def run_once(self) -> RunStats:
        """Processes everything pending in every mailbox not served by a running worker, sends the outbox."""
        if self.read_in_pool and self.pool is None and self.cfg.classifier.processes > 0:
            from intake.prepare import PreparePool

            # Started first, so the reading processes load the model while this one connects and looks for
            # mail.
            self.pool = PreparePool(self.cfg, self.cfg.classifier.processes)
        self.sender = SendLoop(self.drain_outbox).start()
        try:
            self._sync_all_once()
        finally:
            self.sender.stop()
            self.sender = None
        if not self.stop.is_set():  # stopping: the stored mail's acknowledgments still go out, below
            self.retry_quarantined()
            self.check_sla()
        self.drain_outbox()
        self.deliver_webhooks()
        self.close()
        return self.stats

    def close(self) -> None:
        """Lets go of the SMTP connection, the webhook threads and the reading processes."""
        self.smtp_link.close()
        if self.webhooks is not None:
            self.webhooks.close()
        if self.pool is not None:
            self.pool.close()
            self.pool = None

    def _sync_all_once(self) -> None:
        ttl = self.cfg.worker.lease_seconds
        for box in self.cfg.mailboxes:
            if self.stop.is_set():
                break
            stop = threading.Event()
            try:
                with self.factory.begin() as session:
                    if not acquire(session, box.name, self.name, utcnow(), ttl):
                        log.info("event=mailbox_skipped mailbox=%s reason=served_by_another_worker", box.name)
                        continue
            except SQLAlchemyError as exc:
                log.error("event=sync_failed mailbox=%s error=%r", box.name, str(exc))
                self.stats.errors.append(f"mailbox {box.name}: {type(exc).__name__}: {exc}")
                continue
            client = self._client(box, stop)
            try:
                client.connect()
                self.connected.set()
                self.sync(client, catch_up=True)
            except LeaseLost:
                log.warning("event=mailbox_skipped mailbox=%s reason=lease_lost", box.name)
            except TRANSIENT as exc:
                msg = f"mailbox {box.name}: {type(exc).__name__}: {exc}"
                log.error("event=sync_failed mailbox=%s error=%r", box.name, str(exc))
                self.stats.errors.append(msg)
            finally:
                # the batch never reached processing (an error between check and start)
                BATCH_SLOTS.give_back()
                client.close()
                self._release(box.name)

    def _release(self, mailbox: str) -> None:
        try:
            with self.factory.begin() as session:
                release(session, self.name, [mailbox])
        except SQLAlchemyError as exc:  # it expires on its own
            log.warning("event=lease_not_released mailbox=%s error=%r", mailbox, str(exc))

    def _serve(self, box: MailboxConfig, stop: threading.Event) -> None:
        """Serves BOX until STOP is set (the worker stops, or the lease is lost or given back)."""
        connect = Retrying(
            wait=wait_exponential(multiplier=1, min=1, max=60),
            retry=retry_if_exception_type(TRANSIENT),
            stop=stop_when_event_set(stop),
            sleep=stop.wait,
            before_sleep=lambda rs: self.outages.failed(f"imap:{box.name}", rs.outcome.exception()),
            reraise=False,
            retry_error_callback=lambda rs: None,
        )
        while not stop.is_set() and not self.stop.is_set():
            client = self._client(box, stop)
            try:
                if connect(client.connect) is None:
                    return  # stopped while waiting to reconnect
                self.outages.ok(f"imap:{box.name}")
                log.info("event=connected mailbox=%s idle=%s", box.name, client.has_idle)
                metrics.connected(box.name, True)
                self.connected.set()
                first = True
                while not stop.is_set() and not self.stop.is_set():
                    try:
                        self.sync(client, catch_up=first)
                    except SQLAlchemyError as exc:
                        # A database error (an outage, a deadlock between batches) leaves the IMAP side as it
                        # was: keep the connection and sync again.
                        BATCH_SLOTS.give_back()
                        self.outages.failed("database", exc)
                        stop.wait(2)
                        continue
                    first = False
                    wait = box.poll_seconds if not client.has_idle else self.cfg.worker.resync_seconds
                    client.wait_for_mail(wait, stop)
            except LeaseLost:
                return
            except SQLAlchemyError as exc:
                self.outages.failed("database", exc)
                stop.wait(2)
            except TRANSIENT as exc:
                self.outages.failed(f"imap:{box.name}", exc)
                stop.wait(1)
            except Exception:  # a bug must not silently end this mailbox's thread
                log.exception("event=mailbox_loop_failed mailbox=%s", box.name)
                stop.wait(10)
            finally:
                # the batch never reached processing (an error between check and start)
                BATCH_SLOTS.give_back()
                metrics.connected(box.name, False)
                client.close()

    def _own_pool(self) -> sessionmaker[Session]:
        """Sessions on a pool of their own: heartbeats must not queue behind busy batches (their leases would
        expire meanwhile and pass to another worker)."""
        engine = self.factory.kw["bind"]
        return make_sessionmaker(make_engine(engine.url.render_as_string(hide_password=False)))

    def run_forever(self) -> None:
        """Serves the mailboxes it holds leases on, each in its own thread, until stop is set; sends the
        outbox from a thread of its own and retries it meanwhile."""
        self.sender = SendLoop(self.drain_outbox, idle_seconds=OUTBOX_RETRY_SECONDS).start()
        # Started without targets too: a reload (SIGHUP) may bring some.
        self.webhook_loop = SendLoop(self.deliver_webhooks, WEBHOOK_POLL_SECONDS, name="webhooks").start()
        self.leases = MailboxLeases(self._own_pool(), self.name, self.cfg.worker, self.mailboxes, self._serve,
                                    self.stop, self.outages)
        metrics.known_mailboxes([box.name for box in self.cfg.mailboxes])
        keeper = threading.Thread(target=self.leases.run, name="leases", daemon=True)
        keeper.start()
        log.info("event=worker_started worker=%s mailboxes=%d", self.name, len(self.cfg.mailboxes))
        next_check = 0.0
        while not self.stop.wait(OUTBOX_RETRY_SECONDS):
            if time.monotonic() >= next_check:
                self.check_sla()
                next_check = time.monotonic() + self.cfg.sla.check_seconds
            self.retry_quarantined()
        keeper.join(timeout=60)
        self.sender.stop()
        self.sender = None
        if self.webhook_loop is not None:
            self.webhook_loop.stop()
            self.webhook_loop = None
        self.drain_outbox()
        self.close()
        log.info("event=worker_stopped")
