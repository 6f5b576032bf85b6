"""How long the worker's SLA check and the SLA report take over 10,000 items on a business calendar.

Seeds a database (SQLite by default, or --db-url) with ITEMS items from 20 organizations over 20 weeks,
each with a policy snapshot on a Chinese business calendar, a third of them resolved, some paused
while awaiting the client's approval; then times the SLA check (every open item's state, as the worker
does each `sla.check_seconds`) and the report for the whole period in each format.
Usage: python -m benchmarks.sla [--items 10000] [--repeat 3] [--db-url URL]
"""
from __future__ import annotations

import argparse
import random
import tempfile
import time
import tomllib
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from benchmarks.common import machine, scratch_schema, summary
from db.engine import make_engine, make_sessionmaker
from db.migrate import upgrade
from db.models import CATEGORIES, Contact, Event, Item, Organization
from intake.config import parse_config
from reports.render import render_sla
from reports.sla import compute_sla
from responders.sla_warnings import check_sla

CONFIG = """
[sla]
default_policy = "office"
[sla.calendars.office]
timezone = "Asia/Shanghai"
country = "CN"
hours = { weekdays = "09:00-12:00, 13:00-18:00" }
[sla.policies.office]
calendar = "office"
[sla.policies.office.targets]
issue = { acknowledge = "5m", first_response = "4h", resolution = "40h" }
change_request = { acknowledge = "5m", first_response = "8h" }
question = { acknowledge = "5m", first_response = "8h", resolution = "16h" }
feedback = { acknowledge = "5m", first_response = "24h", resolution = "80h" }
"""
START = datetime(2026, 7, 6, tzinfo=timezone.utc)  # a Monday


def seed(url: str, count: int, cfg) -> datetime:
    rng = random.Random(11)
    factory = make_sessionmaker(make_engine(url))
    snapshot = cfg.sla.built.for_tier("").snapshot()
    span = timedelta(weeks=20)
    with factory.begin() as s:
        orgs = [Organization(name=f"Client {i:02d}", domain=f"client{i:02d}.example") for i in range(20)]
        contacts = [Contact(email=f"p{j}@client{j % 20:02d}.example",
                            organization=orgs[j % 20]) for j in range(200)]
        s.add_all(orgs + contacts)
        s.flush()
        for n in range(1, count + 1):
            received = START + span * (n / count)
            category = rng.choice(CATEGORIES)
            item = Item(ref=f"CI-{n:06d}", subject=f"Subject {n}", category=category, status="new",
                        contact_id=contacts[n % 200].id, received_at=received, sla=snapshot,
                        acknowledged_at=received + timedelta(seconds=rng.uniform(2, 400)))
            if rng.random() < 0.8:
                item.first_response_at = received + timedelta(hours=rng.uniform(0.2, 30))
            if rng.random() < 0.33:
                item.resolved_at = received + timedelta(hours=rng.uniform(2, 200))
                item.status = "closed"
            s.add(item)
            s.flush()
            if category == "change_request" and rng.random() < 0.5:
                s.add(Event(item_id=item.id, kind="assessment_sent", created_at=received + timedelta(hours=3),
                            data={"status": "awaiting_approval"}))
                s.add(Event(item_id=item.id, kind="approved", created_at=received + timedelta(hours=40),
                            data={"to": "approved"}))
    return START + span


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db-url")
    args = parser.parse_args()
    cfg = parse_config(tomllib.loads(CONFIG))
    with tempfile.TemporaryDirectory() as tmp, scratch_schema(args.db_url
                                                              or f"sqlite:///{Path(tmp) / 'b.db'}") as url:
        upgrade(make_engine(url))
        t = time.perf_counter()
        end = seed(url, args.items, cfg)
        print(f"{machine()}\nseeded {args.items} items in {time.perf_counter() - t:.1f} s "
              f"({url.split(':')[0]})")
        factory = make_sessionmaker(make_engine(url))
        checks = []
        for i in range(args.repeat):
            t = time.perf_counter()
            result = check_sla(factory, cfg, end + timedelta(minutes=i))
            checks.append(time.perf_counter() - t)
            print(f"  check {i + 1}: {checks[-1]:.2f} s, {result.changed} states changed, "
                  f"{result.warned} clocks warned")
        print(f"SLA check over open items: {summary(checks)}")
        for by in ("category", "organization", "week"):
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                with factory() as s:
                    report = compute_sla(s, cfg.sla.built, date(2026, 7, 6), date(2026, 11, 22), by=by,
                                         now=end)
                times.append(time.perf_counter() - t)
            print(f"report --by {by}: compute {summary(times)}")
        for fmt in ("json", "csv", "html"):
            t = time.perf_counter()
            size = len(render_sla(report, fmt, "http://127.0.0.1:8025"))
            print(f"render {fmt}: {time.perf_counter() - t:.3f} s, {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
