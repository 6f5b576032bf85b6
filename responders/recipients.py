"""The one rule for whether we may send mail to an address: syntax and special-use domains, no DNS."""
from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

# RFC 5321 caps an address at 254 octets; longer input is refused before the library parses it.
_MAX_INPUT = 1000


def deliverable(address: str) -> str | None:
    """ADDRESS normalized if we may send mail to it, else None."""
    if not isinstance(address, str) or not address or len(address) > _MAX_INPUT:
        return None
    try:
        # Every option is spelled out: email_validator's module-level defaults are global and mutable.
        valid = validate_email(
            address,
            check_deliverability=False,
            allow_smtputf8=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
            allow_empty_local=False,
            globally_deliverable=True,
            test_environment=False,
        )
    except (EmailNotValidError, ValueError):
        # UnicodeError is a ValueError: lone surrogates from undecodable header bytes end here too.
        return None
    normalized = valid.normalized
    # allow_smtputf8=False still accepts IDN domains (their Unicode form comes back); we send ASCII only.
    if not normalized.isascii():
        return None
    local, _, domain = normalized.rpartition("@")
    return f"{local}@{domain.lower()}"
