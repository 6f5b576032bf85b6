"""A private, throwaway Dovecot IMAP server living entirely inside one work directory."""

from __future__ import annotations

import argparse
import grp
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Self

from imapclient import IMAPClient

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
DOVECOT_LDA = "/usr/lib/dovecot/dovecot-lda"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
MAIL_USER_AS_ROOT = "nobody"  # Dovecot never touches mail as root


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class Service:
    """A local server that starts and stops; a context manager around both."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class Dovecot(Service):
    """One Dovecot instance (IMAP only) with its config, state, log and maildirs in ``workdir``."""

    host = "127.0.0.1"

    def __init__(
        self,
        workdir: Path,
        users: dict[str, str],
        port: int | None = None,
        ssl_cert: Path | None = None,
        ssl_key: Path | None = None,
        oauth2_introspection_url: str | None = None,
        starttls: bool = False,
    ) -> None:
        """Prepare (but do not start) an instance; ``ssl_cert``/``ssl_key`` switch to implicit TLS.

        With ``oauth2_introspection_url``, XOAUTH2/OAUTHBEARER logins are checked by sending the token
        as a bearer token to that URL (RFC 7662 style), which answers ``{"active": true, "username": ...}``.
        """
        if (ssl_cert is None) != (ssl_key is None):
            raise ValueError("ssl_cert and ssl_key must be given together")
        self.workdir = Path(workdir).resolve()
        self.port = port or free_port(self.host)
        self.ssl_cert = Path(ssl_cert).resolve() if ssl_cert else None
        self.ssl_key = Path(ssl_key).resolve() if ssl_key else None
        self.oauth2_introspection_url = oauth2_introspection_url
        # With a certificate: STARTTLS on the plain port instead of implicit TLS.
        self.starttls = starttls
        self.config_path = self.workdir / "dovecot.conf"
        self.log_path = self.workdir / "dovecot.log"
        self.passwd_path = self.workdir / "passwd"
        self.mail_dir = self.workdir / "mail"
        self._users: dict[str, str] = {}
        self._process: subprocess.Popen[bytes] | None = None
        for name, password in users.items():
            self._check_user(name, password)
            self._users[name] = password

    @property
    def tls(self) -> bool:
        """Whether the listener speaks implicit TLS (imaps)."""
        return self.ssl_cert is not None and not self.starttls

    @property
    def running(self) -> bool:
        """Whether the Dovecot master process is alive."""
        return self._process is not None and self._process.poll() is None

    # -- configuration -------------------------------------------------------------------

    @staticmethod
    def _check_user(name: str, password: str) -> None:
        if not name or name.startswith(".") or any(c in name for c in ":/\n\r"):
            raise ValueError(f"invalid user name {name!r}")
        if not password or any(c in password for c in ":\n\r"):
            raise ValueError(f"password of {name!r} must be non-empty, without ':' or newlines")

    @property
    def _mail_root(self) -> str:
        """The mail directory as mail processes see it (``/`` when chrooted into it as root)."""
        return "" if os.geteuid() == 0 else str(self.mail_dir)

    def _write_passwd(self) -> None:
        # uid/gid stay empty (passwd-file rejects uid 0); mail_uid/mail_gid supply them.
        lines = [
            f"{name}:{{PLAIN}}{password}:::::{self._mail_root}/{name}::\n"
            for name, password in self._users.items()
        ]
        tmp = self.passwd_path.with_suffix(".tmp")
        tmp.write_text("".join(lines))
        tmp.chmod(0o600)
        tmp.replace(self.passwd_path)  # atomic; Dovecot re-reads the file when its mtime changes

    def _oauth2_passdb(self) -> str:
        if not self.oauth2_introspection_url:
            return ""
        ext = self.workdir / "oauth2.conf.ext"
        ext.write_text(
            "introspection_mode = auth\n"
            f"introspection_url = {self.oauth2_introspection_url}\n"
            "username_attribute = username\n"
            "active_attribute = active\n"
            "active_value = true\n"
        )
        return f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {ext}\n}}\n"

    def _config(self) -> str:
        w = self.workdir
        if os.geteuid() == 0:
            # Dovecot refuses mail access as uid 0, and nobody cannot traverse a private (0700)
            # workdir, so mail processes chroot into the mail dir as root and then become nobody.
            login_user, internal_user, mail_user = "dovenull", "dovecot", MAIL_USER_AS_ROOT
            internal_group = "dovecot"
            chroot = f"mail_chroot = {self.mail_dir}\n"
            no_chroot = ""
        else:  # unprivileged: every Dovecot process runs as the invoking user
            login_user = internal_user = mail_user = pwd.getpwuid(os.getuid()).pw_name
            internal_group = grp.getgrgid(os.getgid()).gr_name
            chroot = ""
            no_chroot = "  chroot =\n"  # only root may chroot
        if self.tls:
            plain_port, tls_port = 0, self.port
            ssl_block = f"ssl = required\nssl_cert = <{self.ssl_cert}\nssl_key = <{self.ssl_key}\n"
        elif self.starttls:
            plain_port, tls_port = self.port, 0
            ssl_block = f"ssl = yes\nssl_cert = <{self.ssl_cert}\nssl_key = <{self.ssl_key}\n"
        else:
            plain_port, tls_port = self.port, 0
            ssl_block = "ssl = no\n"
        mail = self._mail_root
        return f"""\
# Generated by deploy.mailserver; nothing is included from /etc/dovecot.
instance_name = dovecot-{self.port}
base_dir = {w}/run
state_dir = {w}/state
log_path = {self.log_path}
protocols = imap
listen = 127.0.0.1
shutdown_clients = yes
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
first_valid_uid = 1
first_valid_gid = 1
mail_uid = {mail_user}
mail_gid = {grp.getgrgid(pwd.getpwnam(mail_user).pw_gid).gr_name}
{chroot}mail_location = maildir:{mail}/%u
mail_temp_dir = {mail}/.tmp
namespace inbox {{
  inbox = yes
  separator = /
}}
mailbox_idle_check_interval = 1 secs
lda_mailbox_autocreate = yes
lda_mailbox_autosubscribe = yes
postmaster_address = postmaster@localhost
auth_mechanisms = plain login{" xoauth2 oauthbearer" if self.oauth2_introspection_url else ""}
disable_plaintext_auth = no
auth_failure_delay = 0 secs
{ssl_block}ssl_min_protocol = TLSv1.2
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {self.passwd_path}
  mechanisms = plain login
}}
{self._oauth2_passdb()}
userdb {{
  driver = passwd-file
  args = {self.passwd_path}
}}
service auth {{
  # The invoking user, so it can read the passwd file inside a private workdir.
  user = {pwd.getpwuid(os.getuid()).pw_name}
}}
service anvil {{
{no_chroot}}}
service imap-login {{
{no_chroot}  inet_listener imap {{
    address = 127.0.0.1
    port = {plain_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
protocol imap {{
  mail_max_userip_connections = 1000
}}
"""

    def _prepare(self) -> None:
        for sub in ("run", "state"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        temp_dir = self.mail_dir / ".tmp"
        temp_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            nobody = pwd.getpwnam(MAIL_USER_AS_ROOT)
            for path in (self.mail_dir, temp_dir):
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
        self._write_passwd()
        self.config_path.write_text(self._config())

    def add_user(self, name: str, password: str) -> None:
        """Add (or change) a user; works while running since Dovecot re-reads the passwd file."""
        self._check_user(name, password)
        self._users[name] = password
        if self.passwd_path.parent.is_dir():
            self._write_passwd()

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Start ``dovecot -F`` and wait until it serves an IMAP greeting on ``port``."""
        if self.running:
            return
        self._prepare()
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                [DOVECOT, "-F", "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            if self._greeting_ok():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"Dovecot did not come up on {self.host}:{self.port}; log tail:\n{_tail(self.log_path)}"
        )

    def _greeting_ok(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as raw:
                sock: socket.socket = raw
                if self.tls:
                    sock = self._client_ssl_context().wrap_socket(raw)
                return sock.recv(1024).startswith(b"* OK")
        except OSError:
            return False

    def stop(self) -> None:
        """Terminate Dovecot (SIGTERM, then SIGKILL of its process group after a timeout)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
        # The master can exit before its client processes (imap, log, stats) do; a stopped server
        # must drop every connection, as a real outage would.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()

    def restart(self) -> None:
        """Stop and start again on the same port with the same data."""
        self.stop()
        self.start()

    # -- mail ----------------------------------------------------------------------------

    def deliver(self, user: str, raw: bytes, folder: str = "INBOX") -> None:
        """Deliver ``raw`` through dovecot-lda (as an MTA would); needs the server running.

        Like a real MTA's LDA, a ``folder`` that cannot be opened or created falls back to INBOX.
        """
        result = subprocess.run(
            [DOVECOT_LDA, "-c", str(self.config_path), "-d", user, "-m", folder],
            input=raw,
            capture_output=True,
            timeout=30,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"dovecot-lda exited {result.returncode} for {user}/{folder}: "
                f"{result.stderr.decode(errors='replace').strip()}\nlog tail:\n{_tail(self.log_path, 10)}"
            )

    def sessions(self) -> dict[str, int]:
        """How many IMAP connections each user has open right now (``doveadm who``)."""
        result = subprocess.run(["doveadm", "-c", str(self.config_path), "who", "-1"], capture_output=True,
                                text=True, timeout=30, check=True)
        counts: dict[str, int] = {}
        for line in result.stdout.splitlines()[1:]:
            fields = line.split()
            if len(fields) >= 2 and fields[1] == "imap":
                counts[fields[0]] = counts.get(fields[0], 0) + 1
        return counts

    def _client_ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # our own throwaway server; tests verify properly
        return context

    def login(self, user: str) -> IMAPClient:
        """Return an IMAPClient logged in as ``user`` (the caller logs out)."""
        client = IMAPClient(
            self.host,
            port=self.port,
            ssl=self.tls,
            ssl_context=self._client_ssl_context() if self.tls else None,
            timeout=10,
        )
        client.login(user, self._users[user])
        return client

    def append(
        self, user: str, raw: bytes, folder: str = "INBOX", flags: Iterable[str | bytes] = ()
    ) -> None:
        """Store ``raw`` in ``folder`` with IMAP APPEND, creating the folder if needed."""
        client = self.login(user)
        try:
            if folder.upper() != "INBOX" and not client.folder_exists(folder):
                client.create_folder(folder)
            client.append(folder, raw, flags=tuple(flags))
        finally:
            client.logout()


def main(argv: list[str] | None = None) -> None:
    """CLI: run a Dovecot instance until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--user", action="append", default=[], help="name:password (repeatable)")
    parser.add_argument("--port", type=int)
    parser.add_argument("--ssl-cert", type=Path)
    parser.add_argument("--ssl-key", type=Path)
    args = parser.parse_args(argv)
    if not args.user or any(":" not in spec for spec in args.user):
        parser.error("give at least one --user name:password")
    users = dict(spec.split(":", 1) for spec in args.user)
    server = Dovecot(args.workdir, users, port=args.port, ssl_cert=args.ssl_cert, ssl_key=args.ssl_key)
    with server:
        scheme = "imaps" if server.tls else "imap"
        print(f"Dovecot {scheme}://{server.host}:{server.port} users={','.join(users)} "
              f"log={server.log_path}  (Ctrl-C to stop)", flush=True)
        try:
            while server.running:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
