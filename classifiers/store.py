"""Model versions on disk: one directory per trained version and an ACTIVE file naming the one in use."""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

ACTIVE_FILE = "ACTIVE"
META_FILE = "meta.json"
# A version's directory name (20261206-143359-6d299e834f): no separator and no leading dot, so a name read
# from the database never leads outside a model directory.
_VERSION = re.compile(r"\w[\w.-]*")


class ModelMissingError(RuntimeError):
    """The model directory holds no usable model."""


class ModelStore:
    """A directory of model versions, e.g. classifiers/models/20261123-101500-ab12cd34ef/{en,zh,meta.json}."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def versions(self) -> list[str]:
        """Every complete version, oldest first."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / META_FILE).is_file())

    def active(self) -> str | None:
        """The version in use, or None when nothing was activated here."""
        try:
            name = (self.root / ACTIVE_FILE).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return name if name and (self.root / name / META_FILE).is_file() else None

    def path(self, version: str) -> Path:
        return self.root / version

    def meta(self, version: str) -> dict[str, object]:
        return read_meta(self.path(version))

    def activate(self, version: str) -> None:
        """Makes VERSION the one workers load; atomic, so a reader never sees half a name."""
        if not (self.path(version) / META_FILE).is_file():
            raise ModelMissingError(f"no model version {version!r} in {self.root}")
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".active-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(version + "\n")
        os.replace(tmp, self.root / ACTIVE_FILE)

    def scratch(self) -> Path:
        """A fresh directory to train into, inside the store so that adding it is a rename."""
        self.root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=self.root, prefix=".training-"))

    def add(self, scratch: Path, version: str) -> Path:
        """Moves a trained SCRATCH directory into place as VERSION."""
        target = self.path(version)
        if target.exists():
            shutil.rmtree(scratch)
            raise FileExistsError(f"model version {version} already exists in {self.root}")
        os.replace(scratch, target)
        return target


def read_meta(version_dir: Path) -> dict[str, object]:
    """A version's metadata (version, spec, calibration, training counts)."""
    path = version_dir / META_FILE
    if not path.is_file():
        raise ModelMissingError(f"no trained model in {version_dir}; run `intake train`")
    return json.loads(path.read_text(encoding="utf-8"))


def resolve(model_dir: Path) -> Path:
    """The version directory MODEL_DIR stands for: itself if it is a version, else its active version."""
    if (model_dir / META_FILE).is_file():
        return model_dir
    active = ModelStore(model_dir).active()
    if active is None:
        raise ModelMissingError(f"no active model in {model_dir}; run `intake train`")
    return model_dir / active


def meta_thresholds(meta: dict[str, object]) -> dict[str, float]:
    """The per-language review thresholds a version's META records ({} when it chose none)."""
    return {str(k): float(v) for k, v in dict(meta.get("review_threshold") or {}).items()}  # type: ignore


def version_thresholds(version: str, roots: Iterable[Path]) -> dict[str, float] | None:
    """VERSION's own per-language review thresholds ({} when it chose none), from the first of the model
    directories ROOTS that holds it; None when none does."""
    if not _VERSION.fullmatch(version):
        return None
    for root in roots:
        try:
            meta = read_meta(root / version)
        except (ModelMissingError, OSError, ValueError):
            continue
        return meta_thresholds(meta)
    return None
