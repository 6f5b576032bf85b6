"""The worker's health endpoints on worker.health_address: /healthz (the process answers) and /readyz
(database
reachable and migrated, model loaded), and /metrics with worker.metrics on, served by the standard library in
a thread of their own."""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from sqlalchemy import Engine

from db.revision import schema_problem

log = logging.getLogger("intake.health")

# Problems that keep the worker from serving, by component ("database", "model"); empty when ready.
Readiness = Callable[[], dict[str, str]]
# The body of a /metrics answer and its content type (intake.metrics.exposition).
Exposition = Callable[[], tuple[bytes, str]]


def worker_readiness(engine: Engine, model: Future) -> Readiness:
    """The worker's readiness: the database behind ENGINE at the code's revision, and MODEL loaded."""

    def check() -> dict[str, str]:
        problems = {}
        db = schema_problem(engine)
        if db is not None:
            problems["database"] = db
        if not model.done():
            problems["model"] = "still loading"
        elif model.exception() is not None:
            problems["model"] = f"failed to load: {model.exception()}"
        return problems

    return check


def supervisor_readiness(engine: Engine, dead: Callable[[], list[int]]) -> Readiness:
    """Readiness of `intake run --processes N`: the database behind ENGINE, and no worker process down (DEAD
    lists the indexes of those that are not running)."""

    def check() -> dict[str, str]:
        problems = {}
        db = schema_problem(engine)
        if db is not None:
            problems["database"] = db
        down = dead()
        if down:
            problems["processes"] = "not running: " + ", ".join(map(str, down))
        return problems

    return check


def start_health_server(address: str, ready: Readiness, metrics: Exposition | None = None) -> HealthServer:
    """A started HealthServer on ADDRESS ("HOST:PORT"), answering /metrics too with METRICS; a port that
    cannot be had is a ConfigError."""
    from intake.config import ConfigError

    host, _, port = address.rpartition(":")
    try:
        server = HealthServer(host.strip("[]"), int(port), ready, metrics)
    except OSError as exc:
        raise ConfigError(f"worker.health_address: cannot listen on {address}: "
                          f"{exc.strerror or exc}") from None
    return server.start()


class HealthServer:
    """Answers GET /healthz and /readyz (and /metrics with METRICS) on (HOST, PORT) until closed."""

    def __init__(self, host: str, port: int, ready: Readiness, metrics: Exposition | None = None) -> None:
        handler = _handler(ready, metrics)
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="health", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server.server_address[:2]
        return str(host), int(port)

    def start(self) -> HealthServer:
        self.thread.start()
        log.info("event=health_listening address=%s:%d", *self.address)
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler(ready: Readiness, metrics: Exposition | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            path = urlsplit(self.path).path
            if path == "/healthz":
                self._answer(200, {"ok": True})
            elif path == "/readyz":
                try:
                    problems = ready()
                except Exception as exc:  # a failing check is an answer ("not ready"), never a dead endpoint
                    problems = {"check": f"{type(exc).__name__}: {exc}"}
                if problems:
                    log.warning("event=not_ready %s", " ".join(f"{k}={v!r}" for k, v in problems.items()))
                self._answer(503 if problems else 200, {"ok": not problems, **problems})
            elif path == "/metrics" and metrics is not None:
                try:
                    data, content_type = metrics()
                except Exception:  # a broken collector answers 500 and is logged; the health checks go on
                    log.exception("event=metrics_failed")
                    self._answer(500, {"error": "metrics failed; see the log"})
                else:
                    self._send(200, data, content_type)
            else:
                self._answer(404, {"error": "not found; try /healthz or /readyz"})

        def _answer(self, status: int, body: dict[str, object]) -> None:
            self._send(status, json.dumps(body).encode(), "application/json")

        def _send(self, status: int, data: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
            pass  # probes every few seconds would drown the worker's log

    return Handler
