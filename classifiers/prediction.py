"""The value a classification produces."""
from __future__ import annotations

from dataclasses import dataclass, field

LABELS: tuple[str, ...] = ("issue", "change_request", "question", "feedback")


@dataclass(frozen=True)
class Prediction:
    """A label with its confidence, every label's score, the language judged and the model that judged."""

    label: str
    confidence: float
    lang: str
    model_version: str
    scores: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "lang": self.lang,
            "model_version": self.model_version,
            "scores": {k: round(v, 4) for k, v in self.scores.items()},
        }
