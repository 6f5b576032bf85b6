"""Health endpoints: /healthz answers while the process lives; /readyz fails while the database is down or not
migrated (and, on the worker, until the model is loaded) and recovers by itself."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from starlette.testclient import TestClient

from db.engine import make_engine, make_sessionmaker
from db.migrate import upgrade
from deploy.mailserver import free_port
from review.app import create_app
from tests.integration.conftest import start_worker
from tests.processes import children
from tests.tcpproxy import TcpProxy

pytestmark = pytest.mark.integration


def _get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=15) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _until(url: str, status: int, timeout: float = 60) -> dict[str, object]:
    """The answer of URL once it has STATUS; fails with the last answer when it never does within TIMEOUT."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            code, body = _get(url)
        except OSError as exc:  # not listening yet
            last = exc
        else:
            if code == status:
                return body
            last = (code, body)
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered {status}; last: {last}")


@contextmanager
def _proxied(pg_url: str) -> Iterator[tuple[TcpProxy, str]]:
    """PG_URL reached through a proxy the test can cut."""
    parts = urlsplit(pg_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    proxy.start()
    try:
        yield proxy, urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    finally:
        proxy.stop()


def test_worker_readyz_follows_the_database(pg_url, config_for):
    port = free_port()
    with _proxied(pg_url) as (proxy, via_proxy):
        cfg = config_for(via_proxy, extra=f'[worker]\nhealth_address = "127.0.0.1:{port}"\n')
        worker = start_worker(cfg)
        base = f"http://127.0.0.1:{port}"
        try:
            assert _until(f"{base}/readyz", 200) == {"ok": True}
            assert _get(f"{base}/healthz") == (200, {"ok": True})
            proxy.stop()
            down = _until(f"{base}/readyz", 503)
            assert "cannot connect" in str(down["database"]) and "model" not in down
            assert _get(f"{base}/healthz") == (200, {"ok": True})  # alive, only not ready
            proxy.start()
            assert _until(f"{base}/readyz", 200) == {"ok": True}
            assert _get(f"{base}/nothing")[0] == 404
        finally:
            worker.terminate()
            _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    assert "event=health_listening" in err and "event=not_ready" in err


def test_worker_health_address_in_use_is_one_clear_line(sqlite_url, config_for):
    import socket

    from tests.integration.conftest import run_intake

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        cfg = config_for(sqlite_url, extra=f'[worker]\nhealth_address = "127.0.0.1:{port}"\n')
        assert run_intake(cfg, "db", "upgrade").returncode == 0
        result = run_intake(cfg, "run", timeout=120)
    assert result.returncode == 2
    assert f"worker.health_address: cannot listen on 127.0.0.1:{port}" in result.stderr


def test_web_readyz_follows_the_database(pg_url, sqlite_url):
    with _proxied(pg_url) as (proxy, via_proxy):
        engine = make_engine(via_proxy)
        upgrade(engine)
        with TestClient(create_app(make_sessionmaker(engine))) as c:
            assert c.get("/readyz").json() == {"ok": True, "database": "ok"}
            proxy.stop()
            r = c.get("/readyz")
            assert r.status_code == 503 and r.json() == {"ok": False, "database": "unreachable"}
            h = c.get("/healthz")
            assert h.status_code == 200 and h.json() == {"ok": True}
            proxy.start()
            assert c.get("/readyz").status_code == 200
        engine.dispose()


def test_web_readyz_wants_the_latest_schema(sqlite_url):
    engine = make_engine(sqlite_url)
    upgrade(engine, "0009")
    with TestClient(create_app(make_sessionmaker(engine))) as c:
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json() == {"ok": False, "database": "not migrated"}
        upgrade(engine)
        assert c.get("/readyz").json() == {"ok": True, "database": "ok"}
    engine.dispose()


def test_supervisor_readyz_notices_a_dead_worker_process(sqlite_url, config_for):
    import os
    import signal
    import subprocess

    from tests.integration.conftest import intake_command, run_intake

    port = free_port()
    cfg = config_for(sqlite_url, extra=f'[worker]\nhealth_address = "127.0.0.1:{port}"\n')
    assert run_intake(cfg, "db", "upgrade").returncode == 0
    proc = subprocess.Popen(intake_command(cfg, "run", "--processes", "2"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        assert _until(f"{base}/readyz", 200) == {"ok": True}
        # The spawned worker processes, not multiprocessing's resource tracker.
        workers = [p for p in children(proc.pid) if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text()]
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        down = _until(f"{base}/readyz", 503, timeout=10)
        assert str(down["processes"]).startswith("not running")
        assert _until(f"{base}/readyz", 200) == {"ok": True}  # restarted by the supervisor
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=90)
    assert "event=worker_process_exited" in err
