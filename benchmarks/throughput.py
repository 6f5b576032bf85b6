"""Measures a backlog drain: N emails waiting in the mailbox, one `intake run --once`, items and
acknowledgments per second."""
from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.common import machine, rig
from tests.mailgen import STYLES, client_email, corpus_texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--db",
                        help="database URL (default: SQLite in a temp dir); PostgreSQL gets a scratch schema")
    args = parser.parse_args()
    texts = corpus_texts("train")
    with tempfile.TemporaryDirectory() as tmp, rig(Path(tmp), args.db) as r:
        for i in range(args.count):
            t = texts[i % len(texts)]
            r.dovecot.append("support", bytes(client_email(i, t["subject"], t["body"], t["lang"],
                                                           STYLES[i % len(STYLES)],
                                                           domain=f"c{i % 37}.example")))
        subprocess.run(r.intake("db", "upgrade"), check=True, capture_output=True)
        start = time.monotonic()
        subprocess.run(r.intake("run", "--once"), check=True, capture_output=True)
        elapsed = time.monotonic() - start
        r.sink.wait_for(args.count, timeout=120)
    print(f"machine: {machine()}")
    print(f"database: {'SQLite' if not args.db else args.db.split(':')[0]}")
    print(f"{args.count} emails drained in {elapsed:.1f}s (process start and model load included): "
          f"{args.count / elapsed:.1f} emails/s, all acknowledged")


if __name__ == "__main__":
    main()
