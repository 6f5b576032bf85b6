"""Feeds seeded mutations of the odd-mail corpus through process_batch: messages/s, outcomes, quarantine
reasons, peak memory, and every exception that escaped a batch with the case to replay (python -m
tests.mutations FILE
SEED)."""
from __future__ import annotations

import argparse
import logging
import re
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from benchmarks.common import machine, scratch_schema, summary
from classifiers import load_classifier
from db.engine import make_engine, make_sessionmaker
from db.migrate import upgrade
from db.models import Mailbox, Message
from tests.integration.test_fuzz import BATCH, CFG, MAILBOX, feed, problems

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
_TYPED = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Defect|Warning|Exit|Interrupt)):")


def reason(error: str) -> str:
    """A quarantine error grouped by the exception type it names, or by its first words when it names none."""
    found = _TYPED.match(error or "")
    if found:
        return found.group(1)
    head = re.sub(r"\d+", "N", (error or "").split(":", 1)[0])[:80]
    return f"(no type) {head}" if head else "(empty error)"


def quarantine_reasons(factory) -> Counter[str]:
    with factory() as session:
        box = session.scalar(select(Mailbox).where(Mailbox.name == MAILBOX))
        if box is None:
            return Counter()
        errors = session.scalars(select(Message.error).where(Message.mailbox_id == box.id,
                                                             Message.status == "quarantined"))
        return Counter(reason(e) for e in errors)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default=PG_URL,
                        help="PostgreSQL to use (a scratch schema is made and dropped)")
    parser.add_argument("--batch-size", type=int, default=BATCH)
    parser.add_argument("--check", action="store_true",
                        help="afterwards, check every UID was stored once with its raw bytes (reads them all "
                             "back)")
    parser.add_argument("--log", action="store_true",
                        help="show the pipeline's warnings (quarantines) on stderr")
    args = parser.parse_args(argv)
    if not args.log:
        logging.disable(logging.ERROR)  # thousands of quarantine warnings; the counts below say it all
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'intake.db'}" if args.db == "sqlite" else args.pg_url
        with scratch_schema(url) as db_url:
            engine = make_engine(db_url)
            upgrade(engine)
            factory = make_sessionmaker(engine)
            classifier = load_classifier()
            started = time.monotonic()

            def progress(done: int) -> None:
                if done % 5000 < args.batch_size or done == args.count:
                    rate = done / (time.monotonic() - started)
                    print(f"  {done}/{args.count} messages, {rate:.0f}/s", file=sys.stderr, flush=True)

            run = feed(factory, CFG, classifier, args.count, args.seed, args.batch_size, progress)
            reasons = quarantine_reasons(factory)
            found = problems(factory, run) if args.check else []
            engine.dispose()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    outcomes = run.outcomes()
    in_batches = sum(run.batch_seconds)
    print(f"machine: {machine()}")
    print(f"database: {'SQLite' if args.db == 'sqlite' else 'PostgreSQL'}; {args.count} mutated messages, "
          f"run seed {args.seed}, batches of {args.batch_size}")
    print(f"{args.count / run.seconds:.1f} messages/s overall ({run.seconds:.1f}s, of which "
          f"{run.seconds - in_batches:.1f}s making the cases); {args.count / in_batches:.1f} messages/s "
          f"inside process_batch")
    print(f"batch time: {summary(run.batch_seconds)}")
    print(f"outcomes: new items {outcomes['new']}, follow-ups {outcomes['follow_up']}, recorded "
          f"{outcomes['recorded']}, quarantined {outcomes['quarantined']}, duplicates "
          f"{outcomes['duplicate']} "
          f"(acknowledgments queued {outcomes['acks']}); batches that raised {len(run.escapes)} "
          f"({sum(len(e.cases) for e in run.escapes)} messages)")
    print("quarantine reasons:" + ("" if reasons else " none"))
    for name, n in reasons.most_common():
        print(f"  {n:7d}  {name}")
    print(f"peak RSS: {peak_mb:.0f} MB")
    print("exceptions that escaped process_batch:" + ("" if run.escapes else " none"))
    for esc in run.escapes:
        print(f"  UIDs {esc.cases[0].uid}-{esc.cases[-1].uid}: {esc.error} at {esc.where}")
        for case, note in esc.suspects[:5]:
            print(f"    {case}: {note}")
        if not esc.suspects:
            print("    no message of the batch raises on its own; the batch starts with "
                  + "; ".join(str(c) for c in esc.cases[:3]))
    if args.check:
        print(f"accounting problems: {len(found)}")
        for kind, n in Counter(kind for kind, _text in found).most_common():
            print(f"  {n:7d}  {kind}; e.g. {next(text for k, text in found if k == kind)}")
    return 1 if run.escapes or found else 0


if __name__ == "__main__":
    sys.exit(main())
