"""The classifier's subcommands: `intake classify`, `intake train` (corpus, real texts, corrections), `intake
eval`."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from cli.shell import UserError, open_factory
from intake.config import Config

# A PM's correction is a real client email labeled by someone who knows the project; it counts
# for more than one synthetic corpus example.
CORRECTION_WEIGHT = 3
EXIT_NOT_ACTIVATED = 3


def _read_corpus(paths: list[Path]) -> list[Any]:
    from classifiers.corpus import CorpusError, read_examples

    try:
        return [e for p in paths for e in read_examples(p)]
    except OSError as exc:
        raise UserError(f"cannot read {exc.filename}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"corpus is not UTF-8 text: {exc.reason}") from None
    except CorpusError as exc:
        raise UserError(str(exc)) from None


def _classify_lines(clf: Any, src: TextIO, out: TextIO) -> int:
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
    for (n, _, _), p in zip(rows, preds, strict=True):
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
                      "model_version": p.model_version,
                      "scores": {k: round(v, 4) for k, v in p.scores.items()},
                      **({"unusual": p.unusual} if p.unusual else {})}, ensure_ascii=False))
    return 0


def _corrections(cfg: Config) -> list[Any]:
    from classifiers.corpus import Example
    from db.queries import corrected_examples

    try:
        factory = open_factory(cfg, readonly=True)
    except UserError as exc:
        raise UserError(f"train: {exc} (or pass --no-corrections to train on the corpus alone)") from None
    with factory() as session:
        rows = corrected_examples(session)
    return [Example(subject, text, label, lang) for subject, text, label, lang in rows
            if lang in ("en", "zh") and (subject or text)]


def cmd_train(cfg: Config, args: argparse.Namespace) -> int:
    import logging

    from tqdm import tqdm

    from classifiers.corpus import read_real, split_path
    from classifiers.model import DEFAULT_MODEL_DIR
    from classifiers.retrain import train_new_version
    from classifiers.train import DEFAULT_SPEC

    files = [Path(f) for f in args.data] if args.data else [split_path("train")]
    examples = _read_corpus(files)
    dev = _read_corpus([Path(args.dev) if args.dev else split_path("dev")])
    if not (args.data or args.no_real):
        # Real client-like texts teach how clients write; the guard also reads them as unseen sources.
        real = read_real("train")
        print(f"learning from {len(real)} real texts of the real-text train split", file=sys.stderr)
        examples += real
    if not args.no_corrections:
        fixes = _corrections(cfg)
        print(f"learning from {len(fixes)} emails corrected by PMs (each counted {CORRECTION_WEIGHT}x)",
              file=sys.stderr)
        examples += fixes * CORRECTION_WEIGHT
    root = Path(args.out or cfg.classifier.model_dir or DEFAULT_MODEL_DIR)
    logging.getLogger("spacy").setLevel(logging.WARNING)  # its setup chatter would break the progress bars
    print(f"training on {len(examples)} examples; dev split {len(dev)} emails; models in {root}",
          file=sys.stderr)
    bars: dict[str, Any] = {}

    def progress(lang: str, epoch: int) -> None:
        bar = bars.get(lang)
        if bar is None:
            bar = bars[lang] = tqdm(total=DEFAULT_SPEC.epochs, desc=f"train {lang}", unit="epoch",
                                    file=sys.stderr, leave=True)
        bar.update(1)
        if epoch == DEFAULT_SPEC.epochs:
            bar.close()

    try:
        out = train_new_version(examples, dev, root, force=args.force, progress=progress)
    except ValueError as exc:
        raise UserError(f"train: {exc}") from None
    except OSError as exc:
        raise UserError(f"train: cannot write models to {root}: {exc.strerror}") from None
    print(f"model {out.version} written to {out.path}")
    print(f"dev macro-F1 {out.dev.overall.macro_f1:.4f} (" + ", ".join(
        f"{lang} {s.macro_f1:.4f}" for lang, s in sorted(out.dev.by_lang.items())) + ")")
    if out.real_dev is not None:
        print("real texts of unseen sources, macro-F1: " + ", ".join(
            f"{lang} {f1:.4f}" for lang, f1 in sorted(out.real_dev.items())))
    if out.baseline_dev is not None:
        print(f"active model {out.baseline_version}: dev macro-F1 {out.baseline_dev.overall.macro_f1:.4f}"
              + ("" if out.baseline_real_dev is None else "; real texts " + ", ".join(
                  f"{lang} {f1:.4f}" for lang, f1 in sorted(out.baseline_real_dev.items()))))
    print(("activated: " if out.activated else "not activated: ") + out.reason)
    return 0 if out.activated else EXIT_NOT_ACTIVATED


def cmd_eval(cfg: Config, args: argparse.Namespace) -> int:
    from classifiers import load_classifier
    from classifiers.corpus import read_real
    from classifiers.evaluate import evaluate, format_report

    examples = _read_corpus([Path(f) for f in args.files or []])
    if args.real:
        examples += read_real(args.real)
    if not examples:
        raise UserError("eval: the files hold no examples")
    threshold = cfg.classifier.review_threshold if args.threshold is None else args.threshold
    clf = load_classifier(args.model or cfg.classifier.model_dir or None)
    ev = evaluate(clf, examples, threshold)
    if args.json:
        print(json.dumps({"model_version": clf.version, **ev.to_dict()}, indent=2, ensure_ascii=False))
    else:
        print(f"model {clf.version}")
        print(format_report(ev))
    return 0


def add_model_commands(sub: Any) -> None:
    """Registers classify, train and eval on the CLI's subparsers."""
    cl = sub.add_parser("classify", help="classify text or a JSON-lines file")
    cl.add_argument("text", nargs="?", help="the email text")
    cl.add_argument("--subject", help="subject to classify with TEXT")
    cl.add_argument("--jsonl", metavar="FILE", help='lines of {"subject":..., "body":...}; - for stdin')
    cl.set_defaults(func=cmd_classify)

    tr = sub.add_parser("train",
                        help="train a new classifier version on the corpus, real texts and PM corrections",
                        description="Trains a new model version beside the old ones on the train split, the "
                        "real-text train split and PM corrections. It becomes active only if its macro-F1 is "
                        "not below the active model's on the real texts read as unseen sources, nor on the "
                        "dev split (where up to 0.01 lower is allowed when the real texts speak for it; exit "
                        "code 3 otherwise).")
    tr.add_argument("--data", nargs="*",
                    help="JSON-lines training files (default: the shipped train split and real-text train "
                         "split)")
    tr.add_argument("--dev",
                    help="JSON-lines dev file that decides activation (default: the shipped dev split)")
    tr.add_argument("--out", help="model directory (default: classifier.model_dir, else the shipped models)")
    tr.add_argument("--no-corrections", action="store_true",
                    help="do not learn from the categories PMs corrected in the tracker database")
    tr.add_argument("--no-real", action="store_true",
                    help="without --data: do not learn from the real-text train split "
                         "(classifiers/data/real)")
    tr.add_argument("--force", action="store_true", help="activate the new version even if it is worse")
    tr.set_defaults(func=cmd_train)

    ev = sub.add_parser("eval", help="evaluate the classifier on labeled JSON-lines files")
    ev.add_argument("files", nargs="*", metavar="FILE", help='lines of {"subject", "body", "label", "lang"}')
    ev.add_argument("--real", choices=("train", "test"),
                    help="also the shipped real texts of this split (reported per source)")
    ev.add_argument("--json", action="store_true", help="machine-readable output")
    ev.add_argument("--threshold", type=float, help="review threshold (default: classifier.review_threshold)")
    ev.add_argument("--model", help="model directory or version directory (default: the active model)")
    ev.set_defaults(func=cmd_eval)
