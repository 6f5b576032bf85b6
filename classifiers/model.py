"""Loads the shipped spaCy models and predicts categories, one language model per language."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import spacy
from spacy.language import Language

from classifiers.lang import detect_language
from classifiers.prediction import LABELS, Prediction
from classifiers.text import model_text

DEFAULT_MODEL_DIR = Path(__file__).with_name("models")
LANGS = ("en", "zh")


class ModelMissingError(RuntimeError):
    """The model directory has no trained model."""


class Classifier:
    """Predicts with one spaCy text classifier per language."""

    def __init__(self, pipelines: dict[str, Language], version: str) -> None:
        self.pipelines = pipelines
        self.version = version

    def predict(self, subject: str, body: str = "") -> Prediction:
        """Classifies one email."""
        return self.predict_many([(subject, body)])[0]

    def predict_many(self, emails: Sequence[tuple[str, str]], batch_size: int = 64) -> list[Prediction]:
        """Classifies many emails at once, each language's batch through nlp.pipe."""
        texts = [model_text(s, b) for s, b in emails]
        langs = [detect_language(t) for t in texts]
        results: list[Prediction | None] = [None] * len(texts)
        for lang in LANGS:
            idx = [i for i, lg in enumerate(langs) if lg == lang]
            if not idx:
                continue
            nlp = self.pipelines[lang]
            docs = nlp.pipe((texts[i] for i in idx), batch_size=batch_size)
            for i, doc in zip(idx, docs):
                results[i] = self._to_prediction(doc.cats, lang)
        return [r for r in results if r is not None]

    def _to_prediction(self, cats: dict[str, float], lang: str) -> Prediction:
        scores = {label: float(cats.get(label, 0.0)) for label in LABELS}
        label = max(scores, key=scores.__getitem__)
        return Prediction(label=label, confidence=scores[label], lang=lang,
                          model_version=self.version, scores=scores)


def read_meta(model_dir: Path) -> dict[str, object]:
    """The model's metadata (version, training figures)."""
    path = model_dir / "meta.json"
    if not path.exists():
        raise ModelMissingError(f"no trained model in {model_dir}; run `intake train`")
    return json.loads(path.read_text(encoding="utf-8"))


_cache: dict[Path, Classifier] = {}


def load_classifier(model_dir: str | Path | None = None) -> Classifier:
    """Loads (once per process) the models in MODEL_DIR, the shipped ones by default."""
    path = Path(model_dir) if model_dir else DEFAULT_MODEL_DIR
    path = path.resolve()
    if path not in _cache:
        meta = read_meta(path)
        pipelines = {lang: spacy.load(path / lang) for lang in LANGS}
        _cache[path] = Classifier(pipelines, str(meta.get("version", "unknown")))
    return _cache[path]
