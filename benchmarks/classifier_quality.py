"""Prints the shipped classifier's quality on the held-out sets and its speed over a batch."""
from __future__ import annotations

import json
import time

from benchmarks.common import machine
from classifiers import load_classifier
from classifiers.corpus import eval_files, read_examples, training_files
from classifiers.evaluate import evaluate


def main() -> None:
    clf = load_classifier()
    examples = [e for f in eval_files() for e in read_examples(f)]
    ev = evaluate(clf, examples)
    print(f"machine: {machine()}")
    print(f"model: {clf.version}")
    print(f"held-out: {ev.total} emails, accuracy {ev.accuracy:.3f}, macro F1 {ev.macro_f1:.3f}, "
          + ", ".join(f"{k} {v:.3f}" for k, v in sorted(ev.by_lang.items())))
    for label, figs in ev.per_label.items():
        print(f"  {label:15} P {figs['precision']:.3f}  R {figs['recall']:.3f}  F1 {figs['f1']:.3f}  n={figs['support']}")
    print("confusion (gold -> predicted):", json.dumps(ev.confusion))
    batch = [(e.subject, e.body) for f in training_files() for e in read_examples(f)]
    start = time.perf_counter()
    clf.predict_many(batch)
    elapsed = time.perf_counter() - start
    print(f"speed: {len(batch)} emails in {elapsed:.2f}s = {len(batch) / elapsed:.0f} emails/s (nlp.pipe, one core)")


if __name__ == "__main__":
    main()
