"""Workers share mailboxes through leases: each mailbox served by one worker, taken over when that one is
killed."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.engine import read_session
from db.leases import owners as lease_owners
from db.models import Item, Message, OutboxMail, WorkerPresence
from db.types import utcnow
from deploy.mailserver import Dovecot
from tests.integration.conftest import MAILBOX_PASSWORD, intake_command, run_intake, write_mailboxes_config
from tests.mailgen import client_email
from tests.polling import WAIT, wait_until

pytestmark = pytest.mark.integration

BOXES = ["box0", "box1", "box2", "box3"]
# The requirement is 30 s (a 15 s lease, a 5 s heartbeat, and the rest); benchmarks.mailboxes measures it.
# Here it is a bound on a loaded test machine, twice that, so that the test catches a takeover that never
# comes or waits for something else, not a slow moment.
TAKEOVER_SECONDS = 60.0


@pytest.fixture
def boxes_dovecot(tmp_path) -> Iterator[Dovecot]:
    server = Dovecot(tmp_path / "dovecot", {n: MAILBOX_PASSWORD for n in [*BOXES, "box4"]})
    server.start()
    yield server
    server.stop()


class Delivery:
    """Delivers numbered client emails to the mailboxes and remembers their Message-IDs."""

    def __init__(self, dovecot: Dovecot) -> None:
        self.dovecot = dovecot
        self.sent: list[str] = []

    def to(self, box: str) -> None:
        n = len(self.sent)
        msgid = f"<shared-{n}@client.example>"
        self.dovecot.deliver(box, bytes(client_email(n, f"Question {n} for {box}",
                                                     "When is the next release?",
                                                     "en", msgid=msgid)))
        self.sent.append(msgid)


def start(cfg: Path, log: Path, *args: str, **kwargs) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(intake_command(cfg, "--log-level", "info", "run", *args),
                                stdin=subprocess.DEVNULL,
                                stdout=out, stderr=out, **kwargs)


def acks_recorded(db_url: str) -> bool:
    """Whether every acknowledgment the sink may have is recorded as handed over: no send in flight."""
    with read_session(db_url) as s:
        return not s.scalar(select(func.count(OutboxMail.id)).where(OutboxMail.status == "pending"))


def owners(db_url: str) -> dict[str, str]:
    """The current (unexpired) owner of each leased mailbox."""
    with read_session(db_url) as s:
        return lease_owners(s, utcnow())


def serving_from_log(log: Path) -> set[str]:
    """The mailboxes a worker's log says it serves now."""
    now: set[str] = set()
    for event, box in re.findall(r"event=(serving|stopped_serving) mailbox=(\S+)",
                                 log.read_text(errors="replace")):
        (now.add if event == "serving" else now.discard)(box)
    return now


def check_database(db_url: str, sent: list[str], sink) -> None:
    """Every delivered message stored once with its own item, acknowledged exactly once."""
    with read_session(db_url) as s:
        inbound = Counter(s.scalars(select(Message.message_id).where(Message.direction == "in")))
        items = s.scalar(select(func.count(Item.id)))
        acks = s.scalars(select(OutboxMail.status).where(OutboxMail.kind == "acknowledgment")).all()
    assert inbound == Counter(sent)
    assert items == len(sent)
    assert acks == ["sent"] * len(sent)
    replies = Counter(str(message_from_bytes(m.raw)["In-Reply-To"]).strip() for m in sink.messages)
    assert replies == Counter(sent)


def test_two_workers_split_the_mailboxes_and_take_over_from_a_frozen_or_killed_one(
        pg_url, boxes_dovecot, smtp_sink, tmp_path):
    """A frozen worker (SIGSTOP: alive but silent, as one on another host looks) loses its mailboxes when its
    leases expire and, woken, stops serving them; a killed one (SIGKILL) loses them at once."""
    cfg = write_mailboxes_config(tmp_path / "intake.toml", pg_url, boxes_dovecot, smtp_sink, BOXES)
    upgraded = run_intake(cfg, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    mail = Delivery(boxes_dovecot)
    for box in BOXES * 2:
        mail.to(box)
    logs = [tmp_path / "worker-0.log", tmp_path / "worker-1.log"]
    workers = [start(cfg, logs[0]), start(cfg, logs[1])]

    def split() -> bool:
        """Two mailboxes each, each worker serving what it leases, one IMAP connection per mailbox."""
        held, served = owners(pg_url), [serving_from_log(log) for log in logs]
        return (sorted(held) == BOXES and sorted(Counter(held.values()).values()) == [2, 2] and
                not served[0] & served[1] and served[0] | served[1] == set(BOXES) and
                boxes_dovecot.sessions() == {box: 1 for box in BOXES})

    def all_served_by(i: int) -> bool:
        return len(set(owners(pg_url).values())) == 1 and serving_from_log(logs[i]) == set(BOXES)

    try:
        wait_until(split, what="the two workers serve two mailboxes each")
        smtp_sink.wait_for(len(mail.sent), timeout=WAIT)
        wait_until(lambda: acks_recorded(pg_url), what="the acknowledgments recorded")  # as before the kill

        frozen = next(i for i, log in enumerate(logs) if "box0" in serving_from_log(log))
        its_boxes = serving_from_log(logs[frozen])
        os.kill(workers[frozen].pid, signal.SIGSTOP)
        for box in sorted(its_boxes):
            mail.to(box)  # announced to the frozen worker's IDLE too: it must not process them when it wakes
        took = wait_until(lambda: all_served_by(1 - frozen), what="the other worker serves every mailbox")
        print(f"takeover from a frozen worker: {took:.1f}s")
        assert took <= TAKEOVER_SECONDS, f"took over after {took:.1f}s"
        smtp_sink.wait_for(len(mail.sent), timeout=WAIT)
        woken_at = len(logs[frozen].read_text(errors="replace"))
        os.kill(workers[frozen].pid, signal.SIGCONT)
        wait_until(split, what="the woken worker gets its share back")
        after = logs[frozen].read_text(errors="replace")[woken_at:]
        assert all(f"event=lease_lost mailbox={box}" in after for box in its_boxes), after

        for box in BOXES:
            mail.to(box)
        smtp_sink.wait_for(len(mail.sent), timeout=WAIT)
        # The kill is meant for a worker between sends: one killed after the SMTP server took a message and
        # before its record sends that message again by design (benchmarks.crash_drain counts those).
        wait_until(lambda: acks_recorded(pg_url), what="the last acknowledgment recorded")
        victim = next(i for i, log in enumerate(logs) if "box0" in serving_from_log(log))
        workers[victim].send_signal(signal.SIGKILL)
        workers[victim].wait(timeout=30)
        took = wait_until(lambda: all_served_by(1 - victim)
                          and boxes_dovecot.sessions() == {b: 1 for b in BOXES},
                          what="the survivor serves every mailbox")
        print(f"takeover from a killed worker: {took:.1f}s")
        assert took <= TAKEOVER_SECONDS, f"took over after {took:.1f}s"
        for box in BOXES:
            mail.to(box)
        smtp_sink.wait_for(len(mail.sent), timeout=WAIT)
        time.sleep(1.0)  # a duplicate acknowledgment on its way would arrive now
    finally:
        for w in workers:
            if w.poll() is None:
                os.kill(w.pid, signal.SIGCONT)
                w.send_signal(signal.SIGTERM)
        codes = [w.wait(timeout=60) for w in workers]
    survivor = 1 - victim
    assert codes[survivor] == 0, logs[survivor].read_text()
    text = logs[survivor].read_text()
    assert "event=worker_stopped" in text and "Traceback" not in text
    check_database(pg_url, mail.sent, smtp_sink)
    assert owners(pg_url) == {}  # the survivor released its leases on the way out


def test_processes_share_mailboxes_reload_on_sighup_and_stop_on_ctrl_c(sqlite_url, boxes_dovecot, smtp_sink,
                                                                        tmp_path):
    """`intake run --processes 2` on SQLite: two processes split the mailboxes; SIGHUP adds one; Ctrl-C stops
    all."""
    cfg = write_mailboxes_config(tmp_path / "intake.toml", sqlite_url, boxes_dovecot, smtp_sink, BOXES[:2])
    assert run_intake(cfg, "db", "upgrade").returncode == 0
    log = tmp_path / "run.log"
    # Its own session, like a shell's job: Ctrl-C reaches the whole process group.
    proc = start(cfg, log, "--processes", "2", start_new_session=True)
    mail = Delivery(boxes_dovecot)
    try:
        wait_until(lambda: sorted(owners(sqlite_url)) == BOXES[:2]
                   and len(set(owners(sqlite_url).values())) == 2,
                   what="each process holds one mailbox")
        for box in BOXES[:2]:
            mail.to(box)
        smtp_sink.wait_for(2, timeout=WAIT)
        write_mailboxes_config(cfg, sqlite_url, boxes_dovecot, smtp_sink, BOXES[:3])
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "box2" in owners(sqlite_url), what="the added mailbox is served after SIGHUP")
        mail.to("box2")
        smtp_sink.wait_for(3, timeout=WAIT)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(timeout=90)
    text = log.read_text()
    assert code == 0, text
    assert text.count("event=worker_stopped") == 2 and "Traceback" not in text
    assert owners(sqlite_url) == {}
    with read_session(sqlite_url) as s:
        assert s.scalar(select(func.count()).select_from(WorkerPresence)) == 0
    check_database(sqlite_url, mail.sent, smtp_sink)
