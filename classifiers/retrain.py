"""Trains a new model version beside the old ones and activates it only if it is not worse on the dev split."""
from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from classifiers.corpus import Example
from classifiers.evaluate import Evaluation, evaluate
from classifiers.model import DEFAULT_MODEL_DIR, load_classifier
from classifiers.store import ModelMissingError, ModelStore, resolve
from classifiers.train import DEFAULT_SPEC, ModelSpec, train_version


@dataclass
class Outcome:
    """What one training run produced and whether it went live."""

    version: str
    path: Path
    dev: Evaluation
    baseline_version: str | None
    baseline_dev: Evaluation | None
    activated: bool
    reason: str


def _baseline(root: Path) -> Path | None:
    """The version workers use now for ROOT: its active one, else the shipped one."""
    for candidate in (root, DEFAULT_MODEL_DIR):
        try:
            return resolve(candidate.resolve())
        except ModelMissingError:
            continue
    return None


def train_new_version(train: Sequence[Example], dev: Sequence[Example], root: Path, *,
                      spec: ModelSpec = DEFAULT_SPEC, force: bool = False,
                      progress: Callable[[str, int], None] | None = None) -> Outcome:
    """Trains on TRAIN into a new version under ROOT; activates it if its dev macro-F1 is not below the baseline's."""
    store = ModelStore(root)
    baseline = _baseline(root)
    scratch = store.scratch()
    try:
        meta = train_version(train, dev, scratch, spec, progress)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    version = str(meta["version"])
    path = store.add(scratch, version)
    new_dev = evaluate(load_classifier(path), dev)
    old_dev = evaluate(load_classifier(baseline), dev) if baseline is not None else None
    if old_dev is None:
        activated, reason = True, "no model was active"
    elif force:
        activated, reason = True, "activated by --force"
    elif new_dev.overall.macro_f1 >= old_dev.overall.macro_f1:
        activated, reason = True, "not worse on the dev split"
    else:
        activated, reason = False, "worse on the dev split than the active model; kept the active one"
    if activated:
        store.activate(version)
    return Outcome(version, path, new_dev, baseline.name if baseline else None, old_dev, activated, reason)
