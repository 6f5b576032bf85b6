"""Drains a backlog while SIGKILLing the worker at random moments; prints what was lost, doubled and how
fast."""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from benchmarks.common import machine, rig
from tests.crashkill import crash_drain


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--min-delay", type=float, default=0.3,
                        help="shortest time before a kill, in seconds")
    parser.add_argument("--max-delay", type=float, default=3.0, help="longest time before a kill, in seconds")
    parser.add_argument("--workers", type=int, default=1,
                        help="workers running side by side (one is killed each time)")
    parser.add_argument("--trickle", type=float, default=0.1,
                        help="fraction of the mail delivered while the kills go on (the rest before)")
    parser.add_argument("--settle-timeout", type=float, default=600.0,
                        help="how long the last worker may take to finish the backlog")
    parser.add_argument("--db",
                        help="database URL (default: SQLite in a temp dir); PostgreSQL gets a scratch schema")
    parser.add_argument("--keep", type=Path,
                        help="work directory to keep (logs, database) instead of a temp dir")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        with rig(workdir, args.db) as r:
            url = _db_url(r.config)
            report = crash_drain(r.dovecot, r.sink, r.config, url, messages=args.messages, kills=args.kills,
                                 seed=args.seed, kill_after=(args.min_delay, args.max_delay),
                                 trickle=args.trickle, workers=args.workers, log_dir=workdir / "logs",
                                 settle_timeout=args.settle_timeout, progress=True)
    print(f"machine: {machine()}")
    print(f"database: {'SQLite' if not args.db else args.db.split(':')[0]}")
    print(report.summary())
    return 1 if report.problems() else 0


def _db_url(config: Path) -> str:
    import tomllib

    return str(tomllib.loads(config.read_text("utf-8"))["database"]["url"])


if __name__ == "__main__":
    sys.exit(main())
