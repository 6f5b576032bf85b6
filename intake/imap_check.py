"""Checks one configured mailbox against its real server, step by step, for `intake doctor`: connect, TLS
certificate, login, folder, IDLE, and the server's clock."""
from __future__ import annotations

import socket
import ssl
import uuid
from datetime import datetime, timezone

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from intake.checks import Check
from intake.config import MailboxConfig
from intake.imap import quiet_protocol_log

# Beyond this, times the server stamps on mail and our own clock disagree enough to mislead SLA figures.
MAX_SKEW_SECONDS = 30.0
PROBE_MESSAGE = b"From: intake doctor <doctor@localhost>\r\nSubject: clock check\r\n\r\nDeleted at once.\r\n"


def check_mailbox(box: MailboxConfig, key: str, password: str, timeout: float = 15.0) -> list[Check]:
    """The checks of mailbox BOX (configured as KEY, e.g. "mailboxes[0]") logging in with PASSWORD (or its
    OAuth2 token source); the steps after a failed one are SKIP."""
    name = f"mailbox {box.name}"
    checks: list[Check] = []

    def skip_rest(*steps: str) -> list[Check]:
        return checks + [Check("SKIP", f"{name}: {s}", "not checked: an earlier step failed") for s in steps]

    where = f"{box.host}:{box.port}"
    try:
        socket.create_connection((box.host, box.port), timeout=timeout).close()
    except OSError as exc:
        checks.append(Check("FAIL", f"{name}: connect", f"cannot connect to {where}: {_reason(exc)}",
                            f"check {key}.host and {key}.port, and that the IMAP server runs and lets this "
                            "host in"))
        return skip_rest("TLS", "login", "folder", "IDLE", "clock")
    checks.append(Check("OK", f"{name}: connect", where))

    context = ssl.create_default_context(cafile=box.ca_file or None)
    try:
        client = IMAPClient(box.host, port=box.port, ssl=box.security == "ssl",
                            ssl_context=context if box.security == "ssl" else None, timeout=timeout)
        quiet_protocol_log(client)
        if box.security == "starttls":
            client.starttls(context)
    except ssl.SSLCertVerificationError as exc:
        checks.append(Check("FAIL", f"{name}: TLS",
                            f"certificate of {box.host} not trusted: {exc.verify_message}",
                            f"set {key}.ca_file to the CA that signed it, or give the server a certificate "
                            "from a public CA that names the host"))
        return skip_rest("login", "folder", "IDLE", "clock")
    except (ssl.SSLError, IMAPClientError, OSError) as exc:
        hint = (f"check {key}.security: \"ssl\" for port 993, \"starttls\" for 143" if box.security != "none"
                else f"check {key}.port")
        checks.append(Check("FAIL", f"{name}: TLS", f"{box.security}: {_reason(exc)}", hint))
        return skip_rest("login", "folder", "IDLE", "clock")
    if box.security == "none":
        checks.append(Check("WARN", f"{name}: TLS",
                            "security = \"none\": password and mail travel unencrypted",
                            f"set {key}.security to \"ssl\" or \"starttls\" unless the server is on this "
                            "host"))
    else:
        checks.append(Check("OK", f"{name}: TLS", f"{box.security}, certificate verified"))
    try:
        return checks + _logged_in(client, box, key, name, password)
    finally:
        try:
            client.logout()
        except Exception:  # the connection may be gone already; nothing to report beyond what was found
            try:
                client.shutdown()
            except Exception:
                pass


def _logged_in(client: IMAPClient, box: MailboxConfig, key: str, name: str, password: str) -> list[Check]:
    checks = []
    try:
        if box.auth == "xoauth2":
            client.oauth2_login(box.username, box.token.read())
        else:
            client.login(box.username, password)
    except (LoginError, OSError) as exc:
        source = (f"{key}.oauth2_token_command / oauth2_token_file" if box.auth == "xoauth2"
                  else f"the password in {key}.password_env / password_file")
        return [Check("FAIL", f"{name}: login", f"refused for {box.username}: {_reason(exc)}",
                      f"check {key}.username and {source}")] + [
            Check("SKIP", f"{name}: {s}", "not checked: an earlier step failed")
            for s in ("folder", "IDLE", "clock")]
    checks.append(Check("OK", f"{name}: login", f"as {box.username}"))
    client.normalise_times = False
    if client.folder_exists(box.folder):
        checks.append(Check("OK", f"{name}: folder", box.folder))
    else:
        known = ", ".join(sorted(str(f[2]) for f in client.list_folders()))[:200]
        checks.append(Check("FAIL", f"{name}: folder",
                            f"{box.folder!r} does not exist (the server has: {known})",
                            f"set {key}.folder to one of them"))
    if client.has_capability("IDLE"):
        checks.append(Check("OK", f"{name}: IDLE",
                            "supported" if box.idle else f"supported, but {key}.idle = false"))
    else:
        checks.append(Check("WARN", f"{name}: IDLE",
                            f"not offered: the worker polls every {box.poll_seconds:g} s",
                            f"lower {key}.poll_seconds for faster acknowledgments, or use a server with "
                            "IDLE"))
    checks.append(_clock(client, name))
    return checks


def _clock(client: IMAPClient, name: str) -> Check:
    """The server's clock against ours: the date it stamps on a message appended to a folder made for the
    purpose (never the watched one, where the worker would take the message in), deleted right after."""
    folder = f"intake-doctor-{uuid.uuid4().hex[:8]}"
    try:
        client.create_folder(folder)
    except IMAPClientError as exc:
        return Check("WARN", f"{name}: clock",
                     f"not measured: the server refused a scratch folder ({_reason(exc)})",
                     "keep this host's clock in step with NTP")
    try:
        before = datetime.now(timezone.utc)
        client.append(folder, PROBE_MESSAGE)
        after = datetime.now(timezone.utc)
        client.select_folder(folder, readonly=True)
        fetched = client.fetch(client.search("ALL"), ["INTERNALDATE"])
        stamped = next(iter(fetched.values()))[b"INTERNALDATE"]
        client.unselect_folder() if client.has_capability("UNSELECT") else client.close_folder()
    except (IMAPClientError, OSError, StopIteration, KeyError) as exc:
        return Check("WARN", f"{name}: clock", f"not measured: {_reason(exc)}",
                     "keep this host's clock in step "
                     "with NTP")
    finally:
        try:
            client.delete_folder(folder)
        except IMAPClientError:
            pass
    if stamped.tzinfo is None:
        stamped = stamped.replace(tzinfo=timezone.utc)
    # The server's date has whole seconds: it is right if it falls in the second around our two readings.
    ours = before + (after - before) / 2
    skew = (stamped - ours).total_seconds()
    if abs(skew) <= MAX_SKEW_SECONDS:
        return Check("OK", f"{name}: clock", f"within {max(abs(skew), 1):.0f} s of the server's")
    return Check("FAIL", f"{name}: clock", f"{abs(skew):.0f} s {'behind' if skew > 0 else 'ahead of'} the "
                 "server's", "run NTP (e.g. systemd-timesyncd or chrony) on this host and the mail server")


def _reason(exc: BaseException) -> str:
    first = exc.args[0] if exc.args else None
    if isinstance(first, bytes):  # imapclient passes the server's words on as bytes
        text = first.decode(errors="replace")
    else:
        text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if text.startswith(("b'", 'b"')) and text.endswith(text[1]):  # its bytes, already turned into a repr
            text = text[2:-1]
    return " ".join(str(text).split())[:200] or type(exc).__name__
