"""What the worker does besides reading mail: sending the outbox, chat alerts and webhooks, quarantine
retries and SLA checks, each failure logged once and never fatal to intake."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from intake import metrics
from intake.config import Config, ConfigError
from intake.config_checks import web_address
from intake.health import OutageLog
from intake.send_loop import SendLoop
from responders.sender import DrainResult, SmtpLink, SmtpSettings, drain
from responders.webhooks import DeliveryResult, WebhookSender, WebhookTarget

if TYPE_CHECKING:
    from classifiers import Classifier
    from intake.worker import RunStats
    from responders.sla_warnings import SlaCheck

log = logging.getLogger("intake.worker")


def smtp_settings(cfg: Config) -> SmtpSettings:
    """How to reach the configured SMTP server, its password read from where the config says."""
    s = cfg.smtp
    return SmtpSettings(host=s.host, port=s.port, security=s.security, username=s.username,
                        password=s.secret.read("smtp.password"), ca_file=s.ca_file,
                        timeout=s.timeout_seconds, max_attempts=s.max_attempts)


def webhook_targets(cfg: Config) -> dict[str, WebhookTarget]:
    """The [[notify]] targets with their URLs and secrets read from where the config says (ConfigError when
    one cannot be)."""
    targets = {}
    for n in cfg.notify:
        url = n.url.read(f"notify.{n.name}.url") or ""
        try:
            web_address(url)
        except ValueError:
            raise ConfigError(f"notify.{n.name}.url: the URL read from {n.url_env or n.url_file} is not an "
                              "http:// or https:// address with a host (and a port, if any, that is a number)"
                              ) from None
        targets[n.name] = WebhookTarget(n.name, n.target, url, n.secret.read(f"notify.{n.name}.secret") or "",
                                        n.timeout_seconds, n.max_attempts, n.retry_seconds)
    return targets


class Duties:
    """The worker's duties besides mail; mixed into intake.worker.Worker, which sets these attributes."""

    cfg: Config
    factory: sessionmaker[Session]
    name: str
    outages: OutageLog
    smtp: SmtpSettings
    smtp_link: SmtpLink
    sender: SendLoop | None
    webhooks: WebhookSender | None
    webhook_loop: SendLoop | None
    stats: RunStats
    _new_targets: dict[str, WebhookTarget] | None
    _smtp_lock: threading.Lock
    _lock: threading.Lock
    current_classifier: Callable[[], Classifier]

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
        metrics.acks_sent(result.ack_seconds)
        return result

    def deliver_webhooks(self) -> DeliveryResult:
        """Delivers the due chat alerts and webhook calls; a target's outage is logged once, and retried
        later."""
        self._take_new_targets()
        sender = self.webhooks
        if sender is None:
            return DeliveryResult()
        try:
            result = sender.deliver()
        except SQLAlchemyError as exc:
            self.outages.failed("database", exc)
            return DeliveryResult()
        except Exception:  # a bug here must not end the loop
            log.exception("event=webhook_delivery_failed")
            return DeliveryResult()
        for name, error in result.errors.items():
            if name not in result.ok:
                self.outages.failed(f"webhook:{name}", error)
        for name in result.ok:
            self.outages.ok(f"webhook:{name}")
        return result

    def _take_new_targets(self) -> None:
        """Swaps in the targets a reload read, between two delivery passes (the old sender is idle then)."""
        with self._lock:
            targets, self._new_targets = self._new_targets, None
        if targets is None:
            return
        old = self.webhooks
        self.webhooks = WebhookSender(self.factory, targets, self.name) if targets else None
        if old is not None:
            old.close()
        log.info("event=notify_reloaded targets=%s", ",".join(sorted(targets)))

    def retry_quarantined(self) -> None:
        """Runs the quarantined messages an admin asked to retry; a failure is logged, never fatal."""
        from intake.quarantine import retry_requested

        try:
            outcomes = retry_requested(self.factory, self.cfg, self.current_classifier)
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
        from responders.sla_warnings import SlaCheck, check_sla

        try:
            result = check_sla(self.factory, self.cfg)
        except SQLAlchemyError as exc:
            self.outages.failed("database", exc)
            return SlaCheck()
        except Exception:  # a bug in the check must not stop intake
            log.exception("event=sla_check_failed")
            return SlaCheck()
        if result.warned and self.webhook_loop is not None:
            self.webhook_loop.wake()
        if result.changed or result.warned:
            log.info("event=sla_checked changed=%d warned=%d emails=%d", result.changed, result.warned,
                     result.emails)
        with self._lock:
            self.stats.sla_warnings += result.warned
        return result
