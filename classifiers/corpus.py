"""Reads labeled email corpora (JSON lines with subject, body, label, lang): the fixed splits and the real
texts."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from classifiers.prediction import LABELS

DATA_DIR = Path(__file__).with_name("data")
SPLITS = ("train", "dev", "test")
CORPUS_LANGS = ("en", "zh", "mixed")
# Real client-like texts from licensed public sources, one file per language, split by whole sources.
REAL_DIR = DATA_DIR / "real"
REAL_LANGS = ("en", "zh")
REAL_SPLITS = ("train", "test")


@dataclass(frozen=True)
class Example:
    """One labeled email; BOUNDARY marks one written near a category boundary of LABELS.md.

    GROUP is a real text's source group (a data set, or a hash group of issue trackers), which
    cross-validation holds out whole, and SOURCE its data set or tracker; both are empty for the written
    corpus.
    """

    subject: str
    body: str
    label: str
    lang: str
    boundary: bool = False
    group: str = ""
    source: str = ""


class CorpusError(ValueError):
    """A corpus line that cannot be used; the message names file and line."""


def parse_example(obj: object, where: str) -> Example:
    """Checks one decoded JSON line; WHERE names it in the error."""
    if not isinstance(obj, dict):
        raise CorpusError(f"{where}: expected a JSON object")
    label = obj.get("label")
    if label not in LABELS:
        raise CorpusError(f"{where}: label must be one of {', '.join(LABELS)}, not {label!r}")
    lang = obj.get("lang", "")
    if lang not in CORPUS_LANGS:
        raise CorpusError(f"{where}: lang must be one of {', '.join(CORPUS_LANGS)}, not {lang!r}")
    subject, body = obj.get("subject", ""), obj.get("body", "")
    if not isinstance(subject, str) or not isinstance(body, str):
        raise CorpusError(f"{where}: subject and body must be strings")
    if not (subject.strip() or body.strip()):
        raise CorpusError(f"{where}: subject and body are both empty")
    group, source = obj.get("group", ""), obj.get("source", "")
    if not isinstance(group, str) or not isinstance(source, str):
        raise CorpusError(f"{where}: group and source must be strings")
    return Example(subject, body, label, lang, bool(obj.get("boundary", False)), group, source)


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
            out.append(parse_example(obj, f"{path}:{n}"))
    return out


def split_path(split: str) -> Path:
    """The shipped file of one fixed split: train, dev (model choice, calibration) or test (reporting
    only)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}")
    return DATA_DIR / f"{split}.jsonl"


def read_split(split: str) -> list[Example]:
    """The examples of one shipped split."""
    return read_examples(split_path(split))


def read_real(split: str, langs: tuple[str, ...] = REAL_LANGS) -> list[Example]:
    """The real texts of one split: "train" (learning and cross-validation) or "test" (reported figures
    only)."""
    if split not in REAL_SPLITS:
        raise ValueError(f"unknown real-text split {split!r}")
    out: list[Example] = []
    for lang in langs:
        path = REAL_DIR / f"{lang}.jsonl"
        with path.open(encoding="utf-8") as fh:
            splits = [json.loads(line).get("split") for line in fh if line.strip()]
        out += [e for e, s in zip(read_examples(path), splits, strict=False) if s == split]
    return out
