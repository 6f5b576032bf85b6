"""Checks the configured SMTP server step by step, for `intake doctor`: connect, TLS, login, and whether it
takes our from address (MAIL FROM, then RSET: nothing is sent)."""
from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.utils import parseaddr

from responders.sender import SmtpSettings


@dataclass(frozen=True)
class SmtpCheck:
    """One line of the doctor's report, as intake.checks.Check (responders does not import intake)."""

    status: str
    name: str
    detail: str
    hint: str = ""


STEPS = ("connect", "TLS", "login", "from address")


def check_smtp(settings: SmtpSettings, from_address: str) -> list[SmtpCheck]:
    """The checks of the SMTP server in SETTINGS; the steps after a failed one are SKIP."""
    checks: list[SmtpCheck] = []
    where = f"{settings.host}:{settings.port}"

    def done(status: str, step: str, detail: str, hint: str = "") -> list[SmtpCheck]:
        checks.append(SmtpCheck(status, f"smtp: {step}", detail, hint))
        if status != "FAIL":
            return checks
        rest = STEPS[STEPS.index(step) + 1:]
        return checks + [SmtpCheck("SKIP", f"smtp: {s}", "not checked: an earlier step failed") for s in rest]

    try:
        socket.create_connection((settings.host, settings.port), timeout=settings.timeout).close()
    except OSError as exc:
        return done("FAIL", "connect", f"cannot connect to {where}: {_reason(exc)}",
                    "check smtp.host and smtp.port, and that the SMTP server runs and lets this host in")
    done("OK", "connect", where)
    context = ssl.create_default_context(cafile=settings.ca_file or None)
    conn: smtplib.SMTP | None = None
    try:
        try:
            if settings.security == "ssl":
                conn = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout,
                                        context=context)
            else:
                conn = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
                conn.ehlo()
                if settings.security == "starttls":
                    if not conn.has_extn("starttls"):
                        return done("FAIL", "TLS", f"{where} does not offer STARTTLS",
                                    "set smtp.security to \"ssl\" (port 465) or use the submission port 587")
                    conn.starttls(context=context)
                    conn.ehlo()
        except ssl.SSLCertVerificationError as exc:
            return done("FAIL", "TLS", f"certificate of {settings.host} not trusted: {exc.verify_message}",
                        "set smtp.ca_file to the CA that signed it, or give the server a certificate from a "
                        "public CA that names the host")
        except (ssl.SSLError, smtplib.SMTPException, OSError) as exc:
            return done("FAIL", "TLS", f"{settings.security}: {_reason(exc)}",
                        "check smtp.security: \"ssl\" for port 465, \"starttls\" for 587")
        if settings.security == "none":
            done("WARN", "TLS", "security = \"none\": mail (and a password) travel unencrypted",
                 "set smtp.security to \"starttls\" or \"ssl\" unless the server is on this host")
        else:
            done("OK", "TLS", f"{settings.security}, certificate verified")
        if settings.username:
            try:
                conn.login(settings.username, settings.password or "")
            except (smtplib.SMTPException, OSError) as exc:
                return done("FAIL", "login", f"refused for {settings.username}: {_reason(exc)}",
                            "check smtp.username and the password in smtp.password_env / password_file")
            done("OK", "login", f"as {settings.username}")
        else:
            done("OK", "login", "none configured (smtp.username is empty)")
        address = parseaddr(from_address)[1]
        try:
            code, reply = conn.mail(address)
            conn.rset()
        except (smtplib.SMTPException, OSError) as exc:
            return done("FAIL", "from address", f"MAIL FROM:<{address}> failed: {_reason(exc)}",
                        "check the server is up and smtp.from_address")
        if code != 250:
            return done("FAIL", "from address", f"MAIL FROM:<{address}> refused: {code} {_text(reply)}",
                        "use an address this login may send as, in smtp.from_address")
        return done("OK", "from address", f"{address} accepted")
    finally:
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()


def _text(reply: bytes) -> str:
    return " ".join(reply.decode(errors="replace").split())[:200]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return " ".join(str(text).split())[:200] or type(exc).__name__
