"""Integration tests of the local mail servers: private Dovecot and the SMTP sink."""

from __future__ import annotations

import shutil
import smtplib
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from imapclient import IMAPClient

from deploy.mailserver import DOVECOT, DOVECOT_LDA, Dovecot, free_port
from deploy.smtp_sink import SmtpSink

pytestmark = pytest.mark.integration


def test_dovecot_is_installed() -> None:
    # deploy/test.sh installs it; without it every integration test here would be meaningless.
    assert shutil.which(DOVECOT) and shutil.which(DOVECOT_LDA), "install Dovecot: deploy/system-deps.sh"

USER, PASSWORD = "support", "secret"


def make_message(subject: str, body: str = "Hello,\nplease help.\n") -> bytes:
    message = EmailMessage()
    message["From"] = "Client <client@example.com>"
    message["To"] = "support@example.com"
    message["Subject"] = subject
    message["Message-ID"] = f"<{subject.replace(' ', '.')}@example.com>"
    message.set_content(body)
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


def fetch_bodies(server: Dovecot, folder: str = "INBOX") -> list[bytes]:
    client = server.login(USER)
    try:
        client.select_folder(folder, readonly=True)
        uids = client.search(["ALL"])
        return [data[b"BODY[]"] for _, data in sorted(client.fetch(uids, ["BODY[]"]).items())]
    finally:
        client.logout()


@pytest.fixture
def dovecot(tmp_path: Path) -> Iterator[Dovecot]:
    with Dovecot(tmp_path / "dovecot", {USER: PASSWORD}) as server:
        yield server


def test_lda_delivery_reads_back_over_imap(dovecot: Dovecot) -> None:
    raw = make_message("LDA delivery")
    dovecot.deliver(USER, raw)

    with IMAPClient(dovecot.host, port=dovecot.port, ssl=False, timeout=10) as client:
        client.login(USER, PASSWORD)
        client.select_folder("INBOX")
        uids = client.search(["SUBJECT", "LDA delivery"])
        assert len(uids) == 1
        assert client.fetch(uids, ["BODY[]"])[uids[0]][b"BODY[]"] == raw


def test_lda_delivery_to_new_folder(dovecot: Dovecot) -> None:
    raw = make_message("filed")
    dovecot.deliver(USER, raw, folder="Clients/Acme")
    assert fetch_bodies(dovecot, "Clients/Acme") == [raw]
    assert fetch_bodies(dovecot) == []


def test_lda_unknown_user_raises(dovecot: Dovecot) -> None:
    with pytest.raises(RuntimeError, match="dovecot-lda exited"):
        dovecot.deliver("nobody-here", make_message("lost"))


def test_append_with_flags_and_folder(dovecot: Dovecot) -> None:
    first, second = make_message("appended one"), make_message("appended two")
    dovecot.append(USER, first, flags=[b"\\Seen"])
    dovecot.append(USER, second, folder="Archive")

    assert fetch_bodies(dovecot) == [first]
    assert fetch_bodies(dovecot, "Archive") == [second]
    client = dovecot.login(USER)
    try:
        client.select_folder("INBOX", readonly=True)
        assert client.search(["SEEN"]) and not client.search(["UNSEEN"])
    finally:
        client.logout()


def test_idle_sees_lda_delivery(dovecot: Dovecot) -> None:
    client = dovecot.login(USER)
    try:
        client.select_folder("INBOX")
        client.idle()
        dovecot.deliver(USER, make_message("while idling"))
        started = time.monotonic()  # after the delivery program has run; the loop ends at the first EXISTS
        responses: list[tuple[int | bytes, ...]] = []
        while time.monotonic() - started < 30 and not any(b"EXISTS" in r for r in responses):
            responses += client.idle_check(timeout=0.5)
        client.idle_done()
        assert (1, b"EXISTS") in responses
    finally:
        client.logout()


def test_restart_keeps_messages_and_port(dovecot: Dovecot) -> None:
    raw = make_message("survives restart")
    dovecot.deliver(USER, raw)
    port = dovecot.port

    dovecot.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((dovecot.host, port), timeout=2).close()
    dovecot.start()

    assert dovecot.port == port
    assert fetch_bodies(dovecot) == [raw]
    dovecot.restart()
    dovecot.deliver(USER, make_message("after restart"))
    assert len(fetch_bodies(dovecot)) == 2


def test_add_user_while_running(dovecot: Dovecot) -> None:
    dovecot.add_user("sales", "s3cret")
    raw = make_message("for sales")
    dovecot.deliver("sales", raw)
    client = dovecot.login("sales")
    try:
        client.select_folder("INBOX")
        assert len(client.search()) == 1
    finally:
        client.logout()


def test_wrong_password_is_rejected(dovecot: Dovecot) -> None:
    with IMAPClient(dovecot.host, port=dovecot.port, ssl=False, timeout=10) as client:
        with pytest.raises(IMAPClient.Error):
            client.login(USER, "wrong")


def test_two_instances_run_side_by_side(tmp_path: Path) -> None:
    with Dovecot(tmp_path / "a", {USER: PASSWORD}) as a, Dovecot(tmp_path / "b", {USER: PASSWORD}) as b:
        assert a.port != b.port
        a.deliver(USER, make_message("only in a"))
        assert len(fetch_bodies(a)) == 1
        assert fetch_bodies(b) == []


def test_start_failure_reports_log_tail(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        server = Dovecot(tmp_path / "busy", {USER: PASSWORD}, port=squatter.getsockname()[1])
        with pytest.raises(RuntimeError, match="Address already in use"):
            server.start()
    assert not server.running


def make_self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )
    return cert, key


def test_tls_mode_with_self_signed_cert(tmp_path: Path) -> None:
    cert, key = make_self_signed(tmp_path)
    with Dovecot(tmp_path / "tls", {USER: PASSWORD}, ssl_cert=cert, ssl_key=key) as server:
        assert server.tls
        raw = make_message("over TLS")
        server.deliver(USER, raw)

        context = ssl.create_default_context(cafile=str(cert))
        with IMAPClient(server.host, port=server.port, ssl=True, ssl_context=context, timeout=10) as client:
            client.login(USER, PASSWORD)
            client.select_folder("INBOX")
            uids = client.search(["SUBJECT", "over TLS"])
            assert client.fetch(uids, ["BODY[]"])[uids[0]][b"BODY[]"] == raw

        with pytest.raises(ssl.SSLCertVerificationError):
            IMAPClient(server.host, port=server.port, ssl=True, ssl_context=ssl.create_default_context(),
                       timeout=10)


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[SmtpSink]:
    with SmtpSink(spool=tmp_path / "spool") as server:
        yield server


def test_smtp_sink_receives_and_spools(sink: SmtpSink) -> None:
    raw = make_message("Re: your request")
    with smtplib.SMTP(sink.host, sink.port, timeout=10) as smtp:
        smtp.sendmail("support@example.com", ["client@example.com", "cc@example.com"], raw)

    (received,) = sink.wait_for(1, timeout=5)
    assert received.mail_from == "support@example.com"
    assert received.rcpt_tos == ["client@example.com", "cc@example.com"]
    assert received.raw.replace(b"\r\n", b"\n") == raw.replace(b"\r\n", b"\n")
    assert sink.messages == [received]
    assert sink.spool is not None
    (spooled,) = sink.spool.glob("*.eml")
    assert spooled.read_bytes() == received.raw


def test_smtp_sink_wait_for_times_out(sink: SmtpSink) -> None:
    with pytest.raises(TimeoutError, match="0 arrived"):
        sink.wait_for(1, timeout=0.2)


def test_smtp_sink_refuse_mode_gives_4xx(sink: SmtpSink) -> None:
    sink.refuse = True
    with smtplib.SMTP(sink.host, sink.port, timeout=10) as smtp:
        with pytest.raises((smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException)) as excinfo:
            smtp.sendmail("support@example.com", ["client@example.com"], make_message("refused"))
    error = excinfo.value
    codes = (
        [code for code, _ in error.recipients.values()]
        if isinstance(error, smtplib.SMTPRecipientsRefused)
        else [error.smtp_code]
    )
    assert codes and all(400 <= code < 500 for code in codes)
    assert sink.messages == []

    sink.refuse = False
    with smtplib.SMTP(sink.host, sink.port, timeout=10) as smtp:
        smtp.sendmail("support@example.com", ["client@example.com"], make_message("accepted"))
    assert len(sink.wait_for(1, timeout=5)) == 1


def test_smtp_sink_on_given_port(tmp_path: Path) -> None:
    port = free_port()
    with SmtpSink(port=port) as sink:
        assert sink.port == port
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.sendmail("a@example.com", ["b@example.com"], b"Subject: x\r\n\r\nbody\r\n")
        assert sink.wait_for(1)[0].raw.startswith(b"Subject: x")
