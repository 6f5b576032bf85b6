"""Reads labeled email corpora (JSON lines with subject, body, label, lang)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from classifiers.prediction import LABELS

DATA_DIR = Path(__file__).with_name("data")


@dataclass(frozen=True)
class Example:
    """One labeled email."""

    subject: str
    body: str
    label: str
    lang: str


class CorpusError(ValueError):
    """A corpus line that cannot be used; the message names file and line."""


def read_examples(path: Path) -> list[Example]:
    """Reads and checks every line of PATH."""
    out: list[Example] = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{path}:{n}: not JSON: {exc.msg}") from None
            label = obj.get("label")
            if label not in LABELS:
                raise CorpusError(f"{path}:{n}: label must be one of {', '.join(LABELS)}, not {label!r}")
            lang = obj.get("lang", "")
            if lang not in ("en", "zh"):
                raise CorpusError(f"{path}:{n}: lang must be en or zh, not {lang!r}")
            out.append(Example(str(obj.get("subject", "")), str(obj.get("body", "")), label, lang))
    return out


def training_files() -> list[Path]:
    """The shipped training corpora."""
    return sorted(DATA_DIR.glob("train_*.jsonl"))


def eval_files() -> list[Path]:
    """The shipped held-out evaluation corpora."""
    return sorted(DATA_DIR.glob("eval_*.jsonl"))
