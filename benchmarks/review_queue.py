"""How fast the PM queue answers over HTTP with 10,000 items: first page, filters, search, deep pages.

Seeds a database (SQLite by default, or --db-url) with ITEMS items from 20 client organizations,
each with a message and a classification event, serves the review app with uvicorn, signs in as an
admin and as a PM of two organizations, and times each request from the client's side.
Usage: python -m benchmarks.review_queue [--items 10000] [--repeat 30] [--db-url URL]
"""
from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from benchmarks.common import machine, scratch_schema, summary
from db.engine import make_engine, make_sessionmaker
from db.migrate import upgrade
from db.models import CATEGORIES, Contact, Event, Item, Message, Organization
from review.app import create_app
from tests.web import PASSWORD, add_user, csrf_from, serving

WORDS = ("export login invoice report dashboard timeout permission upload password schedule budget "
         "发票 登录 报表 导出 权限 上线").split()
QUERIES = {
    "first page": "/",
    "needs review": "/?review=1",
    "category + status": "/?category=issue&status=new",
    "search one word": "/?q=invoice",
    "search two words": "/?q=export+timeout",
    "date range": "/?since=2026-06-01&until=2026-06-30",
    "page 100": "/?page=100",
    "least confident": "/?sort=confidence",
}


def seed(url: str, count: int) -> None:
    rng = random.Random(5)
    factory = make_sessionmaker(make_engine(url))
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with factory.begin() as s:
        orgs = [Organization(name=f"Client {i:02d}", domain=f"client{i:02d}.example") for i in range(20)]
        contacts = [Contact(email=f"person{j}@client{j % 20:02d}.example", name=f"Person {j}",
                            organization=orgs[j % 20]) for j in range(200)]
        s.add_all(orgs + contacts)
        s.flush()
        for n in range(1, count + 1):
            received = start + timedelta(minutes=47 * n)
            words = " ".join(rng.choice(WORDS) for _ in range(12))
            category = rng.choice(CATEGORIES)
            confidence = rng.random()
            item = Item(ref=f"CI-{n:06d}", subject=f"Subject {n}: {words[:40]}", category=category,
                        confidence=confidence, needs_review=confidence < 0.5, status="new", lang="en",
                        contact_id=contacts[n % 200].id, received_at=received, model_version="bench")
            s.add(item)
            s.flush()
            s.add(Message(item_id=item.id, direction="in", message_id=f"<b{n}@bench>",
                          sender=contacts[n % 200].email,
                          subject=item.subject, body_text=f"Hello, {words}. Thanks", new_text=words,
                          received_at=received, raw=b"x"))
            s.add(Event(item_id=item.id, kind="classified", created_at=received,
                        data={"label": category, "confidence": confidence}))
    add_user(factory, "lead@bench.example", "admin")
    add_user(factory, "pm@bench.example", "pm", orgs=("client00.example", "client01.example"))


def timed(client: httpx.Client, path: str, repeat: int) -> list[float]:
    client.get(path).raise_for_status()  # warm
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        r = client.get(path)
        out.append(time.perf_counter() - t)
        r.raise_for_status()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--db-url", help="database URL (default: SQLite in a temporary directory)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp, scratch_schema(args.db_url
                                                              or f"sqlite:///{Path(tmp) / 'q.db'}") as url:
        engine = make_engine(url)
        upgrade(engine)
        t = time.perf_counter()
        seed(url, args.items)
        print(f"seeded {args.items} items in {time.perf_counter() - t:.1f}s on {engine.dialect.name}")
        with serving(create_app(make_sessionmaker(engine))) as base:
            for who in ("lead@bench.example", "pm@bench.example"):
                with httpx.Client(base_url=base) as client:
                    token = csrf_from(client.get("/login").text)
                    client.post("/login", data={"email": who, "password": PASSWORD, "csrf_token": token})
                    print(f"-- signed in as {who}")
                    for name, path in QUERIES.items():
                        print(f"{name:18} "
                              f"{summary([v * 1000 for v in timed(client, path, args.repeat)], 'ms')}",
                              flush=True)


if __name__ == "__main__":
    main()
