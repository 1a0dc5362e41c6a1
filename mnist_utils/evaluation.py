"""Scores and summaries computed from predictions."""

from __future__ import annotations

import numpy as np


def accuracy(y_true: np.ndarray, probs: np.ndarray) -> float:
    """Fraction of rows whose arg-max class equals the label."""
    return float(np.mean(np.asarray(probs).argmax(axis=1) == np.asarray(y_true)))


def mean_std(values) -> tuple[float, float | None]:
    """Mean and sample standard deviation (ddof=1); the deviation is None for one value."""
    values = np.asarray(values, dtype=float)
    std = float(values.std(ddof=1)) if values.size > 1 else None
    return float(values.mean()), std


def format_pct(mean: float, std: float | None = None, digits: int = 2) -> str:
    """'97.81 %' or '97.81 ± 0.09 %' from fractions."""
    if std is None:
        return f"{100 * mean:.{digits}f} %"
    return f"{100 * mean:.{digits}f} ± {100 * std:.{digits}f} %"


def misclassified(y_true: np.ndarray, probs: np.ndarray, n: int = 20) -> np.ndarray:
    """Indices of up to ``n`` wrong predictions, most confident first."""
    probs = np.asarray(probs)
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != np.asarray(y_true))
    confidence = probs[wrong, pred[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")][:n]


def class_counts(labels: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Images per class."""
    return np.bincount(np.asarray(labels), minlength=num_classes)
