"""Seeded MIME fuzzing of the real pipeline: every mutated message is stored or quarantined, no batch ever
raises.

The run seed is INTAKE_FUZZ_SEED and the count INTAKE_FUZZ_COUNT; a failure names each offending case as a
`python -m tests.mutations FILE SEED` command that writes its bytes.
"""
from __future__ import annotations

import hashlib
import os
import re
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from classifiers import Classifier, load_classifier
from db.engine import make_engine, make_sessionmaker
from db.migrate import upgrade
from db.models import Mailbox, Message, OutboxMail
from intake.config import Config, MailboxConfig, parse_config
from intake.parse import ParseError, parse_email
from intake.pipeline import BatchResult, process_batch
from intake.screen import screen
from intake.values import RawMail
from tests.mutations import mutated_corpus, replay_command

pytestmark = pytest.mark.integration
CFG = parse_config({"smtp": {"from_address": "Support <support@team.example>"},
                    "acknowledgment": {"max_per_sender_per_hour": 2}})
WHEN = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
MAILBOX = "support"
UIDVALIDITY = 1
BATCH = MailboxConfig.batch_size
SEED = int(os.environ.get("INTAKE_FUZZ_SEED", "20261206"))
COUNT = int(os.environ.get("INTAKE_FUZZ_COUNT", "10000"))
PG_COUNT = 500
LISTED = 30  # offending cases named in a failure message
_BAD_ADDRESS_CHARS = set("()<>")
_LINE_END = re.compile(rb"\r\n|\r")
_ORDINARY = ("Login broken", "The login page shows error 500 since this morning.")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclass(frozen=True)
class Case:
    """One mutated message as fed: its UID, where it came from, and a digest of its bytes."""

    uid: int
    name: str
    seed: int
    sha256: bytes
    size: int
    loose: bytes  # digest of the bytes with line endings as LF and no trailing white space

    def __str__(self) -> str:
        return f"uid {self.uid} ({self.size} bytes): {replay_command(self.name, self.seed)}"


@dataclass
class Escape:
    """An exception that escaped process_batch, with the cases that raise on their own."""

    cases: list[Case]
    error: str
    where: str
    seconds: float
    suspects: list[tuple[Case, str]]


@dataclass
class FuzzRun:
    """What feeding the mutated corpus did."""

    seed: int
    cases: list[Case] = field(default_factory=list)
    results: list[BatchResult] = field(default_factory=list)
    escapes: list[Escape] = field(default_factory=list)
    batch_seconds: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def outcomes(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for r in self.results:
            out.update(new=len(r.new_items), follow_up=len(r.follow_ups), recorded=r.recorded,
                       quarantined=r.quarantined, duplicate=r.duplicates, acks=r.acks_queued)
        out["escaped_batches"] = len(self.escapes)
        return out


def where_raised(exc: BaseException) -> str:
    """The frame that raised EXC, and the innermost project frame if that is another one."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    text = f"{_short(last.filename)}:{last.lineno} in {last.name}"
    ours = [f for f in frames if "/site-packages/" not in f.filename and "/lib/python3" not in f.filename]
    if ours and ours[-1] is not last:
        text += f" (via {_short(ours[-1].filename)}:{ours[-1].lineno} in {ours[-1].name})"
    return text


def _short(path: str) -> str:
    """PATH relative to the project root, site-packages or the standard library."""
    if "/site-packages/" in path:
        return path.split("/site-packages/", 1)[1]
    found = re.search(r"/lib/python3\.\d+/(.*)", path)
    if found:
        return found.group(1)
    return os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else path


def culprits(batch: Sequence[tuple[Case, bytes]], cfg: Config,
             classifier: Classifier) -> list[tuple[Case, str]]:
    """The cases of BATCH that make parse_email, screen or predict_many raise something other than ParseError
    on their own; failing that, those that make predict_many raise next to an ordinary message."""
    found: list[tuple[Case, str]] = []
    parsed: list[tuple[Case, tuple[str, str]]] = []
    for case, data in batch:
        stage = "parse_email"
        try:
            email = parse_email(data)
            stage = "screen"
            email = screen(email, cfg.own_addresses(), len(data), cfg.tracker.max_message_bytes)
            stage = "predict_many"
            classifier.predict_many([(email.subject, email.text)])
            parsed.append((case, (email.subject, email.text)))
        except ParseError:
            continue
        except Exception as exc:
            found.append((case, f"{type(exc).__name__} in {stage} at {where_raised(exc)}"))
    if found:
        return found
    try:
        classifier.predict_many([text for _case, text in parsed])
        return []
    except Exception:
        pass
    for case, text in parsed:  # fine alone, but maybe not next to an ordinary message
        try:
            classifier.predict_many([text, _ORDINARY])
        except Exception as exc:
            found.append((case, f"{type(exc).__name__} in predict_many next to an ordinary message, "
                                f"at {where_raised(exc)}"))
    return found


def feed(factory: sessionmaker[Session], cfg: Config, classifier: Classifier, count: int, seed: int,
         batch_size: int = BATCH, progress: Callable[[int], None] | None = None) -> FuzzRun:
    """Pushes COUNT mutated messages (UIDs 1..COUNT) through process_batch, BATCH_SIZE at a time
    (PROGRESS is told how many went in after each batch)."""
    run = FuzzRun(seed)
    start = time.perf_counter()
    batch: list[tuple[Case, bytes]] = []
    for index, (name, own_seed, data) in enumerate(mutated_corpus(count, seed)):
        case = Case(index + 1, name, own_seed, hashlib.sha256(data).digest(), len(data), _loose(data))
        run.cases.append(case)
        batch.append((case, data))
        if len(batch) == batch_size or index == count - 1:
            _one_batch(run, factory, cfg, classifier, batch)
            batch = []
            if progress is not None:
                progress(index + 1)
    run.seconds = time.perf_counter() - start
    return run


def _loose(data: bytes) -> bytes:
    """What stays of DATA when a server rewrites its line endings: the same message, fetched again."""
    return hashlib.sha256(_LINE_END.sub(b"\n", data).rstrip()).digest()


def _one_batch(run: FuzzRun, factory: sessionmaker[Session], cfg: Config, classifier: Classifier,
               batch: list[tuple[Case, bytes]]) -> None:
    raws = [RawMail(MAILBOX, UIDVALIDITY, case.uid, data, WHEN, len(data)) for case, data in batch]
    began = time.perf_counter()
    try:
        result = process_batch(factory, cfg, MAILBOX, raws, classifier)
    except Exception as exc:  # the worker would stop here (or retry this batch forever)
        seconds = time.perf_counter() - began
        run.escapes.append(Escape([c for c, _d in batch], f"{type(exc).__name__}: {str(exc)[:300]}",
                                  where_raised(exc), seconds, culprits(batch, cfg, classifier)))
        run.batch_seconds.append(seconds)
        return
    run.batch_seconds.append(time.perf_counter() - began)
    run.results.append(result)


def problems(factory: sessionmaker[Session], run: FuzzRun) -> list[tuple[str, str]]:
    """Every way the stored state differs from "each UID stored once, raw bytes kept, no bad recipient",
    as (kind, description naming the case)."""
    out: list[tuple[str, str]] = []
    for esc in run.escapes:
        first, last = esc.cases[0].uid, esc.cases[-1].uid
        text = f"process_batch raised on UIDs {first}-{last}: {esc.error} at {esc.where}"
        text += "".join(f"\n    suspect {case}: {note}" for case, note in esc.suspects[:5])
        if len(esc.suspects) > 5:
            text += f"\n    ... and {len(esc.suspects) - 5} more suspects in that batch"
        if not esc.suspects:
            text += ("\n    no message of the batch raises on its own in parse_email/screen/predict_many; "
                     f"the batch: {', '.join(str(c) for c in esc.cases[:3])} ...")
        out.append(("process_batch raised", text))
    lost_with_batch = {c.uid for esc in run.escapes for c in esc.cases}
    by_uid = {c.uid: c for c in run.cases}
    same: dict[bytes, list[int]] = {}
    for c in run.cases:
        same.setdefault(c.loose, []).append(c.uid)
    with factory() as session:
        box = session.scalar(select(Mailbox).where(Mailbox.name == MAILBOX))
        if box is None:
            return out + [("sync state", "the mailbox row does not exist: no batch committed")]
        last_uid = run.cases[-1].uid if run.cases else 0
        if box.last_uid != last_uid:
            out.append(("sync state", f"mailboxes.last_uid is {box.last_uid}, expected {last_uid}"))
        rows = session.execute(
            select(Message.uid, Message.direction, Message.status, Message.item_id, Message.raw)
            .where(Message.mailbox_id == box.id).order_by(Message.uid).execution_options(yield_per=200))
        seen: Counter[int] = Counter()
        for uid, direction, status, item_id, raw in rows:
            seen[uid] += 1
            case = by_uid.get(uid)
            if case is None:
                out.append(("unknown row", f"a message row with UID {uid} that was never fed"))
                continue
            if direction != "in":
                out.append(("wrong direction", f"{case}: stored with direction {direction!r}"))
            if hashlib.sha256(raw or b"").digest() != case.sha256:
                out.append(("raw bytes differ", f"{case}: {len(raw or b'')} bytes stored, not the bytes fed"))
            if not (status == "quarantined" or (item_id is not None)
                    or (item_id is None and status == "ignored")):
                out.append(("unexpected state",
                            f"{case}: neither an item's message, a record nor quarantined "
                                                 f"(status={status!r}, item_id={item_id})"))
        lost_quietly = []
        for c in run.cases:
            if seen[c.uid] > 1:
                out.append(("stored twice", f"{c}: stored {seen[c.uid]} times"))
            elif not seen[c.uid] and c.uid not in lost_with_batch:
                if any(uid < c.uid and seen[uid] for uid in same[c.loose]):
                    continue  # the same message fed earlier (up to line endings): a duplicate by design
                lost_quietly.append(c)
        out.extend(("lost",
                    f"{c}: not stored and not quarantined (no earlier stored input has the same bytes, "
                            "up to line endings)") for c in lost_quietly)
        item_uid = dict(session.execute(select(Message.item_id, Message.uid).where(
            Message.mailbox_id == box.id, Message.item_id.is_not(None)).order_by(Message.id.desc())).all())
        for to, item_id in session.execute(select(OutboxMail.to_address, OutboxMail.item_id)).all():
            if to.count("@") != 1 or any(ch.isspace() for ch in to) or _BAD_ADDRESS_CHARS.intersection(to):
                case = by_uid.get(item_uid.get(item_id, -1))
                out.append(("bad ack address",
                            f"{case or f'item {item_id}'}: acknowledgment queued to {to!r}"))
    return out


def report(run: FuzzRun, found: list[tuple[str, str]]) -> str:
    """The failure message: what went wrong, by kind and by case, with how to replay each case."""
    outcome = ", ".join(f"{k} {v}" for k, v in sorted(run.outcomes().items()))
    kinds = Counter(kind for kind, _text in found)
    lines = [f"{len(found)} problems after {len(run.cases)} mutated messages (run seed {run.seed}, "
             f"{run.seconds:.1f}s; {outcome}): " + ", ".join(f"{k} {n}" for k, n in kinds.most_common()),
             "Write a case's bytes with the command shown, from the project root."]
    per_kind = max(3, LISTED // max(1, len(kinds)))
    for kind, n in kinds.most_common():
        texts = [text for k, text in found if k == kind]
        lines.append(f"-- {kind} ({n}):")
        lines.extend(texts[:per_kind])
        if n > per_kind:
            lines.append(f"   ... and {n - per_kind} more")
    return "\n".join(lines)


def _check(factory: sessionmaker[Session], count: int, seed: int) -> None:
    run = feed(factory, CFG, load_classifier(), count, seed)
    found = problems(factory, run)
    print(f"\nfuzz: {count} messages in {run.seconds:.1f}s ({count / run.seconds:.0f}/s), "
          f"slowest batch {max(run.batch_seconds):.2f}s; {dict(run.outcomes())}")
    if found:
        pytest.fail(report(run, found), pytrace=False)


def test_mutated_mail_is_stored_or_quarantined_and_never_stops_intake(factory):
    _check(factory, COUNT, SEED)


def test_mutated_mail_on_postgresql(pg_url):
    engine = make_engine(pg_url)
    try:
        upgrade(engine)
        _check(make_sessionmaker(engine), PG_COUNT, SEED)
    finally:
        engine.dispose()
