"""The `intake` command line: one entry point, a subcommand per job."""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from intake.config import Config, ConfigError, load_config
from intake.logs import setup_logging

EXIT_USAGE = 2


class UserError(Exception):
    """An error the user can fix; printed as one line, exit code 1."""


def _factory(cfg: Config, readonly: bool = False):  # type: ignore[no-untyped-def]
    from db.engine import make_engine, make_sessionmaker
    from db.migrate import current_revision, head_revision

    engine = make_engine(cfg.database.url, cfg.database.echo)
    try:
        rev = current_revision(engine)
    except Exception as exc:
        raise UserError(f"database: cannot connect to {engine.url.render_as_string()}: {exc}") from None
    if rev != head_revision():
        raise UserError(f"database: schema is at {rev or 'nothing'}, code needs {head_revision()}; "
                        "run `intake db upgrade`")
    return make_sessionmaker(engine, readonly=readonly)


def _out(path: str | None) -> TextIO:
    if not path or path == "-":
        return sys.stdout
    return open(path, "w", encoding="utf-8", newline="")


def cmd_db_upgrade(cfg: Config, args: argparse.Namespace) -> int:
    from db.engine import make_engine
    from db.migrate import current_revision, upgrade

    engine = make_engine(cfg.database.url)
    try:
        upgrade(engine)
    except Exception as exc:
        raise UserError(f"database: upgrade failed: {exc}") from None
    print(f"database at revision {current_revision(engine)} ({engine.url.render_as_string()})")
    return 0


def cmd_run(cfg: Config, args: argparse.Namespace) -> int:
    from classifiers import load_classifier
    from intake.worker import Worker

    if not cfg.mailboxes:
        raise ConfigError("mailboxes: no mailbox configured; add a [[mailboxes]] table")
    factory = _factory(cfg)
    stop = threading.Event()
    worker = Worker(cfg, factory, load_classifier(cfg.classifier.model_dir or None), stop)
    if args.once:
        stats = worker.run_once()
        print(f"new items: {stats.new_items}, follow-ups: {stats.follow_ups}, recorded without reply: "
              f"{stats.recorded}, quarantined: {stats.quarantined}, already known: {stats.duplicates}, "
              f"acknowledgments sent: {stats.acks_sent}")
        for err in stats.errors:
            print(f"intake: {err}", file=sys.stderr)
        return 1 if stats.errors else 0
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    worker.run_forever()
    return 0


def _classify_lines(clf, src: TextIO, out: TextIO) -> int:  # type: ignore[no-untyped-def]
    bad = 0
    rows: list[tuple[int, str, str]] = []
    results: dict[int, dict[str, object]] = {}
    for n, line in enumerate(src, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError("expected a JSON object")
            subject, body = obj.get("subject", ""), obj.get("body", "")
            if not isinstance(subject, str) or not isinstance(body, str):
                raise ValueError("subject and body must be strings")
            rows.append((n, subject, body))
        except ValueError as exc:
            bad += 1
            results[n] = {"line": n, "error": str(exc)}
            print(f"intake: line {n}: {exc}", file=sys.stderr)
    preds = clf.predict_many([(s, b) for _, s, b in rows])
    for (n, _, _), p in zip(rows, preds):
        results[n] = {"label": p.label, "confidence": round(p.confidence, 4), "lang": p.lang}
    for n in sorted(results):
        out.write(json.dumps(results[n], ensure_ascii=False) + "\n")
    return 1 if bad else 0


def cmd_classify(cfg: Config, args: argparse.Namespace) -> int:
    from classifiers import load_classifier

    clf = load_classifier(cfg.classifier.model_dir or None)
    if args.jsonl:
        if args.jsonl == "-":
            return _classify_lines(clf, sys.stdin, sys.stdout)
        try:
            with open(args.jsonl, encoding="utf-8") as src:
                return _classify_lines(clf, src, sys.stdout)
        except OSError as exc:
            raise UserError(f"--jsonl: cannot read {args.jsonl}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise UserError(f"--jsonl: {args.jsonl} is not UTF-8 text") from None
    if args.text is None:
        raise UserError("classify: give TEXT or --jsonl FILE")
    p = clf.predict(args.subject or "", args.text)
    print(json.dumps({"label": p.label, "confidence": round(p.confidence, 4), "lang": p.lang,
                      "scores": {k: round(v, 4) for k, v in p.scores.items()}}, ensure_ascii=False))
    return 0


def cmd_train(cfg: Config, args: argparse.Namespace) -> int:
    from classifiers.corpus import CorpusError, Example, read_examples, training_files
    from classifiers.model import DEFAULT_MODEL_DIR
    from classifiers.train import EPOCHS, train_all

    files = [Path(f) for f in args.data] if args.data else training_files()
    try:
        examples = [e for f in files for e in read_examples(f)]
    except OSError as exc:
        raise UserError(f"train: cannot read {exc.filename}: {exc.strerror}") from None
    except CorpusError as exc:
        raise UserError(str(exc)) from None
    if args.with_corrections:
        from db.queries import corrected_examples

        with _factory(cfg, readonly=True)() as session:
            fixes = [Example(s, t, label, lang) for s, t, label, lang in corrected_examples(session)]
        print(f"adding {len(fixes)} examples corrected by PMs", file=sys.stderr)
        examples += fixes
    out = Path(args.out or cfg.classifier.model_dir or DEFAULT_MODEL_DIR)
    print(f"training on {len(examples)} examples from {len(files)} files", file=sys.stderr)

    def progress(lang: str, epoch: int, loss: float) -> None:
        print(f"\r{lang}: epoch {epoch:>2}/{EPOCHS} loss {loss:8.4f}", end="", file=sys.stderr, flush=True)
        if epoch == EPOCHS:
            print(file=sys.stderr)

    version = train_all(examples, out, progress)
    print(f"model {version} written to {out}")
    return 0


def cmd_eval(cfg: Config, args: argparse.Namespace) -> int:
    from classifiers import load_classifier
    from classifiers.corpus import CorpusError, read_examples
    from classifiers.evaluate import evaluate

    try:
        examples = [e for f in args.files for e in read_examples(Path(f))]
    except OSError as exc:
        raise UserError(f"eval: cannot read {exc.filename}: {exc.strerror}") from None
    except CorpusError as exc:
        raise UserError(str(exc)) from None
    ev = evaluate(load_classifier(cfg.classifier.model_dir or None), examples)
    print(json.dumps(ev.to_dict(), indent=2))
    return 0


def cmd_export(cfg: Config, args: argparse.Namespace) -> int:
    from reports.export import write_export

    factory = _factory(cfg, readonly=True)
    out = _out(args.out)
    with factory() as session:
        n = write_export(session, args.format, out)
    if out is not sys.stdout:
        out.close()
        print(f"{n} items written to {args.out}", file=sys.stderr)
    return 0


def cmd_report(cfg: Config, args: argparse.Namespace) -> int:
    from reports.render import render_sla
    from reports.sla import compute_sla

    factory = _factory(cfg, readonly=True)
    with factory() as session:
        report = compute_sla(session, cfg.sla.ack_target_minutes)
    out = _out(args.out)
    out.write(render_sla(report, args.format))
    if out is not sys.stdout:
        out.close()
    return 0


def cmd_web(cfg: Config, args: argparse.Namespace) -> int:
    import uvicorn

    from review.app import create_app

    factory = _factory(cfg)
    host, port = args.host or cfg.web.host, args.port or cfg.web.port
    print(f"PM queue at http://{host}:{port}/", flush=True)
    uvicorn.run(create_app(factory), host=host, port=port, log_level="warning")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="intake", description="Take in client email: intake worker, "
                                     "classifier, PM review queue and SLA reports.")
    parser.add_argument("--config", help="TOML config file (default: $INTAKE_CONFIG, else built-in defaults)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--log-format", default="text", choices=["text", "json"])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="create or migrate the schema").set_defaults(func=cmd_db_upgrade)

    run = sub.add_parser("run", help="run the intake worker")
    run.add_argument("--once", action="store_true", help="process what is pending, send acknowledgments, exit")
    run.set_defaults(func=cmd_run)

    cl = sub.add_parser("classify", help="classify text or a JSON-lines file")
    cl.add_argument("text", nargs="?", help="the email text")
    cl.add_argument("--subject", help="subject to classify with TEXT")
    cl.add_argument("--jsonl", metavar="FILE", help='lines of {"subject":..., "body":...}; - for stdin')
    cl.set_defaults(func=cmd_classify)

    tr = sub.add_parser("train", help="train the classifier on the labeled corpus")
    tr.add_argument("--data", nargs="*", help="JSON-lines training files (default: the shipped corpus)")
    tr.add_argument("--out", help="model directory (default: the shipped model's)")
    tr.add_argument("--with-corrections", action="store_true",
                    help="also learn from the categories PMs corrected in the tracker database")
    tr.set_defaults(func=cmd_train)

    ev = sub.add_parser("eval", help="evaluate the classifier on labeled JSON-lines files")
    ev.add_argument("files", nargs="+", metavar="FILE")
    ev.set_defaults(func=cmd_eval)

    ex = sub.add_parser("export", help="export items")
    ex.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    ex.add_argument("--out", help="output file (default: stdout)")
    ex.set_defaults(func=cmd_export)

    rp = sub.add_parser("report", help="reports").add_subparsers(dest="report", required=True)
    sla = rp.add_parser("sla", help="acknowledgment times per category against the target")
    sla.add_argument("--format", choices=["json", "csv", "html"], default="json")
    sla.add_argument("--out", help="output file (default: stdout)")
    sla.set_defaults(func=cmd_report)

    web = sub.add_parser("web", help="serve the PM review queue")
    web.add_argument("--host")
    web.add_argument("--port", type=int)
    web.set_defaults(func=cmd_web)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    try:
        cfg = load_config(args.config)
        return int(args.func(cfg, args) or 0)
    except ConfigError as exc:
        print(f"intake: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except UserError as exc:
        print(f"intake: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `intake export | head`); say nothing more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
