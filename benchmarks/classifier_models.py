"""Compares classifier designs on the dev split: architecture, Chinese segmentation, mixed-text routing.

Trains each variant on the train split, scores it on the dev split (the test split is never
looked at here), and prints macro-F1 per language, speed on one core, load time and size.
With --cv K it instead scores each language's model by K-fold cross-validation over train and
dev together: steadier than the dev split alone, where one email moves macro-F1 by 0.6 points;
--tfidf adds the TF-IDF baseline (C chosen on an inner fold), --langs limits the languages,
--repeats R draws the folds R times (the spread between fold draws is as large as most differences).
Variants in AVERAGED (cross-validation only) average the probabilities of two Chinese models.
Usage: python -m benchmarks.classifier_models [--only NAME ...] [--cv K [--repeats R] [--tfidf] [--langs zh]]
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, before numpy loads
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

from benchmarks.baselines import TfidfBaseline  # noqa: E402
from benchmarks.common import dir_size, machine, one_core, rates  # noqa: E402
from classifiers.corpus import Example, read_split  # noqa: E402
from classifiers.evaluate import evaluate_predictions, score  # noqa: E402
from classifiers.model import _cache, load_classifier  # noqa: E402
from classifiers.prediction import LABELS  # noqa: E402
from classifiers.text import model_text  # noqa: E402
from classifiers.train import DEFAULT_SPEC, ModelSpec, for_language, train_language, train_version  # noqa: E402

_SPACY_BOW = ModelSpec(arch="bow", ngram_en=2, ngram_zh=2, epochs=20, learn_rate=0.001)
_SPACY_ENSEMBLE = replace(_SPACY_BOW, arch="ensemble", epochs=10)
_NORMBOW_V1 = ModelSpec(arch="normbow", ngram_en=1, ngram_zh=3, epochs=10, learn_rate=0.01)  # shipped before
VARIANTS: dict[str, ModelSpec] = {
    "bow": _SPACY_BOW,
    "bow-jieba": replace(_SPACY_BOW, zh_segmenter="jieba"),
    "ensemble": _SPACY_ENSEMBLE,
    "ensemble-jieba": replace(_SPACY_ENSEMBLE, zh_segmenter="jieba"),
    "normbow (chosen)": DEFAULT_SPEC,
    "normbow-v1": _NORMBOW_V1,
    "normbow-v1-jieba": replace(_NORMBOW_V1, zh_segmenter="jieba", ngram_zh=2),
    "normbow-2gram": replace(_NORMBOW_V1, ngram_en=2, ngram_zh=2),
    # One change at a time from normbow-v1, for the cross-validation in the README.
    "en-words-1-3": replace(_NORMBOW_V1, ngram_en=3),
    "zh-char-1-1": replace(_NORMBOW_V1, ngram_zh=1),
    "zh-char-1-2": replace(_NORMBOW_V1, ngram_zh=2),
    "zh-char-1-4": replace(_NORMBOW_V1, ngram_zh=4),
    "zh-char-2-3": replace(_NORMBOW_V1, ngram_zh=3, ngram_min_zh=2),
    "zh-char-2-4": replace(_NORMBOW_V1, ngram_zh=4, ngram_min_zh=2),
    "zh-charword-1-2": replace(_NORMBOW_V1, zh_segmenter="charword", ngram_zh=2),
    "zh-charword-1-3": replace(_NORMBOW_V1, zh_segmenter="charword"),
    "zh-charword-1-4": replace(_NORMBOW_V1, zh_segmenter="charword", ngram_zh=4),
    "binary-counts": replace(_NORMBOW_V1, counts="binary"),
    "boundary-x2": replace(_NORMBOW_V1, boundary_copies=2),
    "2gram-binary": replace(_NORMBOW_V1, ngram_en=2, ngram_zh=2, counts="binary"),
    "2gram-boundary-x2": replace(_NORMBOW_V1, ngram_en=2, ngram_zh=2, boundary_copies=2),
    "2gram-20-epochs": replace(_NORMBOW_V1, ngram_en=2, ngram_zh=2, epochs=20),
    # One change at a time from the chosen design.
    "half-lr-20-epochs": replace(DEFAULT_SPEC, learn_rate=0.005, epochs=20),
    "weight-decay-0.01": replace(DEFAULT_SPEC, l2=0.01),
}
# Chinese read by two models whose probabilities are averaged: characters and jieba words.
_JIEBA_WORDS = replace(_NORMBOW_V1, zh_segmenter="jieba", ngram_zh=1)
AVERAGED: dict[str, tuple[ModelSpec, ...]] = {
    "zh-char-1-3+jieba-1-2-avg": (_NORMBOW_V1, replace(_JIEBA_WORDS, ngram_zh=2)),
    "zh-char-1-2+jieba-1-2-avg": (replace(_NORMBOW_V1, ngram_zh=2), replace(_JIEBA_WORDS, ngram_zh=2)),
    "zh-char-1-2+jieba-1-avg": (replace(_NORMBOW_V1, ngram_zh=2), _JIEBA_WORDS),
}


_FOLD_SEED = 11  # the first draw of folds; repeated cross-validation adds 10 per draw


def folds(examples: list[Example], k: int, seed: int = _FOLD_SEED) -> list[list[Example]]:
    """K folds of EXAMPLES, each language and label spread evenly over them (fixed seed)."""
    out: list[list[Example]] = [[] for _ in range(k)]
    groups: dict[tuple[str, str], list[Example]] = {}
    for e in examples:
        groups.setdefault((e.lang, e.label), []).append(e)
    rng = random.Random(seed)
    turn = 0
    for key in sorted(groups):
        group = groups[key]
        rng.shuffle(group)
        for e in group:
            out[turn % k].append(e)
            turn += 1
    return out


def _tfidf_guesses(lang: str, rest: list[Example], test: list[Example], k: int) -> list[str]:
    """The TF-IDF baseline: C chosen on one inner fold of REST, then refit on all of REST."""
    inner = folds(rest, k, seed=13)
    fit_on = for_language([e for part in inner[1:] for e in part], lang)
    c, _ = TfidfBaseline.tuned(lang, fit_on, [e for e in inner[0] if e.lang == lang])
    rows = for_language(rest, lang)
    model = TfidfBaseline._pipeline(lang, c)
    model.fit([model_text(e.subject, e.body) for e in rows], [e.label for e in rows])
    return list(model.predict([model_text(e.subject, e.body) for e in test]))


def _fold_pairs(k: int, repeats: int) -> list[tuple[list[Example], list[Example]]]:
    """(held-out fold, the rest) for K folds over train and dev, drawn anew REPEATS times."""
    corpus = read_split("train") + read_split("dev")
    out = []
    for r in range(repeats):
        parts = folds(corpus, k, seed=_FOLD_SEED + 10 * r)
        out += [(held, [e for j, part in enumerate(parts) if j != i for e in part]) for i,
                held in enumerate(parts)]
    return out


def cross_validate(name: str, spec: ModelSpec | tuple[ModelSpec, ...] | None, k: int,
                   langs: tuple[str, ...] = ("en", "zh"), repeats: int = 1) -> None:
    """K-fold macro-F1 per language of SPEC's model (several specs: their probabilities averaged),
    or of the TF-IDF baseline when SPEC is None; REPEATS times over differently drawn folds."""
    results: dict[str, list[float]] = {lang: [] for lang in langs}
    for held, rest in _fold_pairs(k, repeats):
        for lang in results:
            test = [e for e in held if e.lang == lang]
            if spec is None:
                guesses = _tfidf_guesses(lang, rest, test, k)
            else:
                specs = spec if isinstance(spec, tuple) else (spec,)
                probs = [[0.0] * len(LABELS) for _ in test]
                for one in specs:
                    nlp = train_language(lang, for_language(rest, lang), one)
                    for row, doc in zip(probs, nlp.pipe(model_text(e.subject, e.body) for e in test),
                                        strict=True):
                        for j, label in enumerate(LABELS):
                            row[j] += doc.cats[label]
                guesses = [LABELS[max(range(len(LABELS)), key=row.__getitem__)] for row in probs]
            results[lang].append(score([e.label for e in test], guesses).macro_f1)
    line = "  ".join(f"{lang} {statistics.mean(v):.3f} ± {statistics.stdev(v):.3f}" for lang,
                     v in results.items())
    line += "; per fold " + "  ".join(f"{lang} " + " ".join(f"{x:.3f}" for x in v) for lang,
                                      v in results.items())
    both = statistics.mean(v for vals in results.values() for v in vals)
    print(f"{name:18} {k}-fold{f' x{repeats}' if repeats > 1 else ''} macro-F1 {both:.3f}  ({line})",
          flush=True)


def run(name: str, spec: ModelSpec, workdir: Path) -> None:
    train, dev = read_split("train"), read_split("dev")
    out = workdir / name
    start = time.perf_counter()
    train_version(train, dev, out, spec)
    trained = time.perf_counter() - start
    _cache.clear()
    start = time.perf_counter()
    clf = load_classifier(out)
    clf.predict("warm up", "")  # jieba loads its dictionary on first use
    loaded = time.perf_counter() - start
    batch = [(e.subject, e.body) for e in train + dev]
    speed = rates(clf.predict_many, batch)[0]  # after a warm-up read, like the other benchmarks
    preds = clf.predict_many([(e.subject, e.body) for e in dev])
    ev = evaluate_predictions(dev, preds)
    langs = "  ".join(f"{lang} {s.macro_f1:.3f}" for lang, s in sorted(ev.by_lang.items()))
    print(f"{name:15} dev macro-F1 {ev.overall.macro_f1:.3f}  ({langs})  {speed:6.0f} emails/s  "
          f"load {loaded:4.2f}s  size {dir_size(out) / 2**20:5.1f} MB  trained in {trained:5.0f}s",
          flush=True)
    mixed = [i for i, e in enumerate(dev) if e.lang == "mixed"]
    if mixed:
        sub = [dev[i] for i in mixed]
        for lang in ("en", "zh"):
            only = [clf._to_prediction(row, lang) for row in
                    clf._probs(lang, [_text(e) for e in sub], 64)]
            f1 = evaluate_predictions(sub, only).overall.macro_f1
            print(f"{'':15}   mixed read by the {lang} model alone: macro-F1 {f1:.3f}")


def _text(e):  # type: ignore[no-untyped-def]
    from classifiers.text import model_text

    return model_text(e.subject, e.body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", choices=sorted(VARIANTS) + sorted(AVERAGED), metavar="NAME",
                        help=f"variants to run: {', '.join(VARIANTS)}")
    parser.add_argument("--cv", type=int, metavar="K", help="K-fold cross-validation over train and dev")
    parser.add_argument("--tfidf", action="store_true",
                        help="with --cv: also the TF-IDF baseline (C tuned on an inner fold)")
    parser.add_argument("--repeats", type=int, default=1, metavar="R",
                        help="with --cv: repeat the cross-validation over R different fold draws")
    parser.add_argument("--langs", nargs="*", choices=("en", "zh"), default=["en", "zh"],
                        help="with --cv: languages to score")
    args = parser.parse_args()
    one_core()
    print(f"machine: {machine()} (pinned to one core)")
    if args.cv:
        langs = tuple(args.langs)
        if args.tfidf:
            cross_validate("TF-IDF + LR", None, args.cv, langs, args.repeats)
        for name in args.only or [*VARIANTS, *AVERAGED]:
            cross_validate(name, VARIANTS.get(name) or AVERAGED[name], args.cv, langs, args.repeats)
        return
    with tempfile.TemporaryDirectory() as tmp:
        for name in [n for n in args.only or VARIANTS if n in VARIANTS]:
            run(name, VARIANTS[name], Path(tmp))


if __name__ == "__main__":
    main()
