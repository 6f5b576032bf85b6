"""Measures time from delivery into the mailbox to the acknowledgment arriving at the SMTP server, with `intake run` on IDLE."""
from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.common import machine, rig, summary
from tests.mailgen import client_batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20, help="emails delivered one at a time")
    parser.add_argument("--db", help="database URL (default: SQLite in a temp dir); PostgreSQL gets a scratch schema")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, rig(Path(tmp), args.db) as r:
        subprocess.run(r.intake("db", "upgrade"), check=True, capture_output=True)
        worker = subprocess.Popen(r.intake("run"))
        try:
            time.sleep(3)  # let the worker connect and enter IDLE
            latencies = []
            for n, mail in enumerate(client_batch(args.count), 1):
                start = time.monotonic()
                r.dovecot.deliver("support", bytes(mail))
                r.sink.wait_for(n, timeout=60)
                latencies.append(time.monotonic() - start)
                time.sleep(0.2)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    print(f"machine: {machine()}")
    print(f"database: {'SQLite' if not args.db else args.db.split(':')[0]}")
    print(f"delivery -> acknowledgment received: {summary(latencies)}")


if __name__ == "__main__":
    main()
