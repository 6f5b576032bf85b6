"""The shipped classifier against keyword rules and TF-IDF + logistic regression, on the fixed test split.

Prints macro-F1 per language, the review threshold's effect, emails per second on one core,
model size and load time; then the shipped model on the real texts' test split (whole sources
held out; classifiers/data/real), per language and per source group.
Usage: python -m benchmarks.classifier [--threshold 0.8]
(scikit-learn comes with the "bench" extra: pip install -e '.[bench]').
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, before numpy loads
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402

from benchmarks.baselines import TfidfBaseline, keyword_predict  # noqa: E402
from benchmarks.common import dir_size, machine, one_core, rates  # noqa: E402
from classifiers import Classifier, load_classifier  # noqa: E402
from classifiers.corpus import Example, read_real, read_split  # noqa: E402
from classifiers.evaluate import evaluate_predictions, score  # noqa: E402
from classifiers.model import DEFAULT_MODEL_DIR  # noqa: E402
from classifiers.store import resolve  # noqa: E402

# spaCy's import as intake's processes do it (with PyTorch installed, a plain import would take it in too).
_LOAD = ("import time; t = time.perf_counter(); from classifiers.lean_import import lean_spacy_import; "
         "lean_spacy_import(); import spacy; t1 = time.perf_counter(); "
         "from classifiers import load_classifier; c = load_classifier(); c.predict('warm up'); "
         "t2 = time.perf_counter(); print(t1 - t, t2 - t1)")


def _speed(predict: Callable[[list[tuple[str, str]]], object], batch: list[tuple[str, str]],
           runs: int = 5) -> str:
    """Emails/s of PREDICT over BATCH: the median of RUNS runs and their range (one run moves by a third
    from one to the next on a shared machine)."""
    found = sorted(rates(predict, batch, runs))
    return f"{found[len(found) // 2]:6.0f} emails/s ({found[0]:.0f}-{found[-1]:.0f} over {runs} runs)"


def _f1_by_lang(test: Sequence[Example], labels: Sequence[str]) -> str:
    parts = []
    for lang in ("en", "zh", "mixed"):
        idx = [i for i, e in enumerate(test) if e.lang == lang]
        parts.append(f"{lang} {score([test[i].label for i in idx], [labels[i] for i in idx]).macro_f1:.3f}")
    overall = score([e.label for e in test], list(labels)).macro_f1
    return f"macro-F1 {overall:.3f} ({', '.join(parts)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threshold", type=float, default=0.8,
                        help="review threshold (default 0.8, the configured default)")
    args = parser.parse_args()
    one_core()
    train, dev, test = read_split("train"), read_split("dev"), read_split("test")
    batch = [(e.subject, e.body) for e in train + dev + test]
    clf = load_classifier()
    print(f"machine: {machine()} (pinned to one core)")
    print(f"test split: {len(test)} emails; model {clf.version}")

    preds = clf.predict_many([(e.subject, e.body) for e in test])
    ev = evaluate_predictions(test, preds, args.threshold)
    load = subprocess.run([sys.executable, "-c", _LOAD], capture_output=True, text=True, check=True,
                          cwd=os.getcwd()).stdout.split()
    size = dir_size(resolve(DEFAULT_MODEL_DIR.resolve())) / 2**20
    print(f"spaCy model    {_f1_by_lang(test, [p.label for p in preds])}  "
          f"{_speed(clf.predict_many, batch)}  size {size:.1f} MB  "
          f"load {float(load[1]):.2f}s (+ import spaCy {float(load[0]):.2f}s)")
    print(f"  under {args.threshold} or the model's own threshold for the language: "
          f"{ev.overall.flagged_share:.1%} flagged for review, "
          f"accuracy of the rest {ev.overall.unflagged_accuracy:.3f}; accuracy overall "
          f"{ev.overall.accuracy:.3f}; "
          f"calibration error {ev.overall.ece:.3f}")

    start = time.perf_counter()
    tfidf = TfidfBaseline().fit(train, dev)
    fit_s = time.perf_counter() - start
    tf_labels = tfidf.predict_many([(e.subject, e.body) for e in test])
    print(f"TF-IDF + LR    {_f1_by_lang(test, tf_labels)}  "
          f"{_speed(tfidf.predict_many, batch)}  (fit with C search {fit_s:.0f}s)")

    kw_labels = [keyword_predict(e.subject, e.body) for e in test]
    print(f"keyword rules  {_f1_by_lang(test, kw_labels)}  "
          f"{_speed(lambda b: [keyword_predict(s, t) for s, t in b], batch)}")
    print("per class (spaCy model):", json.dumps(ev.overall.per_label))
    real_test(clf, args.threshold)


def real_test(clf: Classifier, threshold: float) -> None:
    """The model on the real texts' test split: per language, then per source (issue trackers by hash
    group)."""
    real = read_real("test")
    preds = clf.predict_many([(e.subject, e.body) for e in real])
    print(f"real-text test split: {len(real)} texts")
    for lang in ("en", "zh"):
        idx = [i for i, e in enumerate(real) if e.lang == lang]
        parts = [("all", idx)] + [(g, [i for i in idx if _reported_as(real[i]) == g])
                                  for g in sorted({_reported_as(real[i]) for i in idx})]
        for name, keep in parts:
            # Flagged as the queue flags: under the threshold, or text unlike the training texts.
            s = score([real[i].label for i in keep], [preds[i].label for i in keep],
                      [preds[i].confidence for i in keep], threshold,
                      [preds[i].needs_review(threshold) for i in keep])
            # A source group may lack a label: its macro-F1 averages the labels it holds.
            present = [v["f1"] for v in s.per_label.values() if v["support"]]
            f1 = s.macro_f1 if name == "all" else sum(present) / len(present)
            print(f"  {lang} {name:34} {s.total:4} texts  macro-F1 {f1:.3f}  accuracy {s.accuracy:.3f}  "
                  f"under {threshold} or the model's: {s.flagged_share:5.1%} flagged, accuracy of the rest "
                  f"{s.unflagged_accuracy:.3f}")
        odd = [preds[i].unusual for i in idx if preds[i].unusual]
        print(f"  {lang} unusual text: {len(odd)} "
              f"({', '.join(f'{odd.count(w)} {w}' for w in sorted(set(odd)))}), "
              f"{sum(real[i].label == preds[i].label for i in idx if preds[i].unusual)} of them classified "
              "right")


def _reported_as(e: Example) -> str:
    """A data set by its name; issue trackers (one source each, a few texts apiece) by their hash group."""
    return f"trackers {e.group}" if e.source.startswith("gh-") else e.source


if __name__ == "__main__":
    main()
