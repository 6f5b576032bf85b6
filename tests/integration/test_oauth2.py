"""XOAUTH2 logins against Dovecot checking tokens at a local introspection endpoint (as Microsoft 365 and
Gmail do)."""
from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from deploy.mailserver import Dovecot, free_port
from tests.integration.conftest import MAILBOX_PASSWORD, MAILBOX_USER, run_intake, write_config
from tests.mailgen import client_email

pytestmark = pytest.mark.integration
GOOD = "ya29.good-token"


class Introspection(BaseHTTPRequestHandler):
    """Answers like an OAuth2 token introspection endpoint: only GOOD is an active token."""

    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        Introspection.seen.append(token)
        active = token == GOOD
        body = json.dumps({"active": True, "username": MAILBOX_USER} if active
                          else {"active": False}).encode()
        self.send_response(200 if active else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def oauth_dovecot(tmp_path) -> Iterator[Dovecot]:
    port = free_port()
    http = HTTPServer(("127.0.0.1", port), Introspection)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    server = Dovecot(tmp_path / "dovecot", {MAILBOX_USER: MAILBOX_PASSWORD},
                     oauth2_introspection_url=f"http://127.0.0.1:{port}/introspect")
    server.start()
    yield server
    server.stop()
    http.shutdown()


def _oauth_config(tmp_path, server, sink, source: str):
    cfg = write_config(tmp_path / "oauth.toml", f"sqlite:///{tmp_path / 'db.sqlite'}", server, sink)
    text = cfg.read_text().replace('password_env = "INTAKE_TEST_IMAP_PASSWORD"\n',
                                   f'auth = "xoauth2"\n{source}\n')
    cfg.write_text(text)
    return cfg


def test_xoauth2_with_token_command_and_file(tmp_path, oauth_dovecot, smtp_sink):
    oauth_dovecot.deliver(MAILBOX_USER, bytes(client_email(1, "OAuth", "When is the release?", "en")))
    command = f"oauth2_token_command = \"{sys.executable} -c 'print(\\\"{GOOD}\\\")'\""
    cfg = _oauth_config(tmp_path, oauth_dovecot, smtp_sink, command)
    assert run_intake(cfg, "db", "upgrade").returncode == 0
    done = run_intake(cfg, "run", "--once")
    assert done.returncode == 0, done.stderr
    assert "new items: 1" in done.stdout and GOOD in Introspection.seen
    assert GOOD not in done.stderr  # the token is a secret: never logged

    token_file = tmp_path / "token"
    token_file.write_text("expired-token\n")
    cfg = _oauth_config(tmp_path, oauth_dovecot, smtp_sink, f'oauth2_token_file = "{token_file}"')
    failed = run_intake(cfg, "run", "--once")
    assert failed.returncode == 1 and "AUTHENTICATIONFAILED" in failed.stderr
    token_file.write_text(GOOD + "\n")
    oauth_dovecot.deliver(MAILBOX_USER, bytes(client_email(2, "Again", "Could you add a PO field?", "en")))
    done = run_intake(cfg, "run", "--once")
    assert done.returncode == 0 and "new items: 1" in done.stdout
    assert len(smtp_sink.wait_for(2)) == 2


def test_failing_token_command_is_one_clear_error(tmp_path, oauth_dovecot, smtp_sink):
    cfg = _oauth_config(tmp_path, oauth_dovecot, smtp_sink, 'oauth2_token_command = "false"')
    assert run_intake(cfg, "db", "upgrade").returncode == 0
    failed = run_intake(cfg, "run", "--once")
    assert failed.returncode == 1
    assert "oauth2 token command exited with 1" in failed.stderr
