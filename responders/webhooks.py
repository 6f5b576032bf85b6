"""Delivers queued webhook calls: claims due rows, posts them per target in parallel, retries with backoff.

Each target's rows go out in order, on a thread of their own, with a timeout: a target that is down costs its
own thread one timeout per try, and its other rows wait for its next try instead of each timing out in turn.
A call is booked right after the target answers, so after a worker crash at most the call in flight is made
again (receivers tell a repeat by its X-Intake-Delivery header).
"""
from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy.orm import Session, sessionmaker

from db.types import utcnow
from db.webhook_deliveries import Claimed, claim, mark_failed, mark_sent, postpone, release_dead_claims
from responders.webhook_sign import dingtalk_url, feishu_sign, signed_headers

log = logging.getLogger("responders.webhooks")

CLAIM_SECONDS = 300
BATCH = 100
MAX_BACKOFF_SECONDS = 3600
USER_AGENT = "client-intake-webhooks/1"
# Answers that will not change on a retry (the URL is gone or refuses us, the body is wrong); the others
# (timeouts, 5xx, 408, 409, 425, 429) are tried again.
PERMANENT = frozenset({400, 401, 403, 404, 405, 410, 411, 413, 414, 415, 422})


@dataclass(frozen=True)
class WebhookTarget:
    """One configured target with its URL and secret already read (neither is ever logged)."""

    name: str
    kind: str  # webhook | slack | teams | dingtalk | feishu | wecom
    url: str = field(repr=False)
    secret: str = field(default="", repr=False)
    timeout: float = 10.0
    max_attempts: int = 12
    retry_seconds: float = 10.0

    def backoff(self, attempts: int) -> timedelta:
        """Wait before try ATTEMPTS + 1: retry_seconds doubling, at most an hour."""
        return timedelta(seconds=min(self.retry_seconds * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS))


@dataclass
class DeliveryResult:
    """What one delivery pass did; ERRORS: the latest error of each target that failed (by name)."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    ok: set[str] = field(default_factory=set)

    def add(self, other: DeliveryResult) -> None:
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.errors.update(other.errors)
        self.ok.update(other.ok)


@dataclass(frozen=True)
class Request:
    """One HTTP call, ready to go."""

    url: str = field(repr=False)
    body: bytes
    headers: dict[str, str]


def build_request(target: WebhookTarget, row: Claimed, now: float) -> Request:
    """The call that delivers ROW to TARGET at NOW (Unix seconds): signed as the target's platform wants."""
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
               "X-Intake-Delivery": row.delivery_id, "X-Intake-Event": row.event}
    body, url = row.body.encode("utf-8"), target.url
    if target.kind == "webhook":
        headers.update(signed_headers(target.secret, int(now), body))
    elif target.kind == "dingtalk" and target.secret:
        url = dingtalk_url(url, target.secret, int(now * 1000))
    elif target.kind == "feishu" and target.secret:
        stamp = int(now)
        # The signature goes first in the body, beside the message; the stored body stays unsigned.
        body = (f'{{"timestamp":"{stamp}","sign":{json.dumps(feishu_sign(target.secret, stamp))},'
                .encode() + body[1:])
    return Request(url, body, headers)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A webhook that redirects is answered as what it is (a 3xx), never followed with the body dropped."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def post(request: Request, timeout: float) -> tuple[int, str]:
    """Posts REQUEST; the status and the first KiB of the answer. Raises OSError when no answer came."""
    req = urllib.request.Request(request.url, data=request.body, headers=request.headers, method="POST")
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            return resp.status, resp.read(1024).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        try:
            text = exc.read(1024).decode("utf-8", "replace")
        except OSError:
            text = ""
        return exc.code, text


def judge(kind: str, status: int, text: str) -> tuple[bool, str, bool]:
    """Whether the answer STATUS, TEXT of a KIND target means delivered; else the error and whether it is
    permanent. DingTalk, Feishu and WeCom answer 200 with an error code in the body."""
    if not 200 <= status < 300:
        return False, f"HTTP {status}: {' '.join(text.split())[:300]}", status in PERMANENT
    if kind in ("dingtalk", "wecom", "feishu"):
        try:
            answer = json.loads(text) if text.strip() else {}
        except ValueError:
            answer = {}
        if isinstance(answer, dict):
            code = answer.get("errcode", answer.get("code", answer.get("StatusCode", 0)))
            if code not in (0, None):
                message = answer.get("errmsg", answer.get("msg", answer.get("StatusMessage", "")))
                return False, f"{kind} error {code}: {' '.join(str(message).split())[:300]}", False
    return True, "", False


def redacted(text: str, url: str) -> str:
    """TEXT without URL, its path or its query: some errors quote the URL, and its token (in the path for
    Slack and Feishu, in the query for DingTalk and WeCom) is a credential the log and the delivery page never
    show."""
    parts = urlsplit(url)
    for secret in (url, parts.query, parts.path):
        if len(secret) > 1:
            text = text.replace(secret, "<redacted>")
    return text


Poster = Callable[[Request, float], tuple[int, str]]


class WebhookSender:
    """Delivers the queue for TARGETS (by name) as WORKER; one thread per target while a pass runs."""

    def __init__(self, factory: sessionmaker[Session], targets: Mapping[str, WebhookTarget], worker: str,
                 poster: Poster = post, clock: Callable[[], float] = time.time) -> None:
        self.factory = factory
        self.targets = dict(targets)
        self.worker = worker
        self._post = poster
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=max(1, min(len(self.targets), 16)),
                                        thread_name_prefix="webhook")

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def deliver(self) -> DeliveryResult:
        """Delivers every due row of the configured targets; what fails stays queued for its next try."""
        result = DeliveryResult()
        if not self.targets:
            return result
        with self.factory.begin() as session:
            dead = release_dead_claims(session, self.worker, utcnow())
        if dead:
            log.warning("event=webhook_claims_released workers=%s", ",".join(dead))
        while True:
            with self.factory.begin() as session:
                rows = claim(session, self.worker, self.targets, utcnow(), CLAIM_SECONDS, BATCH)
            if not rows:
                return result
            groups: dict[str, list[Claimed]] = {}
            for row in rows:
                groups.setdefault(row.target, []).append(row)
            for done in self._pool.map(self._send_group, groups.values()):
                result.add(done)

    def _send_group(self, rows: Sequence[Claimed]) -> DeliveryResult:
        """ROWS of one target, in order; the first failure that is the target's (no answer, a 5xx) postpones
        the rest to its next try."""
        result = DeliveryResult()
        target = self.targets[rows[0].target]
        for i, row in enumerate(rows):
            error, status, permanent = "", None, False
            try:
                status, text = self._post(build_request(target, row, self._clock()), target.timeout)
                ok, error, permanent = judge(target.kind, status, text)
            # no answer: refused, timeout, TLS...
            except (OSError, ValueError, http.client.HTTPException) as exc:
                ok, error = False, f"{type(exc).__name__}: {exc}"
            error = redacted(error, target.url)
            now = utcnow()
            if ok:
                with self.factory.begin() as session:
                    mark_sent(session, row.id, status or 0, now)
                result.sent += 1
                result.ok.add(target.name)
                log.info("event=webhook_sent target=%s event=%s ref=%s delivery=%s", target.name, row.event,
                         row.ref, row.delivery_id)
                continue
            gives_up = permanent or row.attempts + 1 >= target.max_attempts
            wait_until = now + target.backoff(row.attempts + 1)
            with self.factory.begin() as session:
                mark_failed(session, row.id, error, status, None if gives_up else wait_until)
                if not permanent:
                    postpone(session, [r.id for r in rows[i + 1:]], wait_until,
                             f"waiting for {target.name}: an earlier call failed ({error[:200]})")
            result.errors[target.name] = error
            log.warning("event=webhook_failed target=%s event=%s ref=%s delivery=%s attempts=%d outcome=%s "
                        "error=%r", target.name, row.event, row.ref, row.delivery_id, row.attempts + 1,
                        "failed" if gives_up else "retry", error)
            if gives_up:
                result.failed += 1
            else:
                result.retried += 1
            if not permanent:
                return result  # the target's trouble, not this row's: the rest wait for its next try
        return result

