"""Each person's time zone: the one a request's times are shown in, and the zones a person may choose."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from starlette.types import ASGIApp, Receive, Scope, Send

UTC = "UTC"
_current: ContextVar[str] = ContextVar("time_zone", default=UTC)


@cache
def zone_choices() -> tuple[str, ...]:
    """The IANA time zones a person may choose, sorted (UTC first)."""
    return (UTC, *sorted(z for z in available_timezones() if z != UTC and "/" in z
                         and not z.startswith("Etc/")))


def valid_zone(name: str) -> bool:
    """Whether NAME is one of zone_choices()."""
    return name in zone_choices()


def current_zone() -> str:
    """The time zone of the request being handled."""
    return _current.get()


def local_text(value: datetime | None, zone: bool = True) -> str:
    """VALUE in the request's time zone as "2026-11-23 16:15 Asia/Shanghai" ("... UTC"; without the zone's
    name when not ZONE), or an em dash for none."""
    if value is None:
        return "\u2014"
    name = _current.get()
    local = value.astimezone(timezone.utc if name == UTC else ZoneInfo(name))
    text = local.strftime("%Y-%m-%d %H:%M")
    return f"{text} {name}" if zone else text


@contextmanager
def showing(name: str) -> Iterator[None]:
    """Runs the block with times shown in the zone NAME (UTC when it is no known zone)."""
    token = _current.set(name if valid_zone(name) else UTC)
    try:
        yield
    finally:
        _current.reset(token)


class TimeZone:
    """Sets the request's time zone: the signed-in user's choice, else DEFAULT (sla.report_timezone)."""

    def __init__(self, app: ASGIApp, default: str = UTC) -> None:
        self.app, self.default = app, default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with showing(getattr(scope.get("viewer"), "time_zone", "") or self.default):
            await self.app(scope, receive, send)
