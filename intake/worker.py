"""The intake worker: syncs every mailbox (IDLE or polling), runs the pipeline, drains the outbox, stops cleanly."""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from tenacity import Retrying, retry_if_exception_type, stop_when_event_set, wait_exponential

from classifiers import Classifier
from db.claims import worker_name
from db.queries import lock_mailbox
from intake.config import Config, MailboxConfig
from intake.health import OutageLog
from intake.imap import IMAP_ERRORS, MailboxClient
from intake.pipeline import BatchResult, process_batch
from intake.prepare import Prepared, PreparePool
from intake.quarantine import retry_requested
from intake.send_loop import SendLoop
from intake.sla_check import SlaCheck, check_sla
from intake.values import RawMail
from responders.sender import DrainResult, SmtpLink, SmtpSettings, drain

log = logging.getLogger("intake.worker")
TRANSIENT = (*IMAP_ERRORS, SQLAlchemyError)
OUTBOX_RETRY_SECONDS = 5.0
# A new-mail notification can be lost in the gap between a sync and the next IDLE (the server
# reported EXISTS in an earlier command's response); re-syncing this often bounds that delay.
IDLE_RESYNC_SECONDS = 10.0


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


def smtp_settings(cfg: Config) -> SmtpSettings:
    """How to reach the configured SMTP server, its password read from where the config says."""
    s = cfg.smtp
    return SmtpSettings(host=s.host, port=s.port, security=s.security, username=s.username,
                        password=s.secret.read("smtp.password"), ca_file=s.ca_file,
                        timeout=s.timeout_seconds, max_attempts=s.max_attempts)


class Worker:
    """Runs intake for all configured mailboxes."""

    def __init__(self, cfg: Config, factory: sessionmaker[Session], classifier: Classifier,
                 stop: threading.Event | None = None,
                 reload: Callable[[], Classifier] | None = None) -> None:
        self.cfg = cfg
        self.factory = factory
        self.classifier = classifier
        self.reload = reload
        self.stop = stop or threading.Event()
        self.outages = OutageLog(log)
        self.name = worker_name()
        self.passwords = {m.name: (m.secret.read(f"mailboxes.{m.name}.password") or "") if m.auth == "password"
                          else "" for m in cfg.mailboxes}
        self.smtp = smtp_settings(cfg)
        self.smtp_link = SmtpLink(self.smtp)  # one connection for every drain of this worker
        self.sender: SendLoop | None = None
        # Processes that read and classify the next batch while this one is stored; started when a backlog
        # first shows (a second batch waiting), so a worker that keeps up never pays for them.
        self.pool: PreparePool | None = None
        self._smtp_lock = threading.Lock()
        self._lock = threading.Lock()
        self.stats = RunStats()

    # -- one mailbox ---------------------------------------------------------------------------
    def sync(self, client: MailboxClient, catch_up: bool = False) -> None:
        """Processes everything pending in CLIENT's folder, batch by batch (CATCH_UP: first after connecting)."""
        name = client.cfg.name
        with self.factory.begin() as session:
            box = lock_mailbox(session, name)
            last_uid, known_validity = box.last_uid or 0, box.uidvalidity
            if known_validity and known_validity != client.uidvalidity:
                # The folder was recreated or restored: every UID is new; Message-IDs keep us from duplicating.
                log.warning("event=uidvalidity_changed mailbox=%s old=%s new=%s", name, known_validity,
                            client.uidvalidity)
                box.uidvalidity, box.last_uid, last_uid = client.uidvalidity, 0, 0
        self.outages.ok("database")
        if catch_up:
            # The commit and the mailbox action are not atomic: finish what a crash interrupted.
            done = client.catch_up(last_uid)
            if done:
                log.info("event=processed_action_caught_up mailbox=%s count=%d", name, done)
        # One batch ahead: while a batch is stored here, the next is read and classified in the pool.
        ahead: deque[tuple[list[RawMail], Future[Prepared] | None]] = deque()
        for batch in client.batches(last_uid, self.cfg.tracker.max_message_bytes):
            if not batch:
                continue
            if ahead and self.pool is None and self.cfg.classifier.processes > 0:
                with self._lock:
                    self.pool = self.pool or PreparePool(self.cfg, self.cfg.classifier.processes)
            ahead.append((batch, self.pool.submit(batch) if self.pool is not None else None))
            if len(ahead) > 1 and not self._store(client, *ahead.popleft()):
                return
        while ahead:
            if not self._store(client, *ahead.popleft()):
                return

    def _store(self, client: MailboxClient, batch: list[RawMail], reading: Future[Prepared] | None) -> bool:
        """Stores BATCH (read in the pool when READING is given); False when the worker is stopping."""
        prepared = self.pool.result(reading) if self.pool is not None else None
        result = process_batch(self.factory, self.cfg, client.cfg.name, batch, self.current_classifier(),
                               prepared=prepared)
        with self._lock:
            self.stats.add(result)
        client.after_commit(result.processed_uids)
        if result.acks_queued:
            self.outbox_due()
        return not self.stop.is_set()

    def current_classifier(self) -> Classifier:
        """The active model; a version activated by `intake train` is picked up here, between batches."""
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

    def outbox_due(self) -> None:
        """Mail was queued: the send loop sends it while the next batch is processed (without a loop, now)."""
        if self.sender is not None:
            self.sender.wake()
        else:
            self.drain_outbox()

    def drain_outbox(self) -> DrainResult:
        """Sends what the outbox holds; an SMTP outage is logged once and retried later."""
        try:
            with self._smtp_lock:
                result = drain(self.factory, self.smtp, self.name, self.smtp_link)
        except SQLAlchemyError as exc:
            self.outages.failed("database", exc)
            return DrainResult(error=str(exc))
        if result.error:
            self.outages.failed("smtp", result.error)
        elif result.sent:
            self.outages.ok("smtp")
        with self._lock:
            self.stats.acks_sent += result.sent
        return result

    def retry_quarantined(self) -> None:
        """Runs the quarantined messages an admin asked to retry; a failure is logged, never fatal."""
        try:
            outcomes = retry_requested(self.factory, self.cfg, self.current_classifier())
        except SQLAlchemyError as exc:
            self.outages.failed("database", exc)
            return
        except Exception:  # a bug here must not stop intake
            log.exception("event=quarantine_retry_failed")
            return
        if any(o.ack_queued for o in outcomes):
            self.drain_outbox()

    def check_sla(self) -> SlaCheck:
        """Refreshes the items' SLA states and queues the warnings due; a failure is logged, never fatal."""
        try:
            result = check_sla(self.factory, self.cfg)
        except SQLAlchemyError as exc:
            self.outages.failed("database", exc)
            return SlaCheck()
        except Exception:  # a bug in the check must not stop intake
            log.exception("event=sla_check_failed")
            return SlaCheck()
        if result.changed or result.warned:
            log.info("event=sla_checked changed=%d warned=%d emails=%d", result.changed, result.warned, result.emails)
        with self._lock:
            self.stats.sla_warnings += result.warned
        return result

    def _client(self, box: MailboxConfig) -> MailboxClient:
        return MailboxClient(box, self.passwords[box.name])

    # -- modes ---------------------------------------------------------------------------------
    def run_once(self) -> RunStats:
        """Processes everything pending in every mailbox, sends the outbox, and returns."""
        self.sender = SendLoop(self.drain_outbox).start()
        try:
            self._sync_all_once()
        finally:
            self.sender.stop()
            self.sender = None
        self.retry_quarantined()
        self.check_sla()
        self.drain_outbox()
        self.close()
        return self.stats

    def close(self) -> None:
        """Lets go of the SMTP connection and the reading processes."""
        self.smtp_link.close()
        if self.pool is not None:
            self.pool.close()
            self.pool = None

    def _sync_all_once(self) -> None:
        for box in self.cfg.mailboxes:
            client = self._client(box)
            try:
                client.connect()
                self.sync(client, catch_up=True)
            except TRANSIENT as exc:
                msg = f"mailbox {box.name}: {type(exc).__name__}: {exc}"
                log.error("event=sync_failed mailbox=%s error=%r", box.name, str(exc))
                self.stats.errors.append(msg)
            finally:
                client.close()

    def _serve(self, box: MailboxConfig) -> None:
        connect = Retrying(
            wait=wait_exponential(multiplier=1, min=1, max=60),
            retry=retry_if_exception_type(TRANSIENT),
            stop=stop_when_event_set(self.stop),
            sleep=self.stop.wait,
            before_sleep=lambda rs: self.outages.failed(f"imap:{box.name}", rs.outcome.exception()),
            reraise=False,
            retry_error_callback=lambda rs: None,
        )
        while not self.stop.is_set():
            client = self._client(box)
            try:
                if connect(client.connect) is None:
                    return  # stopped while waiting to reconnect
                self.outages.ok(f"imap:{box.name}")
                log.info("event=connected mailbox=%s idle=%s", box.name, client.has_idle)
                first = True
                while not self.stop.is_set():
                    self.sync(client, catch_up=first)
                    first = False
                    client.wait_for_mail(box.poll_seconds if not client.has_idle else IDLE_RESYNC_SECONDS, self.stop)
            except SQLAlchemyError as exc:
                self.outages.failed("database", exc)
                self.stop.wait(2)
            except TRANSIENT as exc:
                self.outages.failed(f"imap:{box.name}", exc)
                self.stop.wait(1)
            except Exception:  # a bug must not silently end this mailbox's thread
                log.exception("event=mailbox_loop_failed mailbox=%s", box.name)
                self.stop.wait(10)
            finally:
                client.close()

    def run_forever(self) -> None:
        """Serves every mailbox in its own thread until stop is set; retries the outbox meanwhile."""
        threads = [threading.Thread(target=self._serve, args=(box,), name=f"mailbox-{box.name}", daemon=True)
                   for box in self.cfg.mailboxes]
        self.sender = SendLoop(self.drain_outbox, idle_seconds=OUTBOX_RETRY_SECONDS).start()
        for t in threads:
            t.start()
        log.info("event=worker_started mailboxes=%d", len(threads))
        next_check = 0.0
        while not self.stop.wait(OUTBOX_RETRY_SECONDS):
            if time.monotonic() >= next_check:
                self.check_sla()
                next_check = time.monotonic() + self.cfg.sla.check_seconds
            self.retry_quarantined()
        for t in threads:
            t.join(timeout=10)
        self.sender.stop()
        self.sender = None
        self.drain_outbox()
        self.close()
        log.info("event=worker_stopped")
