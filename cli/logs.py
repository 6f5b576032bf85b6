"""Structured logging: one event per line, key=value text or JSON."""
from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone


class KeyValueFormatter(logging.Formatter):
    """`ts=... level=... logger=... event=... key=value` lines."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        line = f"ts={ts} level={record.levelname.lower()} logger={record.name} {record.getMessage()}"
        if record.exc_info:
            line += " exc=" + json.dumps(self.formatException(record.exc_info))
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line; key=value pairs of the message become fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        msg = record.getMessage()
        fields = [part.split("=", 1) for part in msg.split(" ") if "=" in part]
        if fields and all(len(f) == 2 for f in fields):
            out.update({k: v.strip('"') for k, v in fields})
        out["msg"] = msg
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler writing to whatever sys.stderr is when a record comes, not what it was at setup."""

    @property  # type: ignore[override]
    def stream(self):  # type: ignore[no-untyped-def]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # type: ignore[no-untyped-def]
        pass  # always the current sys.stderr


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    """Sends logs to stderr in FMT ("text" or "json")."""
    handler = _Stderr()
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("imapclient", "sqlalchemy.engine", "uvicorn.access", "httpx", "alembic", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
