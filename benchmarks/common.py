"""Shared setup for benchmarks: a private Dovecot, an SMTP sink and a migrated database with a config."""
from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path

from benchmarks.lmtp import LmtpDovecot
from db.engine import make_engine
from deploy.mailserver import Dovecot
from deploy.smtp_sink import Received, SmtpSink
from tests.integration.conftest import MAILBOX_PASSWORD, MAILBOX_USER, write_config


class TimedSink(SmtpSink):
    """The SMTP sink, also noting when each message arrived (time.monotonic())."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.arrivals: list[float] = []
        self._replies: dict[str, float] = {}
        self._parsed = 0

    def _record(self, message: Received) -> None:
        with self._arrived:  # a reentrant lock: the parent takes it again
            self.arrivals.append(time.monotonic())
            super()._record(message)

    def clear(self) -> None:
        with self._arrived:
            self.arrivals.clear()
            self._replies.clear()
            self._parsed = 0
            super().clear()

    def replies(self) -> dict[str, float]:
        """For each In-Reply-To seen, when the first message answering it arrived."""
        with self._arrived:
            timed = list(zip(self.arrivals[self._parsed:], self._messages[self._parsed:], strict=False))
            self._parsed += len(timed)
        # Parsed once each, outside the lock: the benchmarks ask while the server is still receiving.
        parser = BytesHeaderParser(policy=default_policy)
        for at, message in timed:
            target = str(parser.parsebytes(message.raw, headersonly=True).get("In-Reply-To", "")).strip()
            if target:
                self._replies.setdefault(target, at)
        return dict(self._replies)


@dataclass
class Rig:
    """The servers and the config file of one benchmark run."""

    dovecot: Dovecot
    sink: TimedSink
    config: Path

    def intake(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "intake", "--log-level", "warning", "--config", str(self.config), *args]


@contextmanager
def scratch_schema(url: str) -> Iterator[str]:
    """For a PostgreSQL URL, a fresh schema on that database, dropped afterwards; other URLs pass through."""
    if not url.startswith("postgresql"):
        yield url
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@contextmanager
def rig(workdir: Path, db_url: str | None = None, lmtp: bool = False) -> Iterator[Rig]:
    """Starts Dovecot (with LMTP if asked) and the sink in WORKDIR, writes a config for DB_URL (default
    SQLite)."""
    workdir.mkdir(parents=True, exist_ok=True)
    with scratch_schema(db_url
                        or f"sqlite:///{workdir / 'intake.db'}") as url, _servers(workdir, url, lmtp) as r:
        yield r


@contextmanager
def _servers(workdir: Path, url: str, lmtp: bool) -> Iterator[Rig]:
    dovecot = (LmtpDovecot if lmtp else Dovecot)(workdir / "dovecot", {MAILBOX_USER: MAILBOX_PASSWORD})
    sink = TimedSink()
    dovecot.start()
    sink.start()
    try:
        yield Rig(dovecot, sink, write_config(workdir / "intake.toml", url, dovecot, sink))
    finally:
        sink.stop()
        dovecot.stop()


@dataclass
class Measured:
    """One timed process: when it started and exited (time.monotonic()), its exit code, CPU and memory
    peaks."""

    started: float
    exited: float
    returncode: int
    peaks_mib: tuple[float, ...]  # each process's own peak (VmHWM), the command's process first
    cpu_seconds: float
    stderr: str


def _tree(pid: int) -> list[int]:
    """PID and its living descendants."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    ppid = int(f.read().rpartition(b")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(parents.get(p, []))
    return out


def _hwm_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_measured(cmd: Sequence[str], timeout: float, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> Measured:
    """Runs CMD to its end, reading each of its processes' memory peak (VmHWM) while it runs.

    wait4's ru_maxrss is not used: a process started from this one inherits this process's peak across exec,
    and a benchmark that holds its whole backlog in memory would report that instead of the program's.
    """
    peaks: dict[int, float] = {}
    with tempfile.TemporaryFile() as err:
        started = time.monotonic()
        proc = subprocess.Popen(list(cmd), stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=cwd)
        polls = 0
        while True:
            # every 0.1 s: the peak is a high-water mark, so only the last moments can be missed
            if polls % 5 == 0:
                for p in _tree(proc.pid):
                    peaks[p] = max(peaks.get(p, 0.0), _hwm_mib(p))
            polls += 1
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > timeout:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        exited = time.monotonic()
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    own = (peaks.pop(proc.pid, 0.0),)
    each = own + tuple(sorted((v for v in peaks.values() if v), reverse=True))
    return Measured(started, exited, proc.returncode, each, usage.ru_utime + usage.ru_stime, stderr)


def await_replies(sink: TimedSink, ids: set[str], timeout: float) -> dict[str, float]:
    """Waits until the sink holds an answer to each of IDS (or TIMEOUT passes); their arrival times by
    Message-ID."""
    deadline = time.monotonic() + timeout
    while True:
        got = {k: v for k, v in sink.replies().items() if k in ids}
        if len(got) >= len(ids) or time.monotonic() > deadline:
            return got
        time.sleep(0.5)


def percentile(values: Sequence[float], q: float) -> float:
    """The Q-quantile (0..1) of VALUES, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summary(values: list[float], unit: str = "s") -> str:
    """p50 / p90 / max of VALUES."""
    if not values:
        return "no samples"
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return (f"n={len(values)} p50={statistics.median(ordered):.3f}{unit} p90={p90:.3f}{unit} "
            f"max={ordered[-1]:.3f}{unit} mean={statistics.fmean(ordered):.3f}{unit}")


def machine() -> str:
    """A one-line description of this machine."""
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {sys.version.split()[0]}"


def load() -> str:
    """The load averages: on a shared machine, other work's share shows here."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"


def one_core() -> None:
    """Pins this process to one CPU, so speed figures mean "per core"."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def rates(read: Callable[[Sequence[object]], object], items: Sequence[object], runs: int = 1) -> list[float]:
    """Items per second READ takes over ITEMS, for each of RUNS runs, after a warm-up read of a few."""
    read(items[:50])
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        read(items)
        out.append(len(items) / (time.perf_counter() - start))
    return out


def dir_size(path: Path) -> int:
    """Bytes of every file under PATH."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
