"""Drains a large varied backlog with one `intake run --once`: emails/s until every acknowledgment arrived,
peak RSS."""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.backlog_mail import Backlog, build_backlog
from benchmarks.common import TimedSink, await_replies, load, machine, rig, run_measured
from benchmarks.maildir import fill_maildir
from tests.integration.conftest import MAILBOX_USER


@dataclass
class Drain:
    """One timed drain: seconds from process start to the last acknowledgment and to the exit, and what
    arrived."""

    count: int
    expected: int
    acks: int
    at_sink: int
    done: float
    exited: float
    peaks_mib: tuple[float, ...]
    cpu_seconds: float
    returncode: int
    stderr: str

    @property
    def rate(self) -> float:
        """Emails per second until every acknowledgment arrived."""
        return self.count / self.done

    def describe(self, who: str) -> str:
        """A few lines for the report."""
        lines = []
        if self.returncode != 0:
            lines.append(f"{who} exited with {self.returncode}: {self.stderr.strip().splitlines()[-1:]}")
        if self.acks < self.expected:
            lines.append(f"only {self.acks} of {self.expected} acknowledgments arrived")
        lines.append(f"{who}: {self.count} emails, last acknowledgment {self.done:.1f}s after process start "
                     f"(process start and model load included): {self.rate:.1f} emails/s; {self.acks} "
                     f"acknowledgments ({self.at_sink} messages at the sink); process exited after "
                     f"{self.exited:.1f}s")
        lines.append(f"{who}: peak RSS {' + '.join(f'{p:.0f}' for p in self.peaks_mib)} MiB (the worker, "
                     f"then the processes it started); CPU {self.cpu_seconds:.1f}s "
                     f"({self.count / self.cpu_seconds:.1f} emails per CPU-second of that process)")
        return "\n".join(lines)


def timed_drain(cmd: Sequence[str], sink: TimedSink, backlog: Backlog, timeout: float,
                env: dict[str, str] | None = None) -> Drain:
    """Runs CMD over BACKLOG (already in its mailbox), timed from process start until each new request's ack
    arrived."""
    expected = backlog.acknowledged_ids
    sink.clear()
    run = run_measured(cmd, timeout=timeout, env=env)
    # Both programs send before they exit; the wait only covers a sink still reading the last ones.
    acks = await_replies(sink, expected, timeout=10)
    done = max(acks.values(), default=run.exited) - run.started
    return Drain(len(backlog.raws), len(expected), len(acks), len(sink.messages), done,
                 run.exited - run.started,
                 run.peaks_mib, run.cpu_seconds, run.returncode, run.stderr)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--db",
                        help="database URL (default: SQLite in a temp dir); PostgreSQL gets a scratch schema")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--attachments", type=float, default=0.10,
                        help="share of emails with binary attachments")
    parser.add_argument("--follow-ups", type=float, default=0.10,
                        help="share of emails answering an earlier one")
    parser.add_argument("--timeout", type=float, default=3600, help="longest the drain may take, in seconds")
    args = parser.parse_args(argv)
    t0 = time.monotonic()
    backlog = build_backlog(args.count, args.seed, args.attachments, args.follow_ups)
    print(f"backlog built in {time.monotonic() - t0:.0f}s: {backlog.describe()}", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory() as tmp, rig(Path(tmp), args.db) as r:
        t0 = time.monotonic()
        fill_maildir(r.dovecot, MAILBOX_USER, backlog.raws, backlog.chunk)
        print(f"mailbox filled in {time.monotonic() - t0:.0f}s", file=sys.stderr, flush=True)
        upgrade = run_measured(r.intake("db", "upgrade"), timeout=600)
        if upgrade.returncode != 0:
            sys.exit(f"intake db upgrade failed: {upgrade.stderr.strip()}")
        result = timed_drain(r.intake("run", "--once"), r.sink, backlog, args.timeout)
    print(f"machine: {machine()}; {load()} at the end")
    print(f"database: {'SQLite' if not args.db else args.db.split(':')[0]}")
    print(f"backlog: {backlog.describe()}")
    print(result.describe("intake run --once"))


if __name__ == "__main__":
    main()
