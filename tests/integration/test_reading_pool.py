"""A drain reads and classifies its mail in the reading processes; the worker reads mail itself only when they
fail."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cli.serve import build_worker
from cli.shell import open_factory
from db.models import Item, Message
from intake.config import load_config
from intake.worker import Worker
from tests.integration.conftest import MAILBOX_USER, intake_command, run_intake, write_config
from tests.mailgen import client_email
from tests.polling import wait_until
from tests.processes import children, running

pytestmark = pytest.mark.integration

COUNT = 120  # three batches of 50, 50 and 20


def attach_export(mail: EmailMessage, n: int, size: int) -> EmailMessage:
    """MAIL with SIZE random bytes attached as export-N.bin (slow enough to read to stop a drain midway)."""
    mail.add_attachment(os.urandom(size), maintype="application", subtype="octet-stream",
                        filename=f"export-{n}.bin")
    return mail


def fill(dovecot, attachment_bytes: int = 0) -> None:
    """COUNT client emails in the mailbox, each with ATTACHMENT_BYTES random bytes attached if given."""
    for n in range(1, COUNT + 1):
        lang = "zh" if n % 3 == 0 else "en"
        text = ("系统登录后页面报错，无法保存订单。" if lang == "zh"
                else "The export button fails since Monday.")
        mail = client_email(n, f"Request {n}", text, lang, msgid=f"<pool-{n}@c.example>")
        if attachment_bytes:
            attach_export(mail, n, attachment_bytes)
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


def test_closing_the_pool_midway_through_a_batch_ends_its_processes_and_its_thread(sqlite_url, config_for):
    """A stop while a batch is being read: the batch is dropped (the worker reads it again next time), and
    once close returns nothing of the pool runs, so Python's exit hook has no pipe to race with (on 3.11 it
    printed an EBADF traceback at the end of a clean stop when the executor's thread was still ending)."""
    from intake.prepare import PreparePool
    from intake.values import RawMail

    cfg = load_config(config_for(sqlite_url))
    pool = PreparePool(cfg, 1)
    wait_until(lambda: pool.ready, 120, "the reading process ready")
    raws = []
    for n in range(1, 41):
        mail = client_email(n, f"Export {n}", "The export fails.", "en", msgid=f"<close-{n}@c.example>")
        raws.append(RawMail("support", 1, n, bytes(attach_export(mail, n, 400_000))))
    processes = list(pool._pool._processes.values())  # type: ignore[union-attr]
    manager = pool._pool._executor_manager_thread  # type: ignore[union-attr]
    reading = pool.submit(raws)
    assert reading is not None and not reading.done()
    pool.close()
    assert not manager.is_alive()
    assert all(not process.is_alive() for process in processes)
    assert reading.done() and (reading.cancelled() or reading.exception() is not None)


def test_the_reading_processes_end_when_their_worker_is_killed(sqlite_url, config_for):
    """SIGKILL closes nothing: without a check of their own the reading processes would wait on the pool's
    queue forever, each holding a model in memory (a crash loop would pile them up)."""
    root = Path(__file__).resolve().parents[2]
    code = ("import time; from intake.config import load_config; from intake.prepare import PreparePool; "
            f"pool = PreparePool(load_config({str(config_for(sqlite_url))!r}), 1); "
            "print(*[p.pid for p in pool._pool._processes.values()], flush=True); time.sleep(600)")
    worker = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=root,
                              env={**os.environ, "PYTHONPATH": str(root)})
    try:
        pids = [int(p) for p in worker.stdout.readline().split()]  # type: ignore[union-attr]
        assert pids and all(running(p) for p in pids)
    finally:
        worker.kill()
        worker.wait()
    wait_until(lambda: not any(running(p) for p in pids), 60, "the reading processes ended")


def test_ctrl_c_stops_the_worker_and_its_reading_processes_quietly(sqlite_url, dovecot, smtp_sink, config_for,
                                                                    tmp_path):
    """Ctrl-C in a terminal reaches every process of the job, the reading processes too: the worker decides
    when they stop, so none dies with a KeyboardInterrupt mid-batch or is taken for a crash."""
    path = config_for(sqlite_url)
    assert run_intake(path, "db", "upgrade").returncode == 0
    fill(dovecot)
    log = tmp_path / "run.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(intake_command(path, "--log-level", "info", "run"), stdin=subprocess.DEVNULL,
                                stdout=out, stderr=out, start_new_session=True)
    factory = open_factory(load_config(path))
    try:
        wait_until(lambda: counts(factory)[0] == COUNT, 120, "the backlog stored")
        readers = [p for p in children(proc.pid) if running(p)]
        assert readers, "the backlog was read in reading processes"
        smtp_sink.wait_for(COUNT, timeout=60)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(timeout=90)
    text = log.read_text()
    assert code == 0, text
    assert "event=worker_stopped" in text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
    assert "prepare_process_died" not in text, text
    wait_until(lambda: not any(running(p) for p in readers), 30, "the reading processes ended")


def test_a_signal_ends_a_drain_after_the_batch_in_hand_and_the_next_run_reads_the_rest(sqlite_url, dovecot,
                                                                                          smtp_sink,
                                                                                          tmp_path):
    """`intake run --once` stopped by SIGTERM (a cron job's timeout) or Ctrl-C: the batch in hand is stored
    and acknowledged, the exit code says the drain is incomplete, and the next run reads the rest, once
    each."""
    path = write_config(tmp_path / "intake.toml", sqlite_url, dovecot, smtp_sink,
                        mailbox_extra="batch_size = 5\n")
    assert run_intake(path, "db", "upgrade").returncode == 0
    fill(dovecot, attachment_bytes=400_000)  # a drain of a second or two: long enough to stop midway
    factory = open_factory(load_config(path))
    drain = subprocess.Popen(intake_command(path, "run", "--once"), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: counts(factory)[0] > 0 or drain.poll() is not None, 120, "a first batch stored",
               every=0.02)
    drain.send_signal(signal.SIGTERM)
    out, err = drain.communicate(timeout=120)
    stored = counts(factory)
    assert drain.returncode == 1, err
    assert "stopped by a signal" in err and "Traceback" not in err, err
    assert 0 < stored[0] < COUNT and stored == (stored[0],) * 3, stored
    assert smtp_sink.wait_for(stored[0], timeout=30)  # the stored batches' acknowledgments went out
    rest = run_intake(path, "run", "--once")
    assert rest.returncode == 0, rest.stderr
    assert counts(factory) == (COUNT, COUNT, COUNT)
    time.sleep(1.0)  # a duplicate acknowledgment on its way would arrive now
    acked = [m.rcpt_tos[0] for m in smtp_sink.messages]
    assert len(acked) == len(set(acked)) == COUNT
