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
[--written-cv | --speed] (the TF-IDF rows need scikit-learn: pip install -e '.[bench]').
With --speed it instead trains each variant's models on all of the train splits and measures emails/s on
one core over the written train and dev emails, the load time and the size.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, before numpy loads
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import asdict, dataclass, replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import classifiers.train as train_module  # noqa: E402
from benchmarks.baselines import TfidfBaseline  # noqa: E402
from benchmarks.common import dir_size, machine, one_core, rates  # noqa: E402
from classifiers.calibrate import apply_temperature, fit_temperature  # noqa: E402
from classifiers.corpus import Example, read_real, read_split  # noqa: E402
from classifiers.evaluate import Scores, score  # noqa: E402
from classifiers.model import LANGS, load_classifier  # noqa: E402
from classifiers.prediction import LABELS  # noqa: E402
from classifiers.text import model_text  # noqa: E402
from classifiers.train import DEFAULT_SPEC, ModelSpec, calibration_folds, for_language, train_language  # noqa: E402

MAX_FOLDS = 5
# The design shipped with the first model that learned real text, every real text at full weight and
# without normalizing; each variant names what it changes. Written out, not taken from DEFAULT_SPEC, so the
# rows keep their meaning when the shipped design changes.
BASE = ModelSpec(arch="normbow", ngram_en=2, ngram_zh=2, zh_segmenter="charword", epochs=10, learn_rate=0.01)
# What was shipped with it: real texts at half weight, read normalized (with Variant.normalized).
SHIPPED = replace(BASE, real_weight=0.5)


@dataclass(frozen=True)
class Variant:
    """What a model learns from and how it reads text."""

    real: bool                  # learn from the real texts of the other folds too
    real_copies: int = 1        # how many times each real text is learned from per epoch
    normalized: bool = False    # logs, code, links, paths and template scaffolding read as placeholders
    tfidf: bool = False         # the TF-IDF + logistic regression baseline instead of the spaCy model
    spec: ModelSpec = BASE
    # the spaCy model's probabilities averaged with TF-IDF + logistic regression's at this weight (real texts
    # weighted as in SPEC)
    tfidf_blend: float = 0.0


def _shipped(**changes: object) -> Variant:
    """The shipped design (real text at half weight, normalized) with CHANGES to its spec."""
    return Variant(real=True, normalized=True, spec=replace(SHIPPED, **changes))  # type: ignore[arg-type]


def _chars(lo: int, hi: int, weight: float = 1.0, **changes: object) -> Variant:
    """The shipped design reading English character LO..HI-grams at WEIGHT (beside the words unless
    CHANGES say words_en=False)."""
    return _shipped(char_min_en=lo, char_max_en=hi, char_weight=weight, **changes)


def _default(**changes: object) -> Variant:
    """The design of the next retraining (`DEFAULT_SPEC`) with CHANGES to its spec."""
    return Variant(real=True, normalized=True, spec=replace(DEFAULT_SPEC, **changes))  # type: ignore[arg-type]


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
    "DEFAULT_SPEC": Variant(real=True, normalized=DEFAULT_SPEC.normalize, spec=DEFAULT_SPEC),
    "DEFAULT_SPEC, real x0.75": _default(real_weight=0.75),
    "DEFAULT_SPEC, real x1": _default(real_weight=1.0),
    "DEFAULT_SPEC, real x0.35": _default(real_weight=0.35),
    "DEFAULT_SPEC, boundary x2": _default(boundary_copies=2),
    "DEFAULT_SPEC, subject words marked": _default(en_tokenizer="subject"),
    "DEFAULT_SPEC, table 2^20": _default(length=2**20),
    "DEFAULT_SPEC, real x0.25": _default(real_weight=0.25),
    "DEFAULT_SPEC, real x0.15": _default(real_weight=0.15),
    "DEFAULT_SPEC, written only": Variant(real=False, normalized=True, spec=DEFAULT_SPEC),
    "x0.5, chars 3-5 beside words": _chars(3, 5),
    "x0.5, chars 3-5 alone": _chars(3, 5, words_en=False),
    "x0.5, chars 2-4 beside words": _chars(2, 4),
    "x0.5, chars 3-5 at 0.5 beside words": _chars(3, 5, 0.5),
    "x0.5, line marks": _shipped(en_tokenizer="marks"),
    "x0.5, real balanced": _shipped(real_balance=True),
    "x0.5, 20 epochs, lr 0.005": _shipped(epochs=20, learn_rate=0.005),
    "x0.5, 30 epochs, lr 0.003": _shipped(epochs=30, learn_rate=0.003),
    "x0.5, chars 3-5 at 0.3 beside words": _chars(3, 5, 0.3),
    "x0.5, chars 2-4 at 0.5 beside words": _chars(2, 4, 0.5),
    "x0.5 balanced, chars 3-5 at 0.5": _chars(3, 5, 0.5, real_balance=True),
    "x0.5 balanced, line marks": _shipped(real_balance=True, en_tokenizer="marks"),
    "x0.5 balanced, line marks, chars 3-5 at 0.5": _chars(3, 5, 0.5, real_balance=True, en_tokenizer="marks"),
    "x0.5, chars 3-5 at 0.2 beside words": _chars(3, 5, 0.2),
    "x0.5, chars 3-5 at 0.1 beside words": _chars(3, 5, 0.1),
    "x0.5 balanced, chars 3-5 at 0.3": _chars(3, 5, 0.3, real_balance=True),
    "x0.5 balanced, chars 3-5 at 0.2": _chars(3, 5, 0.2, real_balance=True),
    "x0.5 balanced, chars 3-5 at 0.4": _chars(3, 5, 0.4, real_balance=True),
    "x0.5 balanced, line marks, chars 3-5 at 0.3": _chars(3, 5, 0.3, real_balance=True, en_tokenizer="marks"),
    "x0.75 balanced": _shipped(real_weight=0.75, real_balance=True),
    "x0.35 balanced": _shipped(real_weight=0.35, real_balance=True),
    "x0.5, averaged weights": _shipped(averaged=True),
    "x0.5, weight decay 0.05": _shipped(l2=0.05),
    "x0.5, averaged with TF-IDF": Variant(real=True, normalized=True, spec=SHIPPED, tfidf_blend=0.5),
    "TF-IDF written only": Variant(real=False, tfidf=True),
    "TF-IDF written + real x3": Variant(real=True, real_copies=3, tfidf=True),
}


def fold_name(groups: Sequence[str]) -> str:
    """A fold's source groups, shortened where merged groups are many (a source of its own each, later
    rounds)."""
    return "+".join(groups) if len(groups) <= 3 else f"{'+'.join(groups[:2])}+{len(groups) - 2} more"


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
        return _tfidf_probs(lang, train, dev, test, read)
    nlp = train_language(lang, train, spec)
    out = []
    for part in (dev, test):
        docs = nlp.pipe(read(e.subject, e.body) for e in part)
        out.append(np.array([[doc.cats[label] for label in LABELS] for doc in docs], dtype=np.float64))
    if variant.tfidf_blend:
        weights = [spec.real_weight if e.group else 1.0 for e in train]
        tf = _tfidf_probs(lang, train, dev, test, read, weights)
        b = variant.tfidf_blend
        out = [(1 - b) * p + b * q for p, q in zip(out, tf, strict=True)]
    return out[0], out[1]


def _tfidf_probs(lang: str, train: list[Example], dev: list[Example], test: list[Example],
                 read: Callable[[str, str], str],
                 weights: list[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities for DEV, for TEST) of TF-IDF + logistic regression trained on TRAIN (each example at
    its weight in WEIGHTS), C chosen on DEV."""
    rows = [replace(e, subject="", body=read(e.subject, e.body)) for e in train]
    held = [replace(e, subject="", body=read(e.subject, e.body)) for e in dev]
    c, _ = TfidfBaseline.tuned(lang, rows, held)
    model = TfidfBaseline._pipeline(lang, c)
    model.fit([model_text(e.subject, e.body) for e in rows], [e.label for e in rows],
              logisticregression__sample_weight=weights)
    order = [list(model.classes_).index(label) for label in LABELS]
    dev_p, test_p = (model.predict_proba([read(e.subject, e.body) for e in part])[:, order]
                     for part in (dev, test))
    return dev_p, test_p


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
        per_fold.append(f"{fold_name(groups)} {f1:.3f}")
    all_raw, all_cal = np.vstack(raw), np.vstack(calibrated)
    s = score(gold, [LABELS[i] for i in all_raw.argmax(axis=1)])
    t_real = fit_temperature(all_raw, [LABELS.index(g) for g in gold])
    print(f"{lang}  {name:32} macro-F1 {s.macro_f1:.3f}  accuracy {s.accuracy:.3f}  "
          f"(mean over folds {statistics.mean(float(p.rsplit(' ', 1)[1]) for p in per_fold):.3f}); "
          + ("" if variant.tfidf else f"threshold {threshold}: T dev {_flagging(all_cal, gold, threshold)}; ")
          + f"T real {t_real:.2f} {_flagging(apply_temperature(all_raw, t_real), gold, threshold)}",
          flush=True)
    print(f"{'':4}{'':32} per fold: " + "  ".join(per_fold), flush=True)
    print(f"{'':4}{'':32} confusion (rows true, columns guessed, {' / '.join(LABELS)}): "
          + "  ".join(" ".join(f"{s.confusion[g][p]}" for p in LABELS) for g in LABELS), flush=True)


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


_LOAD = ("import sys, time; import spacy; t = time.perf_counter(); "
         "from classifiers.model import load_classifier; c = load_classifier(sys.argv[1]); "
         "c.predict('warm up'); print(time.perf_counter() - t)")


def speed(name: str, variant: Variant, runs: int = 3) -> None:
    """Trains VARIANT's models (written train split, and the real train split if it learns real text) and
    measures what the budgets ask: emails/s on one core over the written train and dev emails (the whole
    classifier: routing, both languages), and the load and first prediction in a fresh process after
    importing spaCy. The test splits are not read."""
    spec = replace(variant.spec, normalize=variant.normalized)
    examples = read_split("train") + (read_real("train") if variant.real else [])
    batch = [(e.subject, e.body) for e in read_split("train") + read_split("dev")]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench"
        out.mkdir()
        for lang in LANGS:
            train_language(lang, for_language(examples, lang), spec).to_disk(out / lang)
        meta = {"version": "bench", "spec": asdict(spec)}
        (out / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        clf = load_classifier(out)
        found = rates(clf.predict_many, batch, runs)
        loads = [float(subprocess.run([sys.executable, "-c", _LOAD, str(out)], capture_output=True, text=True,
                                      check=True).stdout) for _ in range(runs)]
        size = dir_size(out) / 2**20
    print(f"{name:32} {min(found):6.0f}-{max(found):6.0f} emails/s over {len(batch)} written emails; "
          f"load and first prediction {min(loads):.2f}-{max(loads):.2f} s after importing spaCy; "
          f"size {size:.1f} MB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", choices=sorted(VARIANTS), metavar="NAME",
                        help=f"variants to run: {', '.join(VARIANTS)}")
    parser.add_argument("--langs", nargs="*", choices=("en", "zh"), default=["en", "zh"])
    parser.add_argument("--threshold", type=float, default=0.8, help="review threshold (default 0.8)")
    parser.add_argument("--written-cv", action="store_true",
                        help="instead: 5-fold cross-validation on the written corpus (what real text costs "
                             "there)")
    parser.add_argument("--seed", type=int, help="train with this seed instead of the fixed one (for the "
                        "spread that the seed alone makes)")
    parser.add_argument("--speed", action="store_true",
                        help="instead: emails/s on one core, load time and size of each variant's models")
    args = parser.parse_args()
    if args.seed is not None:
        train_module.SEED = args.seed
    one_core()
    print(f"machine: {machine()} (pinned to one core)")
    if args.speed:
        for name in args.only or [n for n, v in VARIANTS.items() if not v.tfidf and not v.tfidf_blend]:
            if VARIANTS[name].tfidf or VARIANTS[name].tfidf_blend:
                raise SystemExit(f"{name}: --speed measures the spaCy model alone")
            speed(name, VARIANTS[name])
        return
    if args.written_cv:
        for lang in args.langs:
            for name in args.only or [n for n, v in VARIANTS.items() if not v.tfidf and not v.tfidf_blend]:
                if VARIANTS[name].tfidf or VARIANTS[name].tfidf_blend:
                    raise SystemExit(f"{name}: --written-cv scores the spaCy model alone")
                written_cross_validate(name, VARIANTS[name], lang)
        return
    for lang in args.langs:
        real = read_real("train", (lang,))
        print(f"{lang}: {len(real)} real texts in the train split, folds by source: "
              + " | ".join(fold_name(f) for f in source_folds(real)), flush=True)
        for name in args.only or VARIANTS:
            cross_validate(name, VARIANTS[name], lang, args.threshold)


if __name__ == "__main__":
    main()
