"""The review threshold each item was flagged by: the configured one, raised to its model version's own."""
from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from classifiers.model import DEFAULT_MODEL_DIR
from classifiers.prediction import review_floor, review_threshold
from classifiers.store import version_thresholds


class ReviewThresholds:
    """Where an item's confidence bands are cut: where the worker flagged it. That is CONFIGURED
    (classifier.review_threshold), raised, when MODEL_THRESHOLDS (classifier.model_thresholds), to the
    threshold the item's model version chose for its language, read from the version's meta.json in
    MODEL_DIRS. A version found in none of them counts as one without thresholds of its own."""

    def __init__(self, configured: float, model_thresholds: bool = True,
                 model_dirs: Sequence[Path] = (DEFAULT_MODEL_DIR,)) -> None:
        self.configured = configured
        self.model_thresholds = model_thresholds
        self.model_dirs = tuple(model_dirs)
        # A version's thresholds never change once it is trained, so each is read once; one not found is
        # looked up again (it may be copied in later), at the cost of a missing file's stat.
        self._known: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def configured_by(cls, threshold: float, model_thresholds: bool, model_dir: str) -> ReviewThresholds:
        """The thresholds of a config: the versions `intake train` wrote to MODEL_DIR (if set), then the
        shipped ones, as the worker finds them."""
        dirs = ([Path(model_dir)] if model_dir else []) + [DEFAULT_MODEL_DIR]
        return cls(threshold, model_thresholds, dirs)

    def _floors(self, version: str) -> dict[str, float]:
        with self._lock:
            known = self._known.get(version)
        if known is not None:
            return known
        found = version_thresholds(version, self.model_dirs) if version else None
        if found is None:
            return {}
        with self._lock:
            self._known[version] = found
        return found

    def for_item(self, model_version: str | None, lang: str | None) -> float:
        """The threshold an item classified by MODEL_VERSION, in LANG, was flagged under."""
        if not self.model_thresholds:
            return self.configured
        # An item keeps the language it is answered in, not the classifier's route: mixed text answered in
        # Chinese is held to the Chinese threshold here, where the worker held it to the stricter of both.
        floor = review_floor(self._floors(model_version or ""), lang or "en")
        return review_threshold(self.configured, floor)
