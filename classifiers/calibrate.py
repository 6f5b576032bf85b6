"""Temperature scaling: one number per model that turns its scores into honest probabilities."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_EPS = 1e-9
# Log-spaced candidates from 0.05 to 20: a grid search is exact enough for one parameter and never diverges.
_GRID = np.exp(np.linspace(np.log(0.05), np.log(20.0), 400))


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Rescales rows of probabilities: p ** (1/T), renormalized (T > 1 softens, T < 1 sharpens)."""
    logits = np.log(np.clip(probs, _EPS, 1.0)) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=-1, keepdims=True)


def _nll(probs: np.ndarray, gold: np.ndarray, temperature: float) -> float:
    scaled = apply_temperature(probs, temperature)
    return float(-np.log(np.clip(scaled[np.arange(len(gold)), gold], _EPS, 1.0)).mean())


def fit_temperature(probs: Sequence[Sequence[float]], gold: Sequence[int]) -> float:
    """The temperature that minimizes the negative log-likelihood of GOLD under PROBS (held-out data)."""
    p = np.asarray(probs, dtype=np.float64)
    g = np.asarray(gold, dtype=np.int64)
    if len(g) == 0:
        return 1.0
    losses = [_nll(p, g, float(t)) for t in _GRID]
    return round(float(_GRID[int(np.argmin(losses))]), 4)


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool],
                               bins: int = 10) -> float:
    """How far confidence is from accuracy, averaged over equal-width confidence bins (weighted by size)."""
    conf = np.asarray(confidences, dtype=np.float64)
    hit = np.asarray(correct, dtype=np.float64)
    if len(conf) == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        inside = (conf > lo) & (conf <= hi) if lo > 0 else (conf >= lo) & (conf <= hi)
        if inside.any():
            total += inside.sum() / len(conf) * abs(conf[inside].mean() - hit[inside].mean())
    return float(total)


# Candidate per-language review thresholds, from the configured default up: a model only ever flags more.
THRESHOLD_GRID = tuple(round(0.80 + 0.01 * i, 2) for i in range(20))
TARGET_RIGHT = 0.95  # share of unflagged guesses that should be right (issue 16)


def choose_threshold(confidences: Sequence[float], correct: Sequence[bool], target: float = TARGET_RIGHT,
                     grid: Sequence[float] = THRESHOLD_GRID, min_unflagged: float = 0.2) -> float | None:
    """The lowest threshold of GRID under which the guesses left unflagged are at least TARGET right on
    held-out
    data (CONFIDENCES calibrated, CORRECT whether each guess was right) while at least MIN_UNFLAGGED of them
    stay unflagged; None when no threshold does (a model that flags nearly everything helps nobody)."""
    conf = np.asarray(confidences, dtype=np.float64)
    hit = np.asarray(correct, dtype=bool)
    for t in grid:
        rest = conf >= t
        if rest.mean() < min_unflagged:
            break
        if hit[rest].mean() >= target:
            return float(t)
    return None
