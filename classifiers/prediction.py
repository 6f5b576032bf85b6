"""The value a classification produces."""
from __future__ import annotations

from dataclasses import dataclass, field

LABELS: tuple[str, ...] = ("issue", "change_request", "question", "feedback")


@dataclass(frozen=True)
class Prediction:
    """A label with its calibrated confidence, every label's score, the route (en, zh, mixed, other) and the model."""

    label: str
    confidence: float
    lang: str
    model_version: str
    scores: dict[str, float] = field(default_factory=dict)

    def needs_review(self, threshold: float) -> bool:
        """Whether a PM should check this: confidence under THRESHOLD, or a language no model was trained on."""
        return self.confidence < threshold or self.lang == "other"

    def to_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "lang": self.lang,
            "model_version": self.model_version,
            "scores": {k: round(v, 4) for k, v in self.scores.items()},
        }
