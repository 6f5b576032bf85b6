"""The value a classification produces."""
from __future__ import annotations

from dataclasses import dataclass, field

LABELS: tuple[str, ...] = ("issue", "change_request", "question", "feedback")
NO_TEXT = "none"  # the route of a text with nothing to read: no letter or digit at all


@dataclass(frozen=True)
class Prediction:
    """A label, its calibrated confidence, every label's score, the route (en, zh, mixed, other, none), the model."""

    label: str
    confidence: float
    lang: str
    model_version: str
    scores: dict[str, float] = field(default_factory=dict)

    def needs_review(self, threshold: float) -> bool:
        """Whether a PM should check this: confidence under THRESHOLD, a language no model knows, or no text."""
        return self.confidence < threshold or self.lang in ("other", NO_TEXT)

    def to_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "lang": self.lang,
            "model_version": self.model_version,
            "scores": {k: round(v, 4) for k, v in self.scores.items()},
        }
