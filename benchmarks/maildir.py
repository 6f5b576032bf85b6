"""Fills a Dovecot user's INBOX by writing maildir files directly: the fast path for backlogs of thousands."""
from __future__ import annotations

import os
import pwd
import time
from collections.abc import Sequence

from deploy.mailserver import MAIL_USER_AS_ROOT, Dovecot


def _owner() -> tuple[int, int] | None:
    # As root, Dovecot touches mail as `nobody` (deploy.mailserver), so the files must be theirs.
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam(MAIL_USER_AS_ROOT)
    return entry.pw_uid, entry.pw_gid


def fill_maildir(dovecot: Dovecot, user: str, raws: Sequence[bytes], chunk: int = 500) -> None:
    """Delivers RAWS to USER's INBOX in list order (UIDs follow it), CHUNK files between two Dovecot syncs.

    Dovecot numbers the files of one sync in directory order, not ours, so each chunk is indexed before the
    next is written: a message and anything that answers it from a later chunk keep their order.
    """
    client = dovecot.login(user)  # the first login creates the maildir with the right owner
    try:
        client.select_folder("INBOX")
        new = dovecot.mail_dir / user / "new"
        tmp = dovecot.mail_dir / user / "tmp"
        owner = _owner()
        base = int(time.time()) - len(raws)
        for start in range(0, len(raws), chunk):
            for i, raw in enumerate(raws[start:start + chunk], start):
                name = f"{base + i}.M{i}P{os.getpid()}.bench,S={len(raw)}"
                path = tmp / name
                path.write_bytes(raw)
                if owner:
                    os.chown(path, *owner)
                os.utime(path, (base + i, base + i))  # the internal date: in delivery order, in the past
                path.rename(new / name)
            _sync(client, min(start + chunk, len(raws)))
    finally:
        client.logout()


def _sync(client: object, expected: int, timeout: float = 60.0) -> None:
    """Re-selects INBOX until Dovecot has indexed EXPECTED messages."""
    deadline = time.monotonic() + timeout
    while True:
        exists = int(client.select_folder("INBOX")[b"EXISTS"])  # type: ignore[attr-defined]
        if exists >= expected:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"Dovecot indexed {exists} of {expected} messages written to the maildir")
        time.sleep(0.2)  # a change within the directory's mtime second is seen on a later sync
