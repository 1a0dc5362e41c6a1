"""Scores and summaries computed from predictions."""

from __future__ import annotations

import numpy as np

SIGNIFICANT = 0.05  # a McNemar p below this counts as a significant difference


def accuracy(y_true: np.ndarray, probs: np.ndarray) -> float:
    """Fraction of rows whose arg-max class equals the label."""
    return float(np.mean(np.asarray(probs).argmax(axis=1) == np.asarray(y_true)))


def mean_std(values) -> tuple[float, float | None]:
    """Mean and sample standard deviation (ddof=1); the deviation is None for one value."""
    values = np.asarray(values, dtype=float)
    std = float(values.std(ddof=1)) if values.size > 1 else None
    return float(values.mean()), std


def summary(values) -> dict:
    """``{"mean", "std", "n"}`` of a list of scores, as ``display.facts`` publishes them for the
    templates' ``pm`` filter (std is None for one value)."""
    mean, std = mean_std(values)
    return {"mean": mean, "std": std, "n": len(values)}


def format_pct(mean: float, std: float | None = None, digits: int = 2) -> str:
    """'97.81 %' or '97.81 ± 0.09 %' from fractions."""
    if std is None:
        return f"{100 * mean:.{digits}f} %"
    return f"{100 * mean:.{digits}f} ± {100 * std:.{digits}f} %"


def pct_mean_std(values) -> str:
    """'97.34 ± 0.03' (or '97.34' for one value) from fractions: a table cell in percent."""
    return format_pct(*mean_std(values)).removesuffix(" %")


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


def mcnemar(y_true: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray) -> dict:
    """McNemar's exact test: do two classifiers err on the same examples equally often?

    Counts b (A right, B wrong) and c (A wrong, B right) and runs a two-sided exact
    binomial test of b against Binomial(b + c, 1/2), valid for any count.

    Returns:
        dict with a_only (b), b_only (c), accuracy_a, accuracy_b, p_value.
    """
    from scipy.stats import binomtest

    y_true, pred_a, pred_b = map(np.asarray, (y_true, pred_a, pred_b))
    right_a, right_b = pred_a == y_true, pred_b == y_true
    b = int(np.sum(right_a & ~right_b))
    c = int(np.sum(~right_a & right_b))
    p_value = 1.0 if b + c == 0 else float(binomtest(b, b + c, 0.5).pvalue)
    return {
        "a_only": b,
        "b_only": c,
        "accuracy_a": float(right_a.mean()),
        "accuracy_b": float(right_b.mean()),
        "p_value": p_value,
    }


def mcnemar_frame(tests: list[dict], comparison: str, pairs: list[str]):
    """McNemar results (from :func:`mcnemar`) as table rows, one per seed pair."""
    import pandas as pd

    frame = pd.DataFrame(
        [
            {
                "comparison": comparison,
                "seed pair": pair,
                "accuracy A (%)": 100 * t["accuracy_a"],
                "accuracy B (%)": 100 * t["accuracy_b"],
                "only A right": t["a_only"],
                "only B right": t["b_only"],
                "p-value": t["p_value"],
            }
            for pair, t in zip(pairs, tests)
        ],
        columns=[
            "comparison",
            "seed pair",
            "accuracy A (%)",
            "accuracy B (%)",
            "only A right",
            "only B right",
            "p-value",
        ],
    )
    # Numbers stay numbers even with no rows: an empty frame's columns are objects, and a table
    # concatenated with one would lose its number format.
    return frame.astype(
        {"accuracy A (%)": float, "accuracy B (%)": float, "only A right": int, "only B right": int, "p-value": float}
    )


def summarize_branch_runs(runs: dict, keys: tuple[str, ...]):
    """One row per seed of every side-by-side run, final-epoch validation scores (a DataFrame).

    Args:
        runs: {key: (list of training.BranchResult, epoch seconds)}; a key is a tuple,
            or a single value when there is one key column.
        keys: column names for the parts of each key, e.g. ("activation", "optimizer", "learning_rate").
    """
    import pandas as pd

    rows = []
    for key, (results, seconds) in runs.items():
        parts = key if isinstance(key, tuple) else (key,)
        for r in results:
            rows.append(
                {
                    **dict(zip(keys, parts, strict=True)),
                    "seed": r.seed,
                    "val_accuracy": r.history["val_accuracy"][-1],
                    "val_loss": r.history["val_loss"][-1],
                    "train_accuracy": r.train_accuracy,
                    "epoch_seconds": float(np.median(seconds)),
                }
            )
    return pd.DataFrame(rows)


def seconds_to_reach(epoch_seconds: list[float], accuracies: list[float], threshold: float) -> float | None:
    """Training seconds until the first epoch whose accuracy is at least ``threshold`` (None if never)."""
    elapsed = np.cumsum(epoch_seconds)
    hits = np.flatnonzero(np.asarray(accuracies) >= threshold)
    return float(elapsed[hits[0]]) if len(hits) else None


def mcnemar_tally(tests: list[dict]) -> dict:
    """Count a list of seed-by-seed :func:`mcnemar` results of A against B, for the ``verdict``
    sentence of the templates: ``pairs``, ``better`` (A right where B is wrong more often than
    the reverse), ``won`` and ``lost`` (significant, p < :data:`SIGNIFICANT`, in A's favour or against it).

    A difference counts as significant only in the direction it points: "better in 2 of 3
    seed pairs, significantly in 1" never counts a significant loss.
    """
    better = [t for t in tests if t["a_only"] > t["b_only"]]
    worse = [t for t in tests if t["a_only"] < t["b_only"]]
    return {
        "pairs": len(tests),
        "better": len(better),
        "won": sum(t["p_value"] < SIGNIFICANT for t in better),
        "lost": sum(t["p_value"] < SIGNIFICANT for t in worse),
    }
