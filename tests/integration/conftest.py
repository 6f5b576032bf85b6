"""Fixtures for integration tests: a real Dovecot, a real SMTP sink, and a config pointing at them."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import MetaData, Table

from deploy.mailserver import Dovecot
from deploy.smtp_sink import SmtpSink

MAILBOX_USER = "support"
MAILBOX_PASSWORD = "imap-secret"
PASSWORD_ENV = "INTAKE_TEST_IMAP_PASSWORD"


def intake_command(cfg: Path, *args: str) -> list[str]:
    """The console script's command line for CFG, as a user would type it."""
    return [sys.executable, "-m", "intake", "--config", str(cfg), *args]


def run_intake(cfg: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Runs one `intake` command with CFG to its end; output captured, exit code left to the caller."""
    return subprocess.run(intake_command(cfg, *args), capture_output=True, text=True, timeout=timeout,
                          env=os.environ.copy())


def start_worker(cfg: Path) -> subprocess.Popen[str]:
    """Migrates the database and starts `intake run` with CFG; stderr is captured for the logs."""
    upgraded = run_intake(cfg, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    return subprocess.Popen(intake_command(cfg, "run"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


@pytest.fixture
def dovecot(tmp_path) -> Iterator[Dovecot]:
    server = Dovecot(tmp_path / "dovecot", {MAILBOX_USER: MAILBOX_PASSWORD})
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_sink(tmp_path) -> Iterator[SmtpSink]:
    sink = SmtpSink(spool=tmp_path / "spool")
    sink.start()
    yield sink
    sink.stop()


def write_config(path: Path, db_url: str, dovecot: Dovecot, sink: SmtpSink, extra: str = "",
                 mailbox_extra: str = "") -> Path:
    """A config file for one mailbox on DOVECOT (MAILBOX_EXTRA: more keys of its table) and SINK as the SMTP
    server."""
    return _write(path, db_url, mailbox_table(dovecot, "support", MAILBOX_USER) + mailbox_extra, sink, extra)


@pytest.fixture
def config_for(tmp_path, dovecot, smtp_sink):
    """Builds a config file for a database URL, against this test's Dovecot and SMTP sink."""
    def make(db_url: str, extra: str = "") -> Path:
        return write_config(tmp_path / "intake.toml", db_url, dovecot, smtp_sink, extra)
    return make


def mailbox_table(dovecot: Dovecot, name: str, user: str = "") -> str:
    """One [[mailboxes]] table for Dovecot user USER (NAME by default), with the tests' password."""
    return f'''
[[mailboxes]]
name = "{name}"
host = "{dovecot.host}"
port = {dovecot.port}
security = "none"
username = "{user or name}"
password_env = "{PASSWORD_ENV}"
poll_seconds = 1.0
'''


def write_mailboxes_config(path: Path, db_url: str, dovecot: Dovecot, sink: SmtpSink, names: list[str],
                           extra: str = "") -> Path:
    """A config file for one mailbox per Dovecot user in NAMES, SINK as the SMTP server."""
    return _write(path, db_url, "".join(mailbox_table(dovecot, n) for n in names), sink, extra)


def _write(path: Path, db_url: str, mailboxes: str, sink: SmtpSink, extra: str) -> Path:
    os.environ[PASSWORD_ENV] = MAILBOX_PASSWORD
    path.write_text(f'''
[database]
url = "{db_url}"
{mailboxes}
[smtp]
host = "{sink.host}"
port = {sink.port}
security = "none"
from_address = "Acme Support <support@team.example>"

[acknowledgment]
team_name = "Acme project team"
max_per_sender_per_hour = 100
{extra}
''', encoding="utf-8")
    return path


def old_row(conn, table_name: str, **given: object) -> int:
    """Inserts a row into table TABLE_NAME as the schema is now (an older revision: the models have columns it
    lacks), with GIVEN and a plain value for every other required column; returns its id."""
    table = Table(table_name, MetaData(), autoload_with=conn)
    plain = {bool: False, int: 0, float: 0.0, datetime: datetime(2026, 1, 1, tzinfo=timezone.utc), dict: {}}
    values = dict(given)
    for col in table.columns:
        if col.name in values or col.nullable or col.primary_key or col.server_default is not None:
            continue
        try:
            kind = col.type.python_type
        except NotImplementedError:  # JSON and the like
            kind = dict
        values[col.name] = plain.get(kind, "")
    result = conn.execute(table.insert().values(**values))
    return result.inserted_primary_key[0] if result.inserted_primary_key else 0
