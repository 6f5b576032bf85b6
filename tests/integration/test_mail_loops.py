"""Two systems that answer each other's mail exchange a bounded number of messages and then stop."""
from __future__ import annotations

import subprocess
import threading
import time
from email import message_from_bytes
from email.policy import default

import pytest

from deploy.mailserver import Dovecot
from deploy.smtp_sink import SmtpSink
from tests.integration.conftest import PASSWORD_ENV, start_worker, write_config
from tests.mailgen import client_email

pytestmark = pytest.mark.integration


class Relay:
    """Delivers what one SMTP sink receives into a mailbox, optionally rewritten by a function."""

    def __init__(self, sink: SmtpSink, dovecot: Dovecot, user: str, rewrite=None) -> None:
        self.sink, self.dovecot, self.user, self.rewrite = sink, dovecot, user, rewrite
        self.done = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.1):
            for received in self.sink.messages[self.done:]:
                raw = self.rewrite(received.raw) if self.rewrite else received.raw
                self.dovecot.deliver(self.user, raw)
                self.done += 1


def _instance(tmp_path, name: str, dovecot: Dovecot, sink: SmtpSink) -> subprocess.Popen[str]:
    cfg = write_config(tmp_path / f"{name}.toml", f"sqlite:///{tmp_path / name}.db", dovecot, sink)
    text = cfg.read_text().replace('username = "support"', f'username = "{name}"').replace(
        "Acme Support <support@team.example>", f"Team {name} <{name}@team-{name}.example>").replace(
        "max_per_sender_per_hour = 100", "max_per_sender_per_hour = 5")
    cfg.write_text(text)
    return start_worker(cfg)


def _settle(sinks: list[SmtpSink], quiet: float = 15.0, limit: float = 120.0) -> int:
    """Waits for the first message, then until no sink has received anything for QUIET seconds; returns the
    total received. (Counting quiet from the start would end before slow-starting workers have answered.)"""
    start = last_change = time.monotonic()
    seen = -1
    while time.monotonic() - start < limit:
        total = sum(len(s.messages) for s in sinks)
        if total == 0 or total != seen:
            seen, last_change = total, time.monotonic()
        elif time.monotonic() - last_change >= quiet:
            return total
        time.sleep(0.2)
    raise AssertionError(f"none came within {limit}s" if seen == 0 else
                         f"mail still flowing after {limit}s: {seen} messages")


@pytest.fixture
def two_boxes(tmp_path, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "imap-secret")
    server = Dovecot(tmp_path / "dovecot", {"a": "imap-secret", "b": "imap-secret"})
    server.start()
    yield server
    server.stop()


def test_two_instances_answering_each_other_stop(tmp_path, two_boxes):
    with SmtpSink() as out_a, SmtpSink() as out_b:
        relays = [Relay(out_a, two_boxes, "b"), Relay(out_b, two_boxes, "a")]
        procs = [_instance(tmp_path, "a", two_boxes, out_a), _instance(tmp_path, "b", two_boxes, out_b)]
        for r in relays:
            r.thread.start()
        try:
            time.sleep(2)
            two_boxes.deliver("a", bytes(client_email(1, "Hello from B", "Could you send the report again?",
                                                      "en",
                                                      domain="team-b.example")))
            total = _settle([out_a, out_b])
        finally:
            for r in relays:
                r.stop.set()
            for p in procs:
                p.terminate()
                p.wait(timeout=30)
    # A acknowledges the first mail; B sees an automatic reply and records it without answering.
    assert total == 1
    assert len(out_a.messages) == 1 and len(out_b.messages) == 0


def test_a_naive_autoresponder_is_held_by_the_rate_limit(tmp_path, two_boxes):
    counter = iter(range(1000))

    def naive_reply(raw: bytes) -> bytes:
        # A broken autoresponder: drops every loop-prevention header and starts a new thread each time.
        n = next(counter)
        return bytes(client_email(2, f"Auto answer {n}", "Thanks for your mail, we will reply soon.", "en",
                                  domain="team-b.example", msgid=f"<naive-{n}@team-b.example>"))

    with SmtpSink() as out_a:
        relay = Relay(out_a, two_boxes, "b", rewrite=naive_reply)
        # The naive side writes back into A's mailbox.
        relay.dovecot, relay.user = two_boxes, "a"
        proc = _instance(tmp_path, "a", two_boxes, out_a)
        relay.thread.start()
        try:
            time.sleep(2)
            two_boxes.deliver("a", bytes(client_email(2, "Start", "When is the next release?", "en",
                                                      domain="team-b.example")))
            total = _settle([out_a])
        finally:
            relay.stop.set()
            proc.terminate()
            _, err = proc.communicate(timeout=30)
    assert total == 5  # max_per_sender_per_hour in this config
    assert "event=worker_stopped" in err
    for received in out_a.messages:
        assert message_from_bytes(received.raw, policy=default)["Auto-Submitted"] == "auto-replied"
