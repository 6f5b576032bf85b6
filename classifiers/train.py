"""Trains the per-language spaCy text classifiers from labeled examples and saves them."""
from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.training import Example as SpacyExample
from spacy.util import fix_random_seed, minibatch

from classifiers.corpus import Example
from classifiers.model import LANGS
from classifiers.prediction import LABELS
from classifiers.text import model_text

# Bag-of-ngrams suits a few hundred examples per language with no pretrained vectors;
# Chinese is split into characters, so longer n-grams stand in for words.
NGRAMS = {"en": 2, "zh": 2}
EPOCHS = 20
SEED = 7


def build_pipeline(lang: str) -> Language:
    """A blank pipeline with an exclusive-class text classifier."""
    nlp = spacy.blank(lang)
    textcat = nlp.add_pipe(
        "textcat",
        config={
            "model": {
                "@architectures": "spacy.TextCatBOW.v3",
                "exclusive_classes": True,
                "ngram_size": NGRAMS[lang],
                "no_output_layer": False,
                "length": 2**16,
            }
        },
    )
    for label in LABELS:
        textcat.add_label(label)
    return nlp


def train_language(lang: str, examples: Sequence[Example],
                   progress: Callable[[int, float], None] | None = None) -> Language:
    """Trains one language's pipeline on EXAMPLES of that language."""
    fix_random_seed(SEED)
    nlp = build_pipeline(lang)
    data = [
        SpacyExample.from_dict(nlp.make_doc(model_text(e.subject, e.body)),
                               {"cats": {label: float(label == e.label) for label in LABELS}})
        for e in examples
    ]
    optimizer = nlp.initialize(lambda: data)
    rng = random.Random(SEED)
    for epoch in range(EPOCHS):
        rng.shuffle(data)
        losses: dict[str, float] = {}
        for batch in minibatch(data, size=16):
            nlp.update(batch, sgd=optimizer, losses=losses, drop=0.2)
        if progress:
            progress(epoch + 1, losses.get("textcat", 0.0))
    return nlp


def corpus_digest(examples: Sequence[Example]) -> str:
    """A short digest of the training data, part of the model version."""
    h = hashlib.sha256()
    for e in examples:
        h.update(json.dumps([e.subject, e.body, e.label, e.lang], ensure_ascii=False).encode())
    return h.hexdigest()[:10]


def train_all(examples: Sequence[Example], out_dir: Path,
              progress: Callable[[str, int, float], None] | None = None) -> str:
    """Trains every language and writes the models and their meta.json to OUT_DIR; returns the version."""
    counts: dict[str, dict[str, int]] = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    for lang in LANGS:
        subset = [e for e in examples if e.lang == lang]
        if not subset:
            raise ValueError(f"no training examples in language {lang!r}")
        counts[lang] = {label: sum(e.label == label for e in subset) for label in LABELS}
        missing = [label for label, n in counts[lang].items() if n == 0]
        if missing:
            raise ValueError(f"no {lang} training examples for {', '.join(missing)}")
        cb = (lambda ep, loss, _l=lang: progress(_l, ep, loss)) if progress else None
        nlp = train_language(lang, subset, cb)
        nlp.to_disk(out_dir / lang)
    version = f"{datetime.now(timezone.utc):%Y%m%d}-{corpus_digest(examples)}"
    meta = {"version": version, "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "examples": counts, "epochs": EPOCHS, "ngrams": NGRAMS}
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return version
