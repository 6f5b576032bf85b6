"""Loads a model version and predicts calibrated categories, routing each text to its language's model."""
from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from classifiers.calibrate import apply_temperature
from classifiers.lang import readers, route
from classifiers.prediction import LABELS, NO_TEXT, Prediction, review_floor
from classifiers.store import ModelMissingError, meta_thresholds, read_meta, resolve
from classifiers.text import has_words, model_text
from classifiers.unusual import unusual

if TYPE_CHECKING:
    from spacy.language import Language

DEFAULT_MODEL_DIR = Path(__file__).with_name("models")
LANGS = ("en", "zh")

__all__ = ["Classifier", "DEFAULT_MODEL_DIR", "LANGS", "ModelMissingError", "load_classifier"]


class Classifier:
    """One spaCy text classifier per language; mixed text is read by both, their probabilities averaged."""

    def __init__(self, pipelines: dict[str, Language], version: str,
                 temperatures: dict[str, float] | None = None, normalized: bool = False,
                 thresholds: dict[str, float] | None = None) -> None:
        self.pipelines = pipelines
        self.version = version
        self.temperatures = temperatures or {}
        self.normalized = normalized  # the models learned from normalized text (ModelSpec.normalize)
        # per language: the version's own review threshold, if it chose one
        self.thresholds = thresholds or {}

    def predict(self, subject: str, body: str = "") -> Prediction:
        """Classifies one email."""
        return self.predict_many([(subject, body)])[0]

    def _probs(self, lang: str, texts: list[str], batch_size: int) -> np.ndarray:
        docs = self.pipelines[lang].pipe(texts, batch_size=batch_size)
        raw = np.array([[doc.cats.get(label, 0.0) for label in LABELS] for doc in docs], dtype=np.float64)
        return apply_temperature(raw, self.temperatures.get(lang, 1.0)) if len(raw) else raw

    def predict_many(self, emails: Sequence[tuple[str, str]], batch_size: int = 64) -> list[Prediction]:
        """Classifies many emails at once; each language model reads its texts through nlp.pipe."""
        texts = [model_text(s or "", b or "", self.normalized) for s, b in emails]
        # A text without a single letter or digit (empty, blanks, punctuation, emoji) gives the models
        # nothing to read: every category is equally likely, so it is never a confident guess.
        routes = [route(t) if has_words(t) else NO_TEXT for t in texts]
        probs = np.zeros((len(texts), len(LABELS)))
        reading = np.zeros(len(texts))  # how many models read each text
        for lang in LANGS:
            idx = [i for i, r in enumerate(routes) if r != NO_TEXT and lang in readers(r)]
            if idx:
                probs[idx] += self._probs(lang, [texts[i] for i in idx], batch_size)
                reading[idx] += 1
        read = reading > 0
        probs[read] /= reading[read, None]
        probs[~read] = 1.0 / len(LABELS)
        # Text unlike any the models learned from keeps its guess but goes to a PM (and gets a neutral reply).
        odd = [unusual(t, r, self.normalized) if r != NO_TEXT else "" for t,
               r in zip(texts, routes, strict=True)]
        return [self._to_prediction(row, r, u) for row, r, u in zip(probs, routes, odd, strict=True)]

    def _to_prediction(self, row: np.ndarray, lang: str, odd: str = "") -> Prediction:
        scores = {label: float(p) for label, p in zip(LABELS, row, strict=True)}
        label = LABELS[int(np.argmax(row))]
        return Prediction(label=label, confidence=scores[label], lang=lang, model_version=self.version,
                          scores=scores, unusual=odd, review_floor=review_floor(self.thresholds, lang))


_cache: dict[Path, Classifier] = {}
_lock = threading.Lock()


def load_classifier(model_dir: str | Path | None = None) -> Classifier:
    """The active model version in MODEL_DIR (the shipped models by default), loaded once per process.

    A directory holding no trained model yet falls back to the shipped one, so a fresh
    `classifier.model_dir` works before its first `intake train`. Calling again after a new
    version was activated returns the new one: workers pick it up without a restart.
    """
    root = Path(model_dir) if model_dir else DEFAULT_MODEL_DIR
    try:
        version_dir = resolve(root.resolve())
    except ModelMissingError:
        if root.resolve() == DEFAULT_MODEL_DIR.resolve():
            raise
        version_dir = resolve(DEFAULT_MODEL_DIR.resolve())
    with _lock:
        if version_dir not in _cache:
            # spaCy is imported here, not at the top: commands that never classify (and the worker until its
            # first batch) start without it. The two modules register what the saved models name.
            import spacy

            from classifiers import architectures, tokenize  # noqa: F401
            meta = read_meta(version_dir)
            pipelines = {lang: spacy.load(version_dir / lang) for lang in LANGS}
            temps = {k: float(v) for k, v in dict(meta.get("temperature")
                                                  or {}).items()}  # type: ignore[call-overload]
            spec = dict(meta.get("spec") or {})  # type: ignore[call-overload]
            _cache[version_dir] = Classifier(pipelines, str(meta.get("version", version_dir.name)), temps,
                                             bool(spec.get("normalize", False)), meta_thresholds(meta))
        return _cache[version_dir]
