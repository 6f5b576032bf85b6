"""Shared setup for benchmarks: a private Dovecot, an SMTP sink and a migrated database with a config."""
from __future__ import annotations

import os
import statistics
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from db.engine import make_engine
from deploy.mailserver import Dovecot
from deploy.smtp_sink import SmtpSink
from tests.integration.conftest import MAILBOX_PASSWORD, MAILBOX_USER, write_config


@dataclass
class Rig:
    """The servers and the config file of one benchmark run."""

    dovecot: Dovecot
    sink: SmtpSink
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
def rig(workdir: Path, db_url: str | None = None) -> Iterator[Rig]:
    """Starts Dovecot and the sink in WORKDIR and writes a config for DB_URL (SQLite in WORKDIR by default)."""
    workdir.mkdir(parents=True, exist_ok=True)
    with scratch_schema(db_url or f"sqlite:///{workdir / 'intake.db'}") as url, _servers(workdir, url) as r:
        yield r


@contextmanager
def _servers(workdir: Path, url: str) -> Iterator[Rig]:
    dovecot = Dovecot(workdir / "dovecot", {MAILBOX_USER: MAILBOX_PASSWORD})
    sink = SmtpSink()
    dovecot.start()
    sink.start()
    try:
        yield Rig(dovecot, sink, write_config(workdir / "intake.toml", url, dovecot, sink))
    finally:
        sink.stop()
        dovecot.stop()


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


def one_core() -> None:
    """Pins this process to one CPU, so speed figures mean "per core"."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def dir_size(path: Path) -> int:
    """Bytes of every file under PATH."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
