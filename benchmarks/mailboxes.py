"""Many mailboxes: the same backlog drained by 1 and by 2 workers on PostgreSQL, and the takeover after
SIGKILL."""
from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import machine, scratch_schema
from db.engine import read_session
from db.leases import owners as lease_owners
from db.types import utcnow
from deploy.mailserver import Dovecot
from deploy.smtp_sink import SmtpSink
from tests.integration.conftest import MAILBOX_PASSWORD, write_mailboxes_config
from tests.mailgen import STYLES, client_email, corpus_texts

PG_URL = os.environ.get("INTAKE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
_TS = re.compile(r"^ts=(\S+) .*?\bevent=connected\b", re.M)


def fill(dovecot: Dovecot, names: list[str], per_box: int) -> None:
    """Appends PER_BOX client emails to each mailbox (one IMAP login per mailbox)."""
    texts = corpus_texts("train")
    n = 0
    for name in names:
        client = dovecot.login(name)
        try:
            for _ in range(per_box):
                t = texts[n % len(texts)]
                email = client_email(n, t["subject"], t["body"], t["lang"], STYLES[n % len(STYLES)],
                                     domain=f"c{n % 37}.example", msgid=f"<bench-{n}@client.example>")
                client.append("INBOX", bytes(email))
                n += 1
        finally:
            client.logout()


def owners(url: str) -> dict[str, str]:
    """The current owner of each unexpired lease."""
    with read_session(url) as s:
        return lease_owners(s, utcnow())


def first_connection(log: Path, started: float) -> float | None:
    """Seconds from STARTED (wall clock) to the worker's first IMAP connection, read from its log."""
    m = _TS.search(log.read_text(errors="replace"))
    if not m:
        return None
    return datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp() - started


def start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "intake", "--config", str(config), "run"],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out)


def serving(log: Path) -> set[str]:
    now: set[str] = set()
    for event, box in re.findall(r"event=(serving|stopped_serving) mailbox=(\S+)",
                                 log.read_text(errors="replace")):
        (now.add if event == "serving" else now.discard)(box)
    return now


def run_round(workdir: Path, dovecot: Dovecot, sink: SmtpSink, names: list[str], total: int, workers: int,
              db: str, timeout: float) -> None:
    """Drains the backlog with WORKERS processes on a fresh schema; with two, kills one and times the
    takeover."""
    with scratch_schema(db) as url:
        config = write_mailboxes_config(workdir / f"intake-{workers}.toml", url, dovecot, sink, names)
        subprocess.run([sys.executable, "-m", "intake", "--config", str(config), "db", "upgrade"], check=True,
                       capture_output=True)
        sink.clear()
        logs = [workdir / f"round{workers}-worker{i}.log" for i in range(workers)]
        began = time.time()
        procs = [start(config, log) for log in logs]
        try:
            sink.wait_for(total, timeout=timeout)
            drained = time.time() - began
            starts = [first_connection(log, began) for log in logs]
            print(f"{workers} worker(s): {total} emails in {len(names)} mailboxes drained in {drained:.1f}s: "
                  f"{total / drained:.1f} emails/s (process start and model load included); "
                  f"first IMAP connection {', '.join(f'{s:.2f}s' if s is not None else '-' for s in starts)} "
                  f"after start", flush=True)
            if workers < 2:
                return
            held = owners(url)
            per = sorted(sum(1 for o in held.values() if o == w) for w in set(held.values()))
            print(f"  leases at the end: {len(held)} mailboxes, split {per}", flush=True)
            victim = next(i for i, log in enumerate(logs) if names[0] in serving(log))
            survivor = 1 - victim
            killed = time.monotonic()
            procs[victim].send_signal(signal.SIGKILL)
            procs[victim].wait()
            while time.monotonic() - killed < 120:
                if len(set(owners(url).values())) == 1 and serving(logs[survivor]) == set(names):
                    break
                time.sleep(0.1)
            took = time.monotonic() - killed
            dovecot.deliver(names[0], bytes(client_email(total, "After the takeover", "Is the export fixed?",
                                                         "en",
                                                         msgid="<bench-after-kill@client.example>")))
            sink.wait_for(total + 1, timeout=60)
            answered = time.monotonic() - killed
            print(f"  SIGKILL of one worker: the other serves all {len(names)} mailboxes after {took:.1f}s; "
                  f"an email delivered then to a taken-over mailbox was acknowledged {answered - took:.1f}s "
                  "later",
                  flush=True)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs:
                p.wait(timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mailboxes", type=int, default=100)
    parser.add_argument("--emails", type=int, default=100, help="emails per mailbox")
    parser.add_argument("--db", default=PG_URL, help="PostgreSQL URL (a scratch schema is made and dropped)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds one drain may take")
    args = parser.parse_args()
    names = [f"box{i:03d}" for i in range(args.mailboxes)]
    total = args.mailboxes * args.emails
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        dovecot = Dovecot(workdir / "dovecot", {n: MAILBOX_PASSWORD for n in names})
        sink = SmtpSink()
        dovecot.start()
        sink.start()
        try:
            print(f"machine: {machine()}", flush=True)
            filled = time.monotonic()
            fill(dovecot, names, args.emails)
            print(f"{total} emails appended to {args.mailboxes} mailboxes in "
                  f"{time.monotonic() - filled:.1f}s",
                  flush=True)
            for workers in (1, 2):
                run_round(workdir, dovecot, sink, names, total, workers, args.db, args.timeout)
        finally:
            sink.stop()
            dovecot.stop()


if __name__ == "__main__":
    main()
