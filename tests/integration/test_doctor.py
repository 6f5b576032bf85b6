"""`intake doctor` against the real test servers: all checks pass on a working setup, and each broken part
(a wrong IMAP password, an untrusted certificate, a missing folder, a stopped SMTP server) is named."""
from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.mailserver import Dovecot
from deploy.smtp_sink import SmtpSink
from tests.integration.conftest import MAILBOX_PASSWORD, MAILBOX_USER, PASSWORD_ENV, run_intake, write_config
from tests.integration.test_mailservers import make_self_signed

pytestmark = pytest.mark.integration
KEY_ENV = "INTAKE_TEST_WEB_KEY"


@pytest.fixture
def tls_dovecot(tmp_path) -> Iterator[tuple[Dovecot, Path]]:
    """A Dovecot speaking implicit TLS with a self-signed certificate, and that certificate."""
    cert, key = make_self_signed(tmp_path)
    with Dovecot(tmp_path / "tls", {MAILBOX_USER: MAILBOX_PASSWORD}, ssl_cert=cert, ssl_key=key) as server:
        yield server, cert


def _config(tmp_path: Path, server: Dovecot, sink: SmtpSink, cert: Path | None,
            folder: str = "INBOX") -> Path:
    """A working config for SERVER over TLS (trusting CERT when given) and SINK, with the database
    migrated."""
    os.environ[KEY_ENV] = "k" * 40
    cfg = write_config(tmp_path / "intake.toml", f"sqlite:///{tmp_path / 'db.sqlite'}", server, sink,
                       extra='[web]\npublic_url = "https://intake.example.com"\nsecret_key_env = '
                             f'"{KEY_ENV}"\n')
    trust = f'ca_file = "{cert}"\n' if cert else ""
    cfg.write_text(cfg.read_text().replace('security = "none"\nusername',
                                           f'security = "ssl"\n{trust}folder = "{folder}"\nusername', 1))
    assert run_intake(cfg, "db", "upgrade").returncode == 0
    return cfg


class _Lines(dict):
    """The report's lines by check name ("mailbox support: login" -> the whole line)."""

    def __init__(self, out: str) -> None:
        super().__init__()
        self.out = out

    def __missing__(self, name: str) -> str:
        for line in self.out.splitlines():
            if re.match(rf"^(OK|WARN|FAIL|SKIP) +{re.escape(name)}: ", line):
                return line
        raise AssertionError(f"no line for {name}:\n{self.out}")


def _lines(out: str) -> _Lines:
    return _Lines(out)


def test_all_checks_pass_on_the_test_servers(tmp_path, tls_dovecot, smtp_sink):
    server, cert = tls_dovecot
    result = run_intake(_config(tmp_path, server, smtp_sink, cert), "doctor", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = _lines(result.stdout)
    for name in ("config", "database", "mailbox support: connect", "mailbox support: TLS",
                 "mailbox support: login",
                 "mailbox support: folder", "mailbox support: IDLE", "mailbox support: clock",
                 "smtp: connect",
                 "smtp: login", "smtp: from address", "model", "web.public_url", "web.secret_key"):
        assert lines[name].startswith("OK "), result.stdout
    # The sink speaks plain SMTP: a warning, not a failure.
    assert lines["smtp: TLS"].startswith("WARN ") and "unencrypted" in lines["smtp: TLS"]
    assert "support@team.example accepted" in lines["smtp: from address"]
    assert result.stdout.rstrip().endswith("all checks passed")
    assert not smtp_sink.messages  # MAIL FROM, then RSET: nothing sent
    # The clock check's scratch folder is gone again.
    assert [p.name for p in (server.mail_dir / MAILBOX_USER).iterdir() if "doctor" in p.name] == []


def test_a_wrong_imap_password_is_named(tmp_path, tls_dovecot, smtp_sink, monkeypatch):
    server, cert = tls_dovecot
    cfg = _config(tmp_path, server, smtp_sink, cert)
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password")
    result = run_intake(cfg, "doctor", timeout=120)
    assert result.returncode == 1
    lines = _lines(result.stdout)
    assert lines["mailbox support: login"].startswith("FAIL ")
    assert "refused for support: [AUTHENTICATIONFAILED] Authentication failed." in lines["mailbox support: "
                                                                                         "login"]
    assert "mailboxes[0].password_env" in lines["mailbox support: login"]
    assert lines["mailbox support: folder"].startswith("SKIP ")
    assert lines["mailbox support: TLS"].startswith("OK ") and lines["smtp: from address"].startswith("OK ")
    assert result.stdout.rstrip().endswith("1 check failed")


def test_an_untrusted_certificate_is_named(tmp_path, tls_dovecot, smtp_sink):
    server, _cert = tls_dovecot
    result = run_intake(_config(tmp_path, server, smtp_sink, cert=None), "doctor", timeout=120)
    assert result.returncode == 1
    tls = _lines(result.stdout)["mailbox support: TLS"]
    assert tls.startswith("FAIL ") and "certificate of 127.0.0.1 not trusted: self-signed certificate" in tls
    assert "mailboxes[0].ca_file" in tls
    assert _lines(result.stdout)["mailbox support: connect"].startswith("OK ")


def test_a_missing_folder_is_named(tmp_path, tls_dovecot, smtp_sink):
    server, cert = tls_dovecot
    result = run_intake(_config(tmp_path, server, smtp_sink, cert, folder="Clients"), "doctor", timeout=120)
    assert result.returncode == 1
    folder = _lines(result.stdout)["mailbox support: folder"]
    assert folder.startswith("FAIL ") and "'Clients' does not exist (the server has: INBOX)" in folder
    assert "mailboxes[0].folder" in folder


def test_a_stopped_smtp_server_is_named(tmp_path, tls_dovecot, smtp_sink):
    server, cert = tls_dovecot
    cfg = _config(tmp_path, server, smtp_sink, cert)
    smtp_sink.stop()
    result = run_intake(cfg, "doctor", timeout=120)
    assert result.returncode == 1
    lines = _lines(result.stdout)
    assert lines["smtp: connect"].startswith("FAIL ")
    assert (f"cannot connect to {smtp_sink.host}:{smtp_sink.port}: Connection "
            "refused" in lines["smtp: connect"])
    assert lines["smtp: from address"].startswith("SKIP ")
    assert lines["mailbox support: login"].startswith("OK ")


def test_a_broken_config_is_one_failed_check(tmp_path):
    cfg = tmp_path / "broken.toml"
    cfg.write_text('[smtp]\nport = "twenty-five"\n', encoding="utf-8")
    result = run_intake(cfg, "doctor", timeout=60)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].startswith("FAIL  config: smtp.port: expected a whole number")


def test_notify_targets_are_reached_without_posting_or_showing_their_urls(tmp_path, tls_dovecot, smtp_sink,
                                                                           monkeypatch):
    """Each [[notify]] target: a host that answers is OK, a closed port, an address that is no web address
    and an unset variable are named; nothing is posted, and no URL (a credential) is printed."""
    server, cert = tls_dovecot
    cfg = _config(tmp_path, server, smtp_sink, cert)
    listening = socket.create_server(("127.0.0.1", 0))
    closed = socket.create_server(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    monkeypatch.setenv("HOOK_UP", f"http://127.0.0.1:{listening.getsockname()[1]}/services/T0/B0/SeCrEtToKeN")
    monkeypatch.setenv("HOOK_DOWN", f"http://127.0.0.1:{closed_port}/hook/SeCrEtToKeN")
    monkeypatch.setenv("HOOK_FTP", "ftp://files.example.com/SeCrEtToKeN")
    monkeypatch.delenv("HOOK_UNSET", raising=False)
    cfg.write_text(cfg.read_text() + "".join(
        f'\n[[notify]]\nname = "{name}"\ntarget = "slack"\nurl_env = "{env}"\n'
        for name, env in (("up", "HOOK_UP"), ("down", "HOOK_DOWN"), ("ftp", "HOOK_FTP"),
                          ("unset", "HOOK_UNSET"))))
    try:
        result = run_intake(cfg, "doctor", timeout=120)
        listening.settimeout(0.1)
        conn, _ = listening.accept()  # the doctor connected...
        conn.settimeout(0.5)
        assert conn.recv(100) == b""  # ...and sent nothing
        conn.close()
    finally:
        listening.close()
    lines = _lines(result.stdout)
    assert lines["notify up"].startswith("OK ") and "slack at 127.0.0.1:" in lines["notify up"]
    assert lines["notify down"].startswith("FAIL ") and f"127.0.0.1:{closed_port}" in lines["notify down"]
    assert lines["notify ftp"].startswith("FAIL ")
    assert "not an http:// or https:// address" in lines["notify ftp"] and "HOOK_FTP" in lines["notify ftp"]
    assert lines["notify unset"].startswith("SKIP ")
    assert "environment variable HOOK_UNSET is not set" in result.stdout
    assert "SeCrEtToKeN" not in result.stdout + result.stderr
    assert result.returncode == 1
