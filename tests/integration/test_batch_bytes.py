"""Batches end at the mailbox's byte budget as well as at its size, against the real Dovecot."""
from __future__ import annotations

import logging

import pytest

from intake.config import MailboxConfig
from intake.imap import MailboxClient
from tests.integration.conftest import MAILBOX_PASSWORD, MAILBOX_USER
from tests.mailgen import client_email

pytestmark = pytest.mark.integration
MIB = 1024 * 1024


def _mail(n: int, kib: int) -> bytes:
    mail = client_email(n, f"Drawing {n}", "The revised drawing is attached.", "en")
    mail.add_attachment(bytes(range(256)) * (kib * 4), maintype="application", subtype="pdf",
                        filename=f"drawing-{n}.pdf")
    return bytes(mail)


def test_a_backlog_of_large_mail_comes_in_batches_within_the_byte_budget(dovecot):
    sizes_kib = [10, 700, 700, 10, 10, 1500, 10, 300, 300, 300, 10]
    for n, kib in enumerate(sizes_kib, start=1):
        dovecot.append(MAILBOX_USER, _mail(n, kib))
    box = MailboxConfig(name="support", host=dovecot.host, port=dovecot.port, security="none",
                        username=MAILBOX_USER, batch_size=4, batch_bytes=MIB)
    client = MailboxClient(box, MAILBOX_PASSWORD)
    client.connect()
    try:
        batches = list(client.batches(0, max_bytes=25 * MIB))
    finally:
        client.close()
    uids = [[m.uid for m in batch] for batch in batches]
    assert [u for batch in uids for u in batch] == list(range(1, 12))  # every message once, in order
    for batch in batches:
        assert len(batch) <= 4
        # Over the budget only when one message alone is larger than it.
        assert len(batch) == 1 or sum(len(m.raw) for m in batch) <= MIB
    # Base64 makes the attachments a third larger (700 KiB: about 0.93 MiB); in chunks of four by count:
    # [15 K, 0.93 M] [0.93 M, 15 K] | [15 K] [2 M] [15 K, 0.4 M] | [0.4 M, 0.4 M, 15 K].
    assert uids == [[1, 2], [3, 4], [5], [6], [7, 8], [9, 10, 11]]
    assert all(not m.truncated for batch in batches for m in batch)


def _fetch_all(dovecot) -> tuple[int, list[bytes]]:
    """imaplib's debug level on the connection, and every message fetched."""
    box = MailboxConfig(name="support", host=dovecot.host, port=dovecot.port, security="none",
                        username=MAILBOX_USER)
    client = MailboxClient(box, MAILBOX_PASSWORD)
    client.connect()
    try:
        assert client.client is not None
        return client.client._imap.debug, [m.raw for batch in client.batches(0,
                                                                             max_bytes=25 * MIB)
                                           for m in batch]
    finally:
        client.close()


def test_imaplib_formats_no_protocol_log_unless_its_logger_wants_it(dovecot, caplog):
    for n, kib in enumerate([5, 200], start=1):
        dovecot.append(MAILBOX_USER, _mail(n, kib))
    level, raws = _fetch_all(dovecot)
    assert level == 0
    assert len(raws) == 2 and b"drawing-2.pdf" in raws[1]
    with caplog.at_level(logging.DEBUG, logger="imapclient.imaplib"):
        level, same = _fetch_all(dovecot)
    assert level > 0 and same == raws
    # Asked for, the protocol log is there, responses and all.
    assert any("FETCH" in r.getMessage() for r in caplog.records if r.name == "imapclient.imaplib")
