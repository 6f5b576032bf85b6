"""IMAP over TLS: certificates are verified, a configured CA file is trusted, a failure is one clear error."""
from __future__ import annotations

import pytest

from deploy.mailserver import Dovecot
from tests.integration.conftest import MAILBOX_PASSWORD, MAILBOX_USER, run_intake, start_worker, write_config
from tests.integration.test_mailservers import make_self_signed
from tests.mailgen import client_email

pytestmark = pytest.mark.integration


def test_ssl_with_ca_file_and_verification_failure(tmp_path, smtp_sink):
    cert, key = make_self_signed(tmp_path)
    with Dovecot(tmp_path / "tls", {MAILBOX_USER: MAILBOX_PASSWORD}, ssl_cert=cert, ssl_key=key) as server:
        server.deliver(MAILBOX_USER, bytes(client_email(1, "TLS", "When is the release?", "en")))
        url = f"sqlite:///{tmp_path / 'db.sqlite'}"
        cfg = write_config(tmp_path / "untrusted.toml", url, server, smtp_sink)
        cfg.write_text(cfg.read_text().replace('security = "none"\nusername', 'security = "ssl"\nusername',
                                               1))
        assert run_intake(cfg, "db", "upgrade").returncode == 0
        failed = run_intake(cfg, "run", "--once")
        assert failed.returncode == 1
        assert "CERTIFICATE_VERIFY_FAILED" in failed.stderr
        assert not smtp_sink.messages

        trusted = tmp_path / "trusted.toml"
        trusted.write_text(cfg.read_text().replace('security = "ssl"\nusername',
                                                   f'security = "ssl"\nca_file = "{cert}"\nusername', 1))
        ok = run_intake(trusted, "run", "--once")
        assert ok.returncode == 0, ok.stderr
        assert "new items: 1" in ok.stdout
        assert "insecure_imap" not in ok.stderr
        assert len(smtp_sink.wait_for(1)) == 1
        # The long-running worker on IDLE over TLS picks up new mail too.
        worker = start_worker(trusted)
        try:
            server.deliver(MAILBOX_USER, bytes(client_email(2, "TLS 2", "Could you add a PO field?", "en")))
            assert len(smtp_sink.wait_for(2, timeout=30)) == 2
        finally:
            worker.terminate()
            _, err = worker.communicate(timeout=30)
        assert "idle=True" in err and "event=outage" not in err


def test_starttls_verifies_the_certificate(tmp_path, smtp_sink):
    cert, key = make_self_signed(tmp_path)
    with Dovecot(tmp_path / "starttls", {MAILBOX_USER: MAILBOX_PASSWORD}, ssl_cert=cert, ssl_key=key,
                 starttls=True) as server:
        server.deliver(MAILBOX_USER, bytes(client_email(1, "STARTTLS", "When is the release?", "en")))
        cfg = write_config(tmp_path / "starttls.toml", f"sqlite:///{tmp_path / 'db.sqlite'}", server,
                           smtp_sink)
        cfg.write_text(cfg.read_text().replace('security = "none"\nusername',
                                               'security = "starttls"\nusername', 1))
        assert run_intake(cfg, "db", "upgrade").returncode == 0
        failed = run_intake(cfg, "run", "--once")
        assert failed.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in failed.stderr
        cfg.write_text(cfg.read_text().replace('security = "starttls"\n',
                                               f'security = "starttls"\nca_file = "{cert}"\n', 1))
        ok = run_intake(cfg, "run", "--once")
        assert ok.returncode == 0, ok.stderr
        assert "new items: 1" in ok.stdout
