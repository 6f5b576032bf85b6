"""Prometheus metrics: a running worker counts what it fetched, stored, classified and acknowledged, scraped
over HTTP from its health address; the web app counts its requests by route template and status."""
from __future__ import annotations

import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from starlette.testclient import TestClient

from classifiers import LABELS
from db.engine import make_engine, make_sessionmaker
from db.models import Item, OutboxMail
from deploy.mailserver import free_port
from review.app import create_app
from review.settings import WebSettings
from tests.integration.conftest import intake_command, run_intake, start_worker
from tests.mailgen import client_batch
from tests.web import signed_in

pytestmark = pytest.mark.integration
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape by name and labels (sorted), e.g. ("intake_x_total", (("mailbox", "a"),))."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(url: str) -> Samples:
    with urllib.request.urlopen(url, timeout=15) as r:
        assert r.headers["Content-Type"].startswith("text/plain")
        return parse(r.read().decode())


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of NAME's samples whose labels include LABELS."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))


def by_label(samples: Samples, name: str, label: str) -> dict[str, float]:
    return {dict(ls)[label]: v for (n, ls), v in samples.items() if n == name and v}


def scrape_until(url: str, done, timeout: float = 120) -> Samples:  # type: ignore[no-untyped-def]
    """The first scrape of URL for which DONE(samples) holds; fails with the last if none does in TIMEOUT."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            samples = scrape(url)
        except OSError as exc:  # not listening yet
            last = exc
        else:
            if done(samples):
                return samples
            last = samples
        time.sleep(0.3)
    raise AssertionError(f"{url} never showed what was expected; last: {last}")


def _check_twenty(samples: Samples, db_url: str, acks: int) -> None:
    """SAMPLES count the twenty emails as the database holds them."""
    assert total(samples, "intake_messages_fetched_total", mailbox="support") == 20
    assert total(samples, "intake_messages_stored_total", mailbox="support") == 20
    assert total(samples, "intake_messages_stored_total", mailbox="support", outcome="new_item") == 20
    assert total(samples, "intake_messages_quarantined_total") == 0
    assert total(samples, "intake_ack_latency_seconds_count") == acks
    assert total(samples, "intake_ack_latency_seconds_sum") >= 0
    # Every acknowledgment falls in the histogram's last bucket; the buckets only grow.
    buckets = sorted((float(dict(ls)["le"]), v) for (n, ls), v in samples.items()
                     if n == "intake_ack_latency_seconds_bucket")
    assert buckets[-1] == (float("inf"), acks)
    assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:], strict=False))
    labels = by_label(samples, "intake_classifications_total", "label")
    assert set(labels) <= set(LABELS) and sum(labels.values()) == 20
    flagged = by_label(samples, "intake_classifications_flagged_total", "label")
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as s:
        per_category = select(Item.category, func.count()).group_by(Item.category)
        assert labels == {c: float(n) for c, n in s.execute(per_category)}
        assert flagged == {c: float(n) for c, n in s.execute(per_category.where(Item.needs_review))}
        sent = s.scalar(select(func.count()).where(OutboxMail.status == "sent"))
    engine.dispose()
    assert total(samples, "intake_outbox_messages", status="sent") == sent == acks
    assert total(samples, "intake_outbox_messages", status="pending") == 0
    assert total(samples, "intake_outbox_oldest_pending_age_seconds") == 0
    assert total(samples, "intake_imap_connected", mailbox="support") == 1
    assert total(samples, "intake_mailbox_seconds_since_sync", mailbox="support") >= 0
    assert ("intake_sla_items", (("state", "breached"),)) in samples
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for name in {re.sub(r"_(bucket|count|sum)$", "", n) for n, _ in samples if n.startswith("intake_")}:
        assert f"| `{name}` |" in readme, f"{name} is not in the README's metrics table"


def test_worker_counts_twenty_emails(sqlite_url, dovecot, smtp_sink, config_for):
    for mail in client_batch(20):
        dovecot.deliver("support", bytes(mail))
    port = free_port()
    cfg = config_for(sqlite_url, extra=f'[worker]\nhealth_address = "127.0.0.1:{port}"\nmetrics = true\n')
    worker = start_worker(cfg)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        acks = len(smtp_sink.wait_for(20, timeout=120))
        samples = scrape_until(url, lambda s: total(s, "intake_ack_latency_seconds_count") >= acks)
        _check_twenty(samples, sqlite_url, acks)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=15) as r:
            assert r.status == 200  # the same address still answers the health checks
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    assert "Traceback" not in err


def test_worker_processes_add_up_their_metrics(sqlite_url, dovecot, smtp_sink, config_for):
    """With --processes 2 the supervisor answers for both processes, whichever of them took the mail."""
    for mail in client_batch(20):
        dovecot.deliver("support", bytes(mail))
    port = free_port()
    cfg = config_for(sqlite_url, extra=f'[worker]\nhealth_address = "127.0.0.1:{port}"\nmetrics = true\n')
    assert run_intake(cfg, "db", "upgrade").returncode == 0
    proc = subprocess.Popen(intake_command(cfg, "run", "--processes", "2"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        acks = len(smtp_sink.wait_for(20, timeout=180))
        samples = scrape_until(url, lambda s: total(s, "intake_ack_latency_seconds_count") >= acks)
        _check_twenty(samples, sqlite_url, acks)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err


def test_worker_metrics_are_off_by_default(sqlite_url, config_for):
    from tests.integration.test_health import _until

    port = free_port()
    worker = start_worker(config_for(sqlite_url, extra=f'[worker]\nhealth_address = "127.0.0.1:{port}"\n'))
    try:
        _until(f"http://127.0.0.1:{port}/readyz", 200)
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=15)
        assert missing.value.code == 404
    finally:
        worker.terminate()
        worker.communicate(timeout=60)


def test_web_app_counts_requests_by_route_and_status(factory):
    app = create_app(factory, WebSettings(metrics=True, metrics_token="scrape-token"))
    with TestClient(app, follow_redirects=False) as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/items/CI-000001").status_code == 303  # anonymous: sent to the sign-in page
        assert c.get("/no/such/page").status_code == 303
        signed_in(c, factory)
        assert c.get("/items/CI-000404").status_code == 404
        assert c.get("/items/CI-000405").status_code == 404
        assert c.get("/metrics").status_code == 401  # a user's API token is not the metrics token
        r = c.get("/metrics", headers={"Authorization": "Bearer scrape-token"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    samples = parse(r.text)
    counted = Counter({(dict(ls)["route"], dict(ls)["status"]): v for (n, ls), v in samples.items()
                       if n == "intake_http_requests_total"})
    assert counted[("/healthz", "200")] == 1
    assert counted[("/items/{ref}", "303")] == 1
    assert counted[("/items/{ref}", "404")] == 2
    assert counted[("(unmatched)", "303")] == 1
    assert counted[("/metrics", "401")] == 1
    assert not any("CI-0" in route for route, _ in counted)  # templates, never the addresses themselves


def test_web_metrics_are_off_by_default(factory):
    with TestClient(create_app(factory), follow_redirects=False) as c:
        assert c.get("/metrics").status_code == 404
