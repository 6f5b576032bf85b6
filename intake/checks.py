"""One line of a check report (`intake doctor`): what was checked, how it went, and what to do about it."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """STATUS is OK, WARN (works, but look), FAIL or SKIP (not checked: an earlier step failed); HINT says
    what to do about a FAIL or WARN."""

    status: str
    name: str
    detail: str
    hint: str = ""
