"""Measures predictions against labels: per-class precision/recall/F1, macro-F1, confusion, review-threshold
effect."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from classifiers.calibrate import expected_calibration_error
from classifiers.corpus import Example
from classifiers.model import Classifier
from classifiers.prediction import LABELS, Prediction


@dataclass
class Scores:
    """Figures for one set of (gold, predicted, confidence) triples."""

    total: int = 0
    correct: int = 0
    per_label: dict[str, dict[str, float]] = field(default_factory=dict)
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)
    flagged: int = 0
    correct_unflagged: int = 0
    ece: float = 0.0

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def macro_f1(self) -> float:
        return sum(v["f1"] for v in self.per_label.values()) / len(self.per_label) if self.per_label else 0.0

    @property
    def present_macro_f1(self) -> float:
        """Macro-F1 over the labels the gold side holds: a single source often lacks a label."""
        present = [v["f1"] for v in self.per_label.values() if v["support"]]
        return sum(present) / len(present) if present else 0.0

    @property
    def flagged_share(self) -> float:
        return self.flagged / self.total if self.total else 0.0

    @property
    def unflagged_accuracy(self) -> float:
        rest = self.total - self.flagged
        return self.correct_unflagged / rest if rest else 0.0

    def to_dict(self) -> dict[str, object]:
        return {"total": self.total, "accuracy": round(self.accuracy, 4), "macro_f1": round(self.macro_f1, 4),
                "flagged_share": round(self.flagged_share, 4),
                "unflagged_accuracy": round(self.unflagged_accuracy, 4),
                "calibration_error": round(self.ece, 4),
                "per_label": self.per_label, "confusion": self.confusion}


def score(gold: Sequence[str], predicted: Sequence[str], confidence: Sequence[float] | None = None,
          threshold: float = 0.0, review: Sequence[bool] | None = None) -> Scores:
    """Scores PREDICTED against GOLD; CONFIDENCE under THRESHOLD, or REVIEW set, counts as flagged for
    review."""
    conf = list(confidence) if confidence is not None else [1.0] * len(gold)
    forced = list(review) if review is not None else [False] * len(gold)
    s = Scores(total=len(gold))
    s.confusion = {g: {p: 0 for p in LABELS} for g in LABELS}
    for g, p, c, f in zip(gold, predicted, conf, forced, strict=True):
        s.confusion[g][p] += 1
        hit = g == p
        s.correct += hit
        if c < threshold or f:
            s.flagged += 1
        else:
            s.correct_unflagged += hit
    for label in LABELS:
        tp = s.confusion[label][label]
        fp = sum(s.confusion[g][label] for g in LABELS) - tp
        fn = sum(s.confusion[label].values()) - tp
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        s.per_label[label] = {"precision": round(prec, 4), "recall": round(rec, 4), "f1": round(f1, 4),
                              "support": tp + fn}
    s.ece = expected_calibration_error(conf, [g == p for g, p in zip(gold, predicted, strict=True)])
    return s


MIN_SOURCE_LINE = 10  # a source with fewer texts is reported with the other small ones in the text report


@dataclass
class Evaluation:
    """Overall scores and the same per corpus language (en, zh, mixed) and per source, where lines name
    one."""

    overall: Scores
    by_lang: dict[str, Scores]
    threshold: float
    by_source: dict[str, Scores] = field(default_factory=dict)
    examples: Sequence[Example] = ()
    preds: Sequence[Prediction] = ()

    def part(self, keep: list[int]) -> Scores:
        """The scores of the examples at KEEP; flagged is what the queue would flag
        (Prediction.needs_review)."""
        return score([self.examples[i].label for i in keep], [self.preds[i].label for i in keep],
                     [self.preds[i].confidence for i in keep], self.threshold,
                     [self.threshold > 0 and self.preds[i].needs_review(self.threshold) for i in keep])

    def to_dict(self) -> dict[str, object]:
        return {"threshold": self.threshold, **self.overall.to_dict(),
                "by_lang": {lang: s.to_dict() for lang, s in sorted(self.by_lang.items())},
                "by_source": {src: {**s.to_dict(), "macro_f1_present_labels": round(s.present_macro_f1, 4)}
                              for src, s in sorted(self.by_source.items())}}


def evaluate_predictions(examples: Sequence[Example], preds: Sequence[Prediction],
                         threshold: float = 0.0) -> Evaluation:
    """Scores PREDS for EXAMPLES overall and per language."""
    ev = Evaluation(Scores(), {}, threshold, {}, examples, preds)
    ev.overall = ev.part(list(range(len(examples))))
    ev.by_lang = {lang: ev.part([i for i, e in enumerate(examples) if e.lang == lang])
                  for lang in sorted({e.lang for e in examples})}
    ev.by_source = {src: ev.part([i for i, e in enumerate(examples) if e.source == src])
                    for src in sorted({e.source for e in examples if e.source})}
    return ev


def evaluate(clf: Classifier, examples: Sequence[Example], threshold: float = 0.0) -> Evaluation:
    """Runs CLF over EXAMPLES and scores it."""
    preds = clf.predict_many([(e.subject, e.body) for e in examples])
    return evaluate_predictions(examples, preds, threshold)


def format_report(ev: Evaluation) -> str:
    """A plain-text report: per-class table, macro-F1, confusion matrix, overall and per language."""
    out: list[str] = []

    def block(title: str, s: Scores) -> None:
        out.append(f"== {title}: {s.total} emails, accuracy {s.accuracy:.3f}, macro-F1 {s.macro_f1:.3f}")
        out.append(f"{'':16}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}")
        for label in LABELS:
            v = s.per_label[label]
            out.append(f"{label:16}{v['precision']:>10.3f}{v['recall']:>10.3f}{v['f1']:>10.3f}{v['support']:>9.0f}")
        out.append("confusion (rows: true, columns: predicted)")
        out.append(f"{'':16}" + "".join(f"{label[:14]:>16}" for label in LABELS))
        for g in LABELS:
            out.append(f"{g:16}" + "".join(f"{s.confusion[g][p]:>16}" for p in LABELS))
        if ev.threshold > 0:
            out.append(f"flagged for review (below {ev.threshold:.2f} or the model's threshold for the "
                       f"language, or unusual text): {s.flagged} "
                       f"({s.flagged_share:.1%}); "
                       f"accuracy of the rest {s.unflagged_accuracy:.3f}")
        out.append(f"calibration error (ECE) {s.ece:.3f}")
        out.append("")

    block("all", ev.overall)
    for lang, s in sorted(ev.by_lang.items()):
        block(f"lang {lang}", s)
    if ev.by_source:
        # Sources with a handful of texts (one issue tracker each) say little alone: they share one line here
        # and are listed one by one in --json.
        small = {src for src, s in ev.by_source.items() if s.total < MIN_SOURCE_LINE}
        rows = [(src, s) for src, s in sorted(ev.by_source.items()) if src not in small]
        if small:
            keep = [i for i, e in enumerate(ev.examples) if e.source in small]
            rows.append((f"{len(small)} sources under {MIN_SOURCE_LINE} texts each", ev.part(keep)))
        width = max(len(name) for name, _ in rows)
        out.append("== per source (macro-F1 over the labels a source holds; flagged: below "
                   f"{ev.threshold:.2f} "
                   "or the model's threshold for the language, or unusual text)")
        out.append(f"{'source':{width}}{'texts':>7}{'macro-F1':>10}{'accuracy':>10}"
                   f"{'flagged':>9}{'rest right':>12}")
        for name, s in rows:
            out.append(f"{name:{width}}{s.total:>7}{s.present_macro_f1:>10.3f}{s.accuracy:>10.3f}"
                       f"{s.flagged_share:>9.1%}{s.unflagged_accuracy:>12.3f}")
        out.append("")
    return "\n".join(out)
