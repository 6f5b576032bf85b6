"""Drains a mailbox while SIGKILLing `intake run` at random moments, then checks nothing was lost or
doubled."""
from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

from sqlalchemy import func, select

from db.engine import read_session
from db.models import Item, Message, OutboxMail
from deploy.mailserver import Dovecot
from deploy.smtp_sink import SmtpSink
from tests.mailgen import STYLES, client_email, corpus_texts

MAILBOX_USER = "support"
APPEND_CHUNK = 100  # messages appended per IMAP login


@dataclass
class CrashReport:
    """The figures of one crash-kill drain; `problems` lists every broken guarantee."""

    seed: int
    messages: int  # client emails delivered to the mailbox
    kills: int  # SIGKILLs that hit a live worker
    elapsed: float  # seconds from the first worker start until everything was acknowledged
    settle_seconds: float  # of which the last workers (after the last kill) took these to finish
    inbound_rows: int  # inbound message rows in the database
    missing_messages: list[str]  # delivered Message-IDs without an inbound row
    unexpected_messages: list[str]  # inbound Message-IDs that were never delivered
    items: int
    messages_without_item: list[str]  # delivered Message-IDs whose row has no item
    shared_items: int  # items that more than one delivered message points to
    orphan_items: int  # items no delivered message points to (a duplicate created apart from its message)
    unacknowledged_items: list[str]  # refs without acknowledged_at
    items_without_sent_ack: list[str]  # refs without exactly one sent acknowledgment row in the outbox
    outbox_rows: int
    acks_received: int  # acknowledgments the SMTP sink accepted
    acks_lost: list[str]  # delivered Message-IDs the sink never got an acknowledgment for
    duplicate_acks: int  # acknowledgments beyond the first, summed over messages
    differing_acks: int  # messages acknowledged by two different mails (not one outbox row sent twice)
    stray_acks: int  # acknowledgments replying to no delivered Message-ID
    wrong_ref_acks: int  # acknowledgments whose subject names another item's reference
    # where the kills landed, by last logged activity
    kill_phases: dict[str, int] = field(default_factory=dict)
    worker_failures: list[str] = field(default_factory=list)  # exited on their own, or not cleanly on SIGTERM
    sent_twice: list[str] = field(default_factory=list)  # refs whose acknowledgment was marked sent twice
    workers: int = 1  # workers running side by side
    log_dir: str = ""  # one log per worker process

    @property
    def throughput(self) -> float:
        """Messages taken in and acknowledged per second of wall time, kills and restarts included."""
        return self.messages / self.elapsed if self.elapsed else 0.0

    def problems(self) -> list[str]:
        """Each broken guarantee in one line; empty when the run upheld them all."""
        out: list[str] = []

        def check(bad: list[str] | int, what: str) -> None:
            if isinstance(bad, list) and bad:
                out.append(f"{what}: {len(bad)}, e.g. {', '.join(bad[:5])}")
            elif isinstance(bad, int) and bad:
                out.append(f"{what}: {bad}")

        check(self.missing_messages, "delivered messages with no record")
        check(self.unexpected_messages, "records of messages never delivered")
        if self.inbound_rows != self.messages:
            out.append(f"inbound rows {self.inbound_rows} != delivered messages {self.messages}")
        check(self.messages_without_item, "messages without an item")
        check(self.shared_items, "items shared by several messages")
        check(self.orphan_items, "items without their message (duplicates)")
        if self.items != self.messages:
            out.append(f"items {self.items} != delivered messages {self.messages}")
        check(self.unacknowledged_items, "items without acknowledged_at")
        check(self.items_without_sent_ack, "items without exactly one sent outbox row")
        if self.outbox_rows != self.items:
            out.append(f"outbox rows {self.outbox_rows} != items {self.items}")
        check(self.differing_acks, "messages acknowledged by two different mails")
        check(self.acks_lost, "messages never acknowledged over SMTP")
        check(self.stray_acks, "acknowledgments to unknown messages")
        check(self.wrong_ref_acks, "acknowledgments naming the wrong reference")
        if self.duplicate_acks > self.kills:
            out.append(f"duplicate acknowledgments {self.duplicate_acks} > kills {self.kills}")
        check(self.sent_twice, "acknowledgments sent and marked twice (claims failed)")
        check(self.worker_failures, "workers that died on their own or did not stop cleanly")
        return out

    def summary(self) -> str:
        """The figures in a few lines."""
        phases = ", ".join(f"{k}={v}" for k, v in sorted(self.kill_phases.items()))
        return (f"messages={self.messages} workers={self.workers} kills={self.kills} seed={self.seed} "
                f"elapsed={self.elapsed:.1f}s settle={self.settle_seconds:.1f}s "
                f"throughput={self.throughput:.1f}/s\n"
                f"inbound_rows={self.inbound_rows} items={self.items} outbox_rows={self.outbox_rows} "
                f"acks_received={self.acks_received} duplicate_acks={self.duplicate_acks}\n"
                f"kills by last logged activity: {phases or 'none'}\n"
                f"problems: {'; '.join(self.problems()) or 'none'}")


def build_emails(count: int, tag: str) -> list[EmailMessage]:
    """COUNT client emails with distinct senders and Message-IDs, cycling through corpus texts and styles."""
    texts = corpus_texts("dev") + corpus_texts("train")
    out = []
    for i in range(count):
        t = texts[i % len(texts)]
        out.append(client_email(i, t["subject"], t["body"], t["lang"], STYLES[i % len(STYLES)],
                                domain=f"c{i % 41}.example", msgid=f"<crash-{tag}-{i}@client.example>"))
    return out


def append_all(dovecot: Dovecot, mails: Sequence[EmailMessage]) -> None:
    """IMAP APPENDs MAILS to the INBOX, a chunk per login."""
    for start in range(0, len(mails), APPEND_CHUNK):
        client = dovecot.login(MAILBOX_USER)
        try:
            for m in mails[start:start + APPEND_CHUNK]:
                client.append("INBOX", bytes(m))
        finally:
            client.logout()


def _intake(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "intake", "--log-level", "info", "--config", str(config), *args]


def _start(config: Path, log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "wb") as log:
        return subprocess.Popen(_intake(config, "run"), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                env=os.environ.copy())


_EVENT = re.compile(r"^ts=(\S+) .*?\bevent=(\w+)")
SENDING_GAP = 0.25  # seconds: a kill this soon after an acknowledgment went out hit the drain's next send


def _timed_events(log_path: Path) -> list[tuple[float, str]]:
    """(time, event) of each line of a worker's log."""
    try:
        text = log_path.read_text("utf-8", errors="replace")
    except OSError:
        return []
    out = []
    for m in map(_EVENT.match, text.splitlines()):
        if m:
            ts = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
            out.append((ts.timestamp(), m.group(2)))
    return out


_EVENT_NAME = re.compile(r"\bevent=(\w+)")


def _events(log_path: Path) -> list[str]:
    """The events of a worker's log, in order (cheap enough to poll)."""
    try:
        return _EVENT_NAME.findall(log_path.read_text("utf-8", errors="replace"))
    except OSError:
        return []


def kill_phase(events: Sequence[tuple[float, str]], killed_at: float, aimed: str = "") -> str:
    """Where a kill at KILLED_AT landed, judged by the worker's log: startup, fetch_or_idle, batch or send.

    AIMED ("batch" or "send"): the moment the kill waited for. The sending thread runs beside the batches, so
    the last line logged before a kill may be the other one's: an aimed kill counts as what it aimed at when
    its event was logged within SENDING_GAP before it.
    """
    if not any(e == "connected" for _, e in events):
        return "startup"
    recent = {e for t, e in events if killed_at - t < SENDING_GAP}
    if aimed == "batch" and "item_created" in recent:
        return "batch"  # a batch's items were stored just before: its commit, mailbox actions or first sends
    if aimed == "send" and "ack_sent" in recent:
        return "send"
    ts, last = events[-1]
    if last == "item_created":
        return "batch"  # storing a batch, committing it, or claiming and sending its first acknowledgment
    if last == "ack_sent" and killed_at - ts < SENDING_GAP:
        return "send"  # in the middle of a drain
    return "fetch_or_idle"


def _wait_for(log_path: Path, event: str, count: int, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Waits until PROC logged EVENT COUNT times (polled every 10 ms); False on timeout or exit."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if _events(log_path).count(event) >= count:
            return True
        time.sleep(0.01)
    return False


@dataclass
class _Incarnation:
    """One `intake run` process and its log."""

    n: int
    proc: subprocess.Popen[bytes]
    log: Path
    started: float


KILL_MODES = ("timed", "send", "batch", "timed", "start")


def _await_kill_moment(mode: str, rng: random.Random, kill_after: tuple[float, float],
                       w: _Incarnation) -> str:
    """Sleeps until W's kill moment; returns how it was chosen, for the progress line.

    timed: a random time after the worker connected; start: a random time after the process started (recovery
    at startup); send: right after a random acknowledgment of its next drain went out (mid-drain); batch:
    right after a random item of its next batches was stored (inside the transaction, before the commit).
    """
    if mode == "start":
        delay = rng.uniform(*kill_after)
        time.sleep(max(0.0, w.started + delay - time.monotonic()))
        return f"{delay:.2f}s after start"
    connected = _wait_for(w.log, "connected", 1, w.proc, 60)
    if mode == "timed" or not connected:
        delay = rng.uniform(*kill_after)
        time.sleep(delay)
        return f"{delay:.2f}s after connecting"
    event = "ack_sent" if mode == "send" else "item_created"
    nth = rng.randint(2, 45) if mode == "send" else rng.randint(1, 95)
    # Long enough for a worker started on a busy machine to load its model and reach its batches; short enough
    # that a worker with nothing left to do is still killed soon.
    _wait_for(w.log, event, _events(w.log).count(event) + nth, w.proc, max(kill_after[1] * 2, 20.0))
    return f"after {event} #{nth}"


_SERVING = re.compile(r"\bevent=(serving|stopped_serving) mailbox=(\S+)")


def _serving_worker(running: Sequence[_Incarnation], rng: random.Random,
                    timeout: float = 30.0) -> _Incarnation:
    """The worker that serves the mailbox (only the holder of its lease does), once one does; else a random
    one.

    Killing the idle one of two workers would only ever hit a process waiting for a lease.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and all(w.proc.poll() is None for w in running):
        serving = []
        for w in running:
            try:
                found = _SERVING.findall(w.log.read_text("utf-8", errors="replace"))
            except OSError:
                found = []
            if found and found[-1][0] == "serving":
                serving.append(w)
        if serving:
            return rng.choice(serving)
        time.sleep(0.02)
    return rng.choice(running)


def _sigkill(proc: subprocess.Popen[bytes]) -> bool:
    """SIGKILLs PROC; True when it was still alive to be killed."""
    alive = proc.poll() is None
    if alive:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return alive


def _acknowledged(db_url: str) -> tuple[int, int]:
    with read_session(db_url) as s:
        items = s.scalar(select(func.count(Item.id))) or 0
        acked = s.scalar(select(func.count(Item.id)).where(Item.acknowledged_at.is_not(None))) or 0
        return items, acked


def crash_drain(dovecot: Dovecot, sink: SmtpSink, config: Path, db_url: str, messages: int = 1000,
                kills: int = 10, seed: int = 1, kill_after: tuple[float, float] = (0.3, 3.0),
                trickle: float = 0.1, workers: int = 1, log_dir: Path | None = None,
                settle_timeout: float = 240.0, progress: bool = False) -> CrashReport:
    """Delivers MESSAGES client emails, SIGKILLs `intake run` KILLS times, lets the last workers finish,
    checks.

    DOVECOT's mailbox, SINK and the database behind CONFIG and DB_URL must start empty.

    Most mail is appended before the first start; a TRICKLE fraction arrives while the kills go on, so some
    kills hit IDLE wake-ups. Kill moments cycle through KILL_MODES (see `_await_kill_moment`), so that kills
    land during fetches, inside batch transactions, in the middle of SMTP drains and at startup. With WORKERS
    above one, that many run side by side (they share the mailbox and the outbox), a random one is killed each
    time and replaced at once.
    """
    rng = random.Random(seed)
    log_dir = log_dir or config.parent / "crash-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    tag = f"{seed}-{os.getpid()}-{time.monotonic_ns() % 10**8}"
    mails = build_emails(messages, tag)
    delivered = {str(m["Message-ID"]): m for m in mails}
    late = int(messages * trickle)
    subprocess.run(_intake(config, "db", "upgrade"), check=True, capture_output=True)
    append_all(dovecot, mails[:messages - late])

    def say(text: str) -> None:
        if progress:
            print(text, file=sys.stderr, flush=True)

    trickler = threading.Thread(target=_trickle, args=(dovecot, mails[messages - late:], rng.random()),
                                daemon=True, name="trickle")
    started = time.monotonic()
    trickler.start()
    hits = 0
    phases: Counter[str] = Counter()
    failures: list[str] = []
    running: list[_Incarnation] = []
    count = 0

    def top_up(prefix: str) -> None:
        nonlocal count
        for w in list(running):
            if w.proc.poll() is not None:
                failures.append(f"worker {w.n} exited with {w.proc.returncode} on its own; see {w.log}")
                running.remove(w)
        while len(running) < workers:
            log_path = log_dir / f"{prefix}-{count:03d}.log"
            running.append(_Incarnation(count, _start(config, log_path), log_path, time.monotonic()))
            count += 1

    for n in range(kills):
        top_up("worker")
        mode = KILL_MODES[n % len(KILL_MODES)]
        victim = rng.choice(running) if mode == "start" else _serving_worker(running, rng)
        how = _await_kill_moment(mode, rng, kill_after, victim)
        running.remove(victim)
        killed_at = time.time()
        if _sigkill(victim.proc):
            hits += 1
            aimed = {"after item_created": "batch", "after ack_sent": "send"}.get(how.rpartition(" #")[0], "")
            phases[kill_phase(_timed_events(victim.log), killed_at, aimed)] += 1
        else:
            failures.append(f"worker {victim.n} exited with {victim.proc.returncode} before its kill; "
                            f"see {victim.log}")
        say(f"kill {n + 1}/{kills}: worker {victim.n} {how}, items/acknowledged {_acknowledged(db_url)}")
    trickler.join()

    settle_start = time.monotonic()
    top_up("final")
    done = settle_start + settle_timeout
    try:
        while time.monotonic() < done and all(w.proc.poll() is None for w in running):
            items, acked = _acknowledged(db_url)
            if items >= messages and acked >= items and len(sink.messages) >= messages:
                done = time.monotonic()
                break
            time.sleep(0.2)
        time.sleep(1.0)  # anything still on its way would show up as a duplicate now
    finally:
        for w in running:
            _stop(w, failures)
    say(f"settled in {done - settle_start:.1f}s")
    return check(db_url, delivered, sink, seed=seed, kills=hits, workers=workers, elapsed=done - started,
                 settle=done - settle_start, phases=dict(phases), failures=failures, log_dir=log_dir)


def _stop(w: _Incarnation, failures: list[str]) -> None:
    """Stops W with SIGTERM as a service manager would; a worker that had died or will not stop is a
    failure."""
    if w.proc.poll() is not None:
        failures.append(f"worker {w.n} exited with {w.proc.returncode} on its own; see {w.log}")
        return
    _wait_for(w.log, "connected", 1, w.proc, 60)  # SIGTERM before the handlers are set up would just kill it
    w.proc.send_signal(signal.SIGTERM)
    try:
        w.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        w.proc.kill()
        w.proc.wait()
        failures.append(f"worker {w.n} did not stop on SIGTERM; see {w.log}")
        return
    if w.proc.returncode != 0:
        failures.append(f"worker {w.n} exited with {w.proc.returncode} after SIGTERM; see {w.log}")


_SENT = re.compile(r"\bevent=ack_sent ref=(\S+)")


def _sent_refs(log_dir: Path) -> Counter[str]:
    """How often each item's acknowledgment was logged as sent (after its row was marked), over all
    workers."""
    out: Counter[str] = Counter()
    for path in log_dir.glob("*.log"):
        out.update(m.group(1) for m in _SENT.finditer(path.read_text("utf-8", errors="replace")))
    return out


def _trickle(dovecot: Dovecot, mails: Sequence[EmailMessage], jitter: float) -> None:
    """Appends MAILS one by one over the kill phase (about a tenth of a second apart)."""
    time.sleep(1.0 + jitter)
    client = dovecot.login(MAILBOX_USER)
    try:
        for m in mails:
            client.append("INBOX", bytes(m))
            time.sleep(0.1)
    finally:
        client.logout()


def check(db_url: str, delivered: dict[str, EmailMessage], sink: SmtpSink, *, seed: int, kills: int,
          workers: int, elapsed: float, settle: float, phases: dict[str, int], failures: list[str],
          log_dir: Path) -> CrashReport:
    """Compares the database, what the sink received and the workers' logs with what was DELIVERED."""
    with read_session(db_url) as s:
        inbound = s.execute(select(Message.message_id,
                                   Message.item_id).where(Message.direction == "in")).all()
        items = {i.id: i for i in s.scalars(select(Item))}
        outbox = s.execute(select(OutboxMail.item_id, OutboxMail.status, OutboxMail.kind)).all()

    msg_item = {mid: item_id for mid, item_id in inbound}
    missing = sorted(set(delivered) - set(msg_item))
    unexpected = sorted(set(msg_item) - set(delivered))
    without_item = sorted(mid for mid in delivered if mid in msg_item and msg_item[mid] is None)
    per_item = Counter(item_id for mid, item_id in msg_item.items() if mid in delivered
                       and item_id is not None)
    shared = sum(1 for c in per_item.values() if c > 1)
    orphans = sum(1 for item_id in items if item_id not in per_item)
    sent_acks = Counter(item_id for item_id, status,
                        kind in outbox if kind == "acknowledgment" and status == "sent")
    unacked = sorted(i.ref or str(i.id) for i in items.values() if i.acknowledged_at is None)
    no_sent_ack = sorted(i.ref or str(i.id) for i in items.values() if sent_acks[i.id] != 1)

    ref_of = {mid: items[item_id].ref for mid, item_id in msg_item.items() if item_id in items}
    received = sink.messages
    per_msg: Counter[str] = Counter()
    ack_ids: dict[str, set[str]] = {}
    stray = wrong_ref = 0
    for r in received:
        ack = message_from_bytes(r.raw, policy=default_policy)
        mid = str(ack.get("In-Reply-To", "")).strip()
        if mid not in delivered:
            stray += 1
            continue
        per_msg[mid] += 1
        ack_ids.setdefault(mid, set()).add(str(ack.get("Message-ID", "")))
        if not str(ack.get("Subject", "")).endswith(f"[{ref_of.get(mid)}]"):
            wrong_ref += 1
    return CrashReport(
        seed=seed, messages=len(delivered), kills=kills, elapsed=elapsed, settle_seconds=settle,
        inbound_rows=len(inbound), missing_messages=missing, unexpected_messages=unexpected, items=len(items),
        messages_without_item=without_item, shared_items=shared, orphan_items=orphans,
        unacknowledged_items=unacked, items_without_sent_ack=no_sent_ack, outbox_rows=len(outbox),
        acks_received=len(received), acks_lost=sorted(mid for mid in delivered if not per_msg[mid]),
        duplicate_acks=sum(c - 1 for c in per_msg.values() if c > 1),
        differing_acks=sum(1 for ids in ack_ids.values() if len(ids) > 1), stray_acks=stray,
        wrong_ref_acks=wrong_ref,
        kill_phases=phases, worker_failures=failures, workers=workers, log_dir=str(log_dir),
        sent_twice=sorted(ref for ref, c in _sent_refs(log_dir).items() if c > 1),
    )
