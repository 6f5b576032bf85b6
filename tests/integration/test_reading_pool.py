"""A drain reads and classifies its mail in the reading processes; the worker reads mail itself only when they
fail."""
from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from sqlalchemy import func, select

from cli.serve import build_worker
from cli.shell import open_factory
from db.models import Item, Message
from intake.config import load_config
from intake.worker import Worker
from tests.integration.conftest import MAILBOX_USER, run_intake
from tests.mailgen import client_email

pytestmark = pytest.mark.integration

COUNT = 120  # three batches of 50, 50 and 20


def fill(dovecot) -> None:
    for n in range(1, COUNT + 1):
        lang = "zh" if n % 3 == 0 else "en"
        text = ("系统登录后页面报错，无法保存订单。" if lang == "zh"
                else "The export button fails since Monday.")
        mail = client_email(n, f"Request {n}", text, lang, msgid=f"<pool-{n}@c.example>")
        dovecot.deliver(MAILBOX_USER, bytes(mail))


def drained(sqlite_url, dovecot, config_for):
    path = config_for(sqlite_url)
    assert run_intake(path, "db", "upgrade").returncode == 0
    fill(dovecot)
    cfg = load_config(path)
    assert cfg.classifier.processes == 1
    factory = open_factory(cfg)
    worker, loading = build_worker(cfg, factory, threading.Event(), str(path), once=True)
    return worker, loading, factory


def counts(factory) -> tuple[int, int, int]:
    with factory() as session:
        return (session.scalar(select(func.count(Item.id))),
                session.scalar(select(func.count(Message.id)).where(Message.direction == "in")),
                session.scalar(select(func.count(func.distinct(Message.uid)))
                               .where(Message.direction == "in")))


def test_a_drain_reads_every_batch_in_the_pool_and_never_loads_the_model_itself(sqlite_url, dovecot,
                                                                                smtp_sink,
                                                                                 config_for):
    worker, loading, factory = drained(sqlite_url, dovecot, config_for)
    stats = worker.run_once()
    assert stats.new_items == COUNT and not stats.errors
    assert counts(factory) == (COUNT, COUNT, COUNT)
    assert len(smtp_sink.wait_for(COUNT, timeout=60)) == COUNT
    # Classified in the pool: the worker's own copy of the model was never asked for, so never loaded.
    assert not worker.model_wanted.is_set() and not loading.done()
    with factory() as session:
        assert set(session.scalars(select(Item.lang))) == {"en", "zh"}
        assert session.scalar(select(func.count(Item.id)).where(Item.model_version == "")) == 0


def test_when_the_reading_process_dies_the_worker_reads_the_rest_itself_and_stores_each_message_once(
        sqlite_url, dovecot, smtp_sink, config_for, monkeypatch):
    worker, loading, factory = drained(sqlite_url, dovecot, config_for)
    store = Worker._store
    killed: list[int] = []

    def store_after_killing(self: Worker, client, batch, reading):
        if not killed and self.pool is not None and self.pool._pool is not None:
            reading.result(timeout=120)  # the first batch was read there; now its process dies
            for pid in list(self.pool._pool._processes):  # type: ignore[union-attr]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        return store(self, client, batch, reading)

    monkeypatch.setattr(Worker, "_store", store_after_killing)
    stats = worker.run_once()
    assert killed
    assert stats.new_items == COUNT and not stats.errors
    assert counts(factory) == (COUNT, COUNT, COUNT)
    assert len(smtp_sink.wait_for(COUNT, timeout=60)) == COUNT
    assert worker.model_wanted.is_set() and loading.done() and loading.exception() is None


def test_a_drain_that_finds_no_mail_stops_its_reading_processes_without_waiting_for_the_model(sqlite_url,
                                                                                              config_for):
    """A drain starts its reading processes first; when it ends before they have loaded the model (an empty
    mailbox), it ends them instead of waiting for the load at exit."""
    from intake.prepare import PreparePool

    cfg = load_config(config_for(sqlite_url))
    pool = PreparePool(cfg, 1)
    processes = list(pool._pool._processes.values())  # type: ignore[union-attr]
    assert processes and not pool.ready
    pool.close()
    for process in processes:
        # The executor's own thread reaps its processes too; when it wins the race, join returns before
        # exitcode is set on the shared handle, so the exit code is waited for rather than read once.
        deadline = time.monotonic() + 30
        while process.exitcode is None and time.monotonic() < deadline:
            process.join(0.1)
        assert process.exitcode == -signal.SIGTERM


def _running(pid: int) -> bool:
    """Whether PID is a live process (a zombie waiting to be reaped counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_the_reading_processes_end_when_their_worker_is_killed(sqlite_url, config_for):
    """SIGKILL closes nothing: without a check of their own the reading processes would wait on the pool's
    queue forever, each holding a model in memory (a crash loop would pile them up)."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    code = ("import time; from intake.config import load_config; from intake.prepare import PreparePool; "
            f"pool = PreparePool(load_config({str(config_for(sqlite_url))!r}), 1); "
            "print(*[p.pid for p in pool._pool._processes.values()], flush=True); time.sleep(600)")
    worker = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=root,
                              env={**os.environ, "PYTHONPATH": str(root)})
    try:
        pids = [int(p) for p in worker.stdout.readline().split()]  # type: ignore[union-attr]
        assert pids and all(_running(p) for p in pids)
    finally:
        worker.kill()
        worker.wait()
    deadline = time.monotonic() + 60
    while any(_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_running(p) for p in pids)
