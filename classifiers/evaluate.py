"""Measures a classifier on labeled examples: accuracy, per-label precision/recall/F1, confusion."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from classifiers.corpus import Example
from classifiers.model import Classifier
from classifiers.prediction import LABELS


@dataclass
class Evaluation:
    """Figures of one evaluation run."""

    total: int = 0
    correct: int = 0
    per_label: dict[str, dict[str, float]] = field(default_factory=dict)
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)
    by_lang: dict[str, float] = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def macro_f1(self) -> float:
        return sum(v["f1"] for v in self.per_label.values()) / len(self.per_label) if self.per_label else 0.0

    def to_dict(self) -> dict[str, object]:
        return {"total": self.total, "accuracy": round(self.accuracy, 4), "macro_f1": round(self.macro_f1, 4),
                "by_lang": {k: round(v, 4) for k, v in self.by_lang.items()},
                "per_label": self.per_label, "confusion": self.confusion}


def evaluate(clf: Classifier, examples: Sequence[Example]) -> Evaluation:
    """Runs CLF over EXAMPLES and returns the figures."""
    preds = clf.predict_many([(e.subject, e.body) for e in examples])
    ev = Evaluation(total=len(examples))
    ev.confusion = {gold: {p: 0 for p in LABELS} for gold in LABELS}
    lang_hits: dict[str, list[int]] = {}
    for e, p in zip(examples, preds):
        ev.confusion[e.label][p.label] += 1
        hit = int(e.label == p.label)
        ev.correct += hit
        lang_hits.setdefault(e.lang, []).append(hit)
    for label in LABELS:
        tp = ev.confusion[label][label]
        fp = sum(ev.confusion[g][label] for g in LABELS) - tp
        fn = sum(ev.confusion[label].values()) - tp
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        ev.per_label[label] = {"precision": round(prec, 4), "recall": round(rec, 4), "f1": round(f1, 4),
                               "support": tp + fn}
    ev.by_lang = {lang: sum(h) / len(h) for lang, h in lang_hits.items()}
    return ev
