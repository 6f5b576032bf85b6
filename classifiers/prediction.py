"""The value a classification produces."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from classifiers.lang import readers

LABELS: tuple[str, ...] = ("issue", "change_request", "question", "feedback")
NO_TEXT = "none"  # the route of a text with nothing to read: no letter or digit at all


def review_floor(thresholds: Mapping[str, float], lang: str) -> float:
    """A model version's own review threshold for text of LANG, from its per-language THRESHOLDS: mixed text
    is read by both models, so it is held to the stricter of theirs; 0 where the version chose none."""
    return max((thresholds.get(m, 0.0) for m in readers(lang)), default=0.0)


def review_threshold(threshold: float, floor: float, model_threshold: bool = True) -> float:
    """The threshold under which an item is flagged: the configured THRESHOLD, raised to the model's own
    FLOOR for the language when MODEL_THRESHOLD (classifier.model_thresholds)."""
    return max(threshold, floor) if model_threshold else threshold


@dataclass(frozen=True)
class Prediction:
    """A label, its calibrated confidence, every label's score, the route (en, zh, mixed, other, none), the
    model; UNUSUAL says why the text is unlike what the models learned from ("short", "code", "language"), if
    it is."""

    label: str
    confidence: float
    lang: str
    model_version: str
    scores: dict[str, float] = field(default_factory=dict)
    unusual: str = ""
    review_floor: float = 0.0  # the reading model's own review threshold (chosen on held-out real text)

    def needs_review(self, threshold: float, model_threshold: bool = True) -> bool:
        """Whether a PM should check this: confidence under THRESHOLD or (MODEL_THRESHOLD) the model's own
        review threshold, a language no model knows, no text, or text unlike what the models learned from."""
        floor = review_threshold(threshold, self.review_floor, model_threshold)
        return self.confidence < floor or self.lang in ("other", NO_TEXT) or bool(self.unusual)

    def to_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "lang": self.lang,
            "model_version": self.model_version,
            "scores": {k: round(v, 4) for k, v in self.scores.items()},
            **({"unusual": self.unusual} if self.unusual else {}),
        }
