"""Compares classifier variants on real texts from sources they never learned from (cross-validation by
source).

The real texts' train split (classifiers/data/real, split "train") is cut into folds by source group
(a data set, or a hash group of issue trackers; at most five folds per language, the smallest groups
merged). Each fold is read by a model trained on the written train split plus, for the variants that
use real text, the real texts of the other folds, so every score is on sources the model has not seen.
The real-text test split is never read here. Prints per language: macro-F1 over all held-out texts,
macro-F1 per fold (over the labels the fold holds), and the review threshold's effect (share flagged,
accuracy of the rest) with the temperature fitted on the written dev split alone, and with one fitted
on the held-out real texts (close to what `intake train` fits on the dev split plus real texts read
out of fold).
With --written-cv it instead scores each variant by 5-fold cross-validation on the written corpus
(train and dev; real texts only added to the training folds), the cost of real text on written mail.
Usage: python -m benchmarks.classifier_sources [--only NAME ...] [--langs en zh] [--threshold 0.8]
[--written-cv] (the TF-IDF rows need scikit-learn: pip install -e '.[bench]').
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, before numpy loads
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from dataclasses import dataclass, replace  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.baselines import TfidfBaseline  # noqa: E402
from benchmarks.common import machine, one_core  # noqa: E402
from classifiers.calibrate import apply_temperature, fit_temperature  # noqa: E402
from classifiers.corpus import Example, read_real, read_split  # noqa: E402
from classifiers.evaluate import Scores, score  # noqa: E402
from classifiers.prediction import LABELS  # noqa: E402
from classifiers.text import model_text  # noqa: E402
from classifiers.train import DEFAULT_SPEC, ModelSpec, calibration_folds, for_language, train_language  # noqa: E402

MAX_FOLDS = 5
# The shipped design with every real text at full weight; each variant names what it changes.
BASE = replace(DEFAULT_SPEC, real_weight=1.0, normalize=False)


@dataclass(frozen=True)
class Variant:
    """What a model learns from and how it reads text."""

    real: bool                  # learn from the real texts of the other folds too
    real_copies: int = 1        # how many times each real text is learned from per epoch
    normalized: bool = False    # logs, code, links, paths and template scaffolding read as placeholders
    tfidf: bool = False         # the TF-IDF + logistic regression baseline instead of the spaCy model
    spec: ModelSpec = BASE


VARIANTS: dict[str, Variant] = {
    "written only (shipped before)": Variant(real=False),
    "written + real": Variant(real=True),
    "written + real x3": Variant(real=True, real_copies=3),
    "written + real, normalized": Variant(real=True, normalized=True),
    "written + real x3, normalized": Variant(real=True, real_copies=3, normalized=True),
    "written only, normalized": Variant(real=False, normalized=True),
    "written + real x3, 20 epochs": Variant(real=True, real_copies=3, spec=replace(BASE, epochs=20)),
    "written + real x0.5, normalized (shipped)": Variant(real=True, normalized=True,
                                               spec=replace(BASE, real_weight=0.5)),
    "written + real x0.25, normalized": Variant(real=True, normalized=True,
                                                spec=replace(BASE, real_weight=0.25)),
    "x0.5, English words only": Variant(real=True, normalized=True,
                                        spec=replace(BASE, real_weight=0.5, ngram_en=1)),
    "x0.5, 20 epochs": Variant(real=True, normalized=True, spec=replace(BASE, real_weight=0.5, epochs=20)),
    "x0.25, 20 epochs": Variant(real=True, normalized=True, spec=replace(BASE, real_weight=0.25, epochs=20)),
    "x0.5, English words 1-3": Variant(real=True, normalized=True,
                                       spec=replace(BASE, real_weight=0.5, ngram_en=3)),
    "x0.5, dropout 0.4": Variant(real=True, normalized=True,
                                 spec=replace(BASE, real_weight=0.5, dropout=0.4)),
    "x0.5, learn rate 0.005": Variant(real=True, normalized=True,
                                      spec=replace(BASE, real_weight=0.5, learn_rate=0.005)),
    "x0.5, dropout 0": Variant(real=True, normalized=True, spec=replace(BASE, real_weight=0.5, dropout=0.0)),
    "x0.75": Variant(real=True, normalized=True, spec=replace(BASE, real_weight=0.75)),
    "x0.5, presence": Variant(real=True, normalized=True, spec=replace(BASE, real_weight=0.5,
                                                                       counts="binary")),
    "x0.5, Chinese characters 1-3": Variant(real=True, normalized=True,
                                            spec=replace(BASE, real_weight=0.5, ngram_zh=3)),
    "TF-IDF written only": Variant(real=False, tfidf=True),
    "TF-IDF written + real x3": Variant(real=True, real_copies=3, tfidf=True),
}


def source_folds(examples: Sequence[Example]) -> list[list[str]]:
    """The source groups of EXAMPLES as folds, the same that `intake train` calibrates on."""
    return calibration_folds(examples, MAX_FOLDS)


def _probs(lang: str, variant: Variant, train: list[Example], dev: list[Example],
           test: list[Example]) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities for DEV, for TEST) of a LANG model trained on TRAIN."""
    spec = replace(variant.spec, normalize=variant.normalized)

    def read(subject: str, body: str) -> str:
        return model_text(subject, body, spec.normalize)

    if variant.tfidf:
        rows = [replace(e, subject="", body=read(e.subject, e.body)) for e in train]
        c, _ = TfidfBaseline.tuned(lang, rows, [replace(e, subject="",
                                                        body=read(e.subject, e.body)) for e in dev])
        model = TfidfBaseline._pipeline(lang, c)
        model.fit([model_text(e.subject, e.body) for e in rows], [e.label for e in rows])
        order = [list(model.classes_).index(label) for label in LABELS]
        return tuple(model.predict_proba([read(e.subject, e.body) for e in part])[:,
                                                                                  order]  # type: ignore[return-value]
                     for part in (dev, test))
    nlp = train_language(lang, train, spec)
    out = []
    for part in (dev, test):
        docs = nlp.pipe(read(e.subject, e.body) for e in part)
        out.append(np.array([[doc.cats[label] for label in LABELS] for doc in docs], dtype=np.float64))
    return out[0], out[1]


def _present_f1(s: Scores) -> float:
    """Macro-F1 over the labels the fold holds (a review-site fold has no feedback, a review fold no
    questions)."""
    present = [v["f1"] for v in s.per_label.values() if v["support"]]
    return sum(present) / len(present) if present else 0.0


def _flagging(probs: np.ndarray, gold: list[str], threshold: float) -> str:
    s = score(gold, [LABELS[i] for i in probs.argmax(axis=1)], list(probs.max(axis=1)), threshold)
    return f"{s.flagged_share:5.1%} flagged, rest {s.unflagged_accuracy:.3f}"


def cross_validate(name: str, variant: Variant, lang: str, threshold: float) -> None:
    written = for_language(read_split("train"), lang)
    dev = [e for e in read_split("dev") if e.lang == lang]
    real = read_real("train", (lang,))
    folds = source_folds(real)
    gold: list[str] = []
    raw: list[np.ndarray] = []
    calibrated: list[np.ndarray] = []
    per_fold: list[str] = []
    cache: tuple[np.ndarray, np.ndarray] | None = None
    for groups in folds:
        held = [e for e in real if e.group in groups]
        if variant.real:
            rest = [e for e in real if e.group not in groups]
            dev_probs, probs = _probs(lang, variant, written + rest * variant.real_copies, dev, held)
        else:
            # Written text only: one model reads every fold.
            if cache is None:
                cache = _probs(lang, variant, written, dev, real)
            dev_probs = cache[0]
            probs = cache[1][[i for i, e in enumerate(real) if e.group in groups]]
        t = fit_temperature(dev_probs, [LABELS.index(e.label) for e in dev]) if not variant.tfidf else 1.0
        gold += [e.label for e in held]
        raw.append(probs)
        calibrated.append(apply_temperature(probs, t))
        f1 = _present_f1(score([e.label for e in held], [LABELS[i] for i in probs.argmax(axis=1)]))
        per_fold.append(f"{'+'.join(groups)} {f1:.3f}")
    all_raw, all_cal = np.vstack(raw), np.vstack(calibrated)
    s = score(gold, [LABELS[i] for i in all_raw.argmax(axis=1)])
    t_real = fit_temperature(all_raw, [LABELS.index(g) for g in gold])
    print(f"{lang}  {name:32} macro-F1 {s.macro_f1:.3f}  accuracy {s.accuracy:.3f}  "
          f"(mean over folds {statistics.mean(float(p.rsplit(' ', 1)[1]) for p in per_fold):.3f}); "
          + ("" if variant.tfidf else f"threshold {threshold}: T dev {_flagging(all_cal, gold, threshold)}; ")
          + f"T real {t_real:.2f} {_flagging(apply_temperature(all_raw, t_real), gold, threshold)}",
          flush=True)
    print(f"{'':4}{'':32} per fold: " + "  ".join(per_fold), flush=True)


def written_cross_validate(name: str, variant: Variant, lang: str, k: int = 5) -> None:
    """K-fold macro-F1 on the written corpus (train and dev), the real texts' train split added to every
    training fold for the variants that use real text: what learning from real text costs on written mail."""
    from benchmarks.classifier_models import folds

    parts = folds(read_split("train") + read_split("dev"), k)
    real = for_language(read_real("train", (lang,)), lang) if variant.real else []
    spec = replace(variant.spec, normalize=variant.normalized)
    results = []
    for i, held in enumerate(parts):
        rest = for_language([e for j, part in enumerate(parts) if j != i for e in part], lang)
        test = [e for e in held if e.lang == lang]
        nlp = train_language(lang, rest + real * variant.real_copies, spec)
        docs = nlp.pipe(model_text(e.subject, e.body, spec.normalize) for e in test)
        guesses = [max(LABELS, key=lambda label, d=doc: d.cats[label]) for doc in docs]
        results.append(score([e.label for e in test], guesses).macro_f1)
    print(f"{lang}  {name:32} written {k}-fold macro-F1 {statistics.mean(results):.3f} ± "
          f"{statistics.stdev(results):.3f} (per fold {' '.join(f'{x:.3f}' for x in results)})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", choices=sorted(VARIANTS), metavar="NAME",
                        help=f"variants to run: {', '.join(VARIANTS)}")
    parser.add_argument("--langs", nargs="*", choices=("en", "zh"), default=["en", "zh"])
    parser.add_argument("--threshold", type=float, default=0.8, help="review threshold (default 0.8)")
    parser.add_argument("--written-cv", action="store_true",
                        help="instead: 5-fold cross-validation on the written corpus (what real text costs "
                             "there)")
    args = parser.parse_args()
    one_core()
    print(f"machine: {machine()} (pinned to one core)")
    if args.written_cv:
        for lang in args.langs:
            for name in args.only or [n for n, v in VARIANTS.items() if not v.tfidf]:
                written_cross_validate(name, VARIANTS[name], lang)
        return
    for lang in args.langs:
        real = read_real("train", (lang,))
        print(f"{lang}: {len(real)} real texts in the train split, folds by source: "
              + " | ".join("+".join(f) for f in source_folds(real)), flush=True)
        for name in args.only or VARIANTS:
            cross_validate(name, VARIANTS[name], lang, args.threshold)


if __name__ == "__main__":
    main()
