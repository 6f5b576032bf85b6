"""Classifies client email text into issue, change_request, question or feedback, in Chinese and English."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from classifiers.prediction import LABELS, Prediction

if TYPE_CHECKING:
    from classifiers.model import Classifier, load_classifier

__all__ = ["LABELS", "Prediction", "Classifier", "load_classifier"]


def __getattr__(name: str) -> Any:
    # The classifier and its loader on first use: the package is imported by processes that only name labels
    # or keep spaCy's model library off GPU frameworks (classifiers.lean_import), which need no numpy.
    if name in ("Classifier", "load_classifier"):
        from classifiers import model

        return getattr(model, name)
    raise AttributeError(f"module 'classifiers' has no attribute {name!r}")
