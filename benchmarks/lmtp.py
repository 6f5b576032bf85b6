"""Dovecot with an LMTP listener (the way an MTA hands it mail) and a client that delivers at a steady
rate."""
from __future__ import annotations

import os
import smtplib
import stat
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from deploy.mailserver import Dovecot, free_port

# Debian's dovecot-lmtpd; deploy/system-deps.sh installs IMAP only
LMTP_SERVER = Path("/usr/lib/dovecot/lmtp")


class LmtpDovecot(Dovecot):
    """The rig's Dovecot plus `protocols = lmtp` on a TCP port of 127.0.0.1."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lmtp_port = free_port(self.host)

    def start(self) -> None:
        """Starts Dovecot, after checking its LMTP server is installed (Dovecot's own error names no
        package)."""
        if not LMTP_SERVER.exists():
            raise RuntimeError(f"{LMTP_SERVER} is missing: install Dovecot's LMTP server "
                               "(apt-get install dovecot-lmtpd)")
        if os.geteuid() == 0:
            # Unchrooted, LMTP reaches the maildirs as `nobody` through the path; a private (0700) temp dir
            # on the way would stop it, so the directories above get search permission (not read) for others.
            for parent in self.workdir.parents:
                mode = parent.stat().st_mode
                if parent.stat().st_uid == 0 and not mode & stat.S_IXOTH:
                    parent.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
        super().start()

    def _config(self) -> str:
        config = super()._config().replace("protocols = imap\n", "protocols = imap lmtp\n", 1)
        # As root the IMAP side chroots into the mail dir (deploy.mailserver); LMTP serves many users from one
        # process and cannot chroot, so it gets the same maildirs by their absolute paths.
        unchrooted = (f"protocol lmtp {{\n  mail_chroot =\n  mail_location = maildir:{self.mail_dir}/%u\n"
                      f"  mail_temp_dir = {self.mail_dir}/.tmp\n}}\n") if "mail_chroot" in config else ""
        return config + unchrooted + f"""\
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp_port}
  }}
}}
"""


def deliver_paced(dovecot: LmtpDovecot, user: str, raws: Sequence[bytes], rate: float,
                  delivered: Callable[[int, float], None]) -> float:
    """Delivers RAWS over one LMTP connection at RATE per second; DELIVERED(i, monotonic time) after each.

    Returns the achieved rate. A delivery that falls behind the schedule is sent at once, never skipped.
    """
    lmtp = smtplib.LMTP(dovecot.host, dovecot.lmtp_port, timeout=30)
    try:
        lmtp.ehlo_or_helo_if_needed()
        start = time.monotonic()
        for i, raw in enumerate(raws):
            wait = start + i / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            refused = lmtp.sendmail("client@example.net", [user], raw)
            if refused:
                raise RuntimeError(f"LMTP refused message {i}: {refused}")
            delivered(i, time.monotonic())
        elapsed = time.monotonic() - start
    finally:
        lmtp.quit()
    return len(raws) / elapsed if elapsed > 0 else float("inf")
