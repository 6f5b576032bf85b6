"""Measures delivery into the mailbox -> acknowledgment arriving at the SMTP server, `intake run` on IDLE.

Two modes: one email at a time (default), or a steady load (`--rate 50 --seconds 60`) delivered over Dovecot's
LMTP.
"""
from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.backlog_mail import build_backlog
from benchmarks.common import Rig, await_replies, load, machine, percentile, rig, summary
from benchmarks.lmtp import LmtpDovecot, deliver_paced
from tests.integration.conftest import MAILBOX_USER
from tests.mailgen import client_batch


def one_by_one(r: Rig, count: int) -> str:
    """COUNT emails, each delivered once the previous one was acknowledged."""
    latencies = []
    for n, mail in enumerate(client_batch(count), 1):
        start = time.monotonic()
        r.dovecot.deliver("support", bytes(mail))
        r.sink.wait_for(n, timeout=60)
        latencies.append(time.monotonic() - start)
        time.sleep(0.2)
    return f"delivery -> acknowledgment received: {summary(latencies)}"


def steady(r: Rig, rate: float, seconds: float, seed: int, settle: float) -> str:
    """RATE emails/s for SECONDS over LMTP; each acknowledgment matched to its email by In-Reply-To."""
    # New requests only: follow-ups are not acknowledged, so they would have no latency to measure.
    backlog = build_backlog(int(rate * seconds), seed, follow_ups=0.0)
    # One email first, so the clock starts with the model loaded and the worker on IDLE.
    r.dovecot.deliver(MAILBOX_USER, bytes(client_batch(1)[0]))
    r.sink.wait_for(1, timeout=120)
    r.sink.clear()
    delivered: dict[str, float] = {}
    assert isinstance(r.dovecot, LmtpDovecot)
    achieved = deliver_paced(r.dovecot, MAILBOX_USER, backlog.raws, rate,
                             lambda i, at: delivered.__setitem__(backlog.message_ids[i], at))
    acks = await_replies(r.sink, set(delivered), timeout=settle)
    latencies = [acks[m] - delivered[m] for m in delivered if m in acks]
    lines = [f"load: {backlog.describe()}",
             f"delivered over LMTP at {achieved:.1f} emails/s (asked {rate:g}/s for {seconds:g}s)",
             f"acknowledged: {len(acks)} of {len(delivered)}"]
    if latencies:
        lines.append(f"delivery -> acknowledgment received: p50 {percentile(latencies, 0.5):.2f}s, "
                     f"p99 {percentile(latencies, 0.99):.2f}s, max {max(latencies):.2f}s")
        # Whether the worker kept up: a backlog that grows shows as latency rising along the run.
        by_order = [acks[m] - delivered[m] for m in backlog.message_ids if m in acks]
        tenth = max(1, len(by_order) // 10)
        lines.append(f"p50 in the first tenth of the run {percentile(by_order[:tenth], 0.5):.2f}s, "
                     f"in the last tenth {percentile(by_order[-tenth:], 0.5):.2f}s")
        span = max(acks.values()) - min(delivered.values())
        lines.append(f"worker throughput: {len(acks) / span:.1f} emails/s from the first delivery to the "
                     f"last acknowledgment ({span:.1f}s)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20, help="emails delivered one at a time")
    parser.add_argument("--rate", type=float,
                        help="steady load: emails per second over LMTP (instead of one by one)")
    parser.add_argument("--seconds", type=float, default=60, help="steady load: how long to deliver")
    parser.add_argument("--settle", type=float, default=600,
                        help="steady load: longest wait for the last acks")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db",
                        help="database URL (default: SQLite in a temp dir); PostgreSQL gets a scratch schema")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, rig(Path(tmp), args.db, lmtp=args.rate is not None) as r:
        subprocess.run(r.intake("db", "upgrade"), check=True, capture_output=True)
        worker = subprocess.Popen(r.intake("run"))
        try:
            time.sleep(3)  # let the worker connect and enter IDLE
            result = (steady(r, args.rate, args.seconds, args.seed, args.settle) if args.rate
                      else one_by_one(r, args.count))
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    print(f"machine: {machine()}; {load()} at the end")
    print(f"database: {'SQLite' if not args.db else args.db.split(':')[0]}")
    print(result)


if __name__ == "__main__":
    main()
