"""The course papers' claims (``papers.yaml``) and the rules that judge them against our measurements.

Each rule takes what the study measured and returns a result: a ``verdict`` (one of
:data:`VERDICTS`), ``ours`` (the figure the report shows) and the details its sentence
needs. Notebook 07 computes one result per claim and calls :func:`check`, which stops
the run if a claim of the data file has no result, or no figure, or no stated reason.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from mnist_utils import evaluation

DATA = Path(__file__).with_suffix(".yaml")
VERDICTS = ("reproduced", "not_reproduced", "unverifiable", "impossible")
RULES = ("at_least", "within", "beats", "smaller", "at_most", "top_pairs", "rarest", "crossing", "no_gain",
         "f1", "steps", "unverifiable")
SIGNIFICANT = 0.05  # McNemar p below this counts as a significant difference


class ClaimsError(ValueError):
    """The claims data is malformed, or a claim it lists has no computed result."""


def load(path: str | Path = DATA) -> dict[str, dict]:
    """The papers of the claims data file, by number ("000"), each with kind, year, title and claims."""
    import yaml

    papers = yaml.safe_load(Path(path).read_text(encoding="utf-8"))["papers"]
    problems = []
    for number, paper in papers.items():
        for key in ("kind", "year", "title", "claims"):
            if key not in paper:
                problems.append(f"paper {number}: no {key!r}")
        for name, claim in paper.get("claims", {}).items():
            if claim.get("rule") not in RULES:
                problems.append(f"claim {number}.{name}: unknown rule {claim.get('rule')!r} (rules: {', '.join(RULES)})")
            if claim.get("rule") == "unverifiable" and not claim.get("why"):
                problems.append(f"claim {number}.{name}: an unverifiable claim needs 'why'")
            empty = [key for key, value in claim.items() if value is None]
            if empty:  # in a {flow: mapping}, an unquoted comma starts a new, empty key
                problems.append(f"claim {number}.{name}: no value for {', '.join(map(repr, empty))} "
                                f"(quote a text that holds a comma)")
    if problems:
        raise ClaimsError(f"{path}:\n  - " + "\n  - ".join(problems))
    return papers


def _verdict(holds: bool) -> str:
    return "reproduced" if holds else "not_reproduced"


def at_least(values, stated: float) -> dict:
    """The paper's "at least ``stated``" holds when every seed of ours reaches it."""
    return {"verdict": _verdict(min(values) >= stated), "ours": evaluation.summary(values),
            "lowest": float(min(values)), "stated": stated}


def within(values, stated, tolerance: float) -> dict:
    """The paper's accuracy (or the mean of its list) holds when our mean is within ``tolerance``."""
    stated = float(np.mean(stated))
    ours = evaluation.summary(values)
    return {"verdict": _verdict(abs(ours["mean"] - stated) <= tolerance), "ours": ours, "stated": stated,
            "diff": ours["mean"] - stated, "tolerance": tolerance}


def beats(a, b, tests: list[dict]) -> dict:
    """"A beats B" holds when A's mean accuracy is higher and A is significantly better in most seed pairs.

    Args:
        a, b: per-seed test accuracies; tests: :func:`evaluation.mcnemar` of A against B, per seed pair.
    """
    tally = evaluation.mcnemar_tally(tests)
    diff = float(np.mean(a) - np.mean(b))
    return {"verdict": _verdict(diff > 0 and 2 * tally["won"] > tally["pairs"]), "ours": evaluation.summary(a),
            "other": evaluation.summary(b), "diff": diff, "tally": tally,
            "p": max(t["p_value"] for t in tests) if tests else None}


def smaller(a: float, b: float) -> dict:
    """"A is smaller than B" (a gap, an error count)."""
    return {"verdict": _verdict(a < b), "ours": float(a), "other": float(b), "diff": float(a - b)}


def at_most(value: float, tolerance: float) -> dict:
    """"Close to nothing": our figure is at most ``tolerance``."""
    return {"verdict": _verdict(value <= tolerance), "ours": float(value), "tolerance": tolerance}


def confused_pairs(y_true, predictions) -> list[dict]:
    """Unordered digit pairs by how often a model mixes them up (either way), per seed, most first."""
    from sklearn.metrics import confusion_matrix

    cm = sum(confusion_matrix(y_true, p, labels=range(10)) for p in predictions) / len(predictions)
    both = cm + cm.T
    rows = [{"pair": f"{a}/{b}", "per_seed": float(both[a, b])} for a in range(10) for b in range(a + 1, 10)]
    return sorted(rows, key=lambda r: -r["per_seed"])


def top_pairs(y_true, predictions, pairs, top: int) -> dict:
    """"The most confused pairs are ``pairs``" holds when each is among our ``top`` pairs.

    A pair's rank counts the pairs confused strictly more often, so ties share a rank.
    """
    ranking = confused_pairs(y_true, predictions)
    counts = {r["pair"]: r["per_seed"] for r in ranking}
    claimed = []
    for a, b in pairs:
        key = f"{min(a, b)}/{max(a, b)}"
        claimed.append({"pair": key, "per_seed": counts[key],
                        "rank": 1 + sum(c > counts[key] for c in counts.values())})
    return {"verdict": _verdict(all(c["rank"] <= top for c in claimed)), "ours": claimed,
            "top": ranking[:top], "top_pairs": [r["pair"] for r in ranking[:top]], "seeds": len(predictions)}


def recalls(y_true, predictions) -> np.ndarray:
    """Each digit's recall (share of its test images recognized), averaged over the seeds' predictions."""
    from sklearn.metrics import recall_score

    return np.mean([recall_score(y_true, p, labels=range(10), average=None, zero_division=0)
                    for p in predictions], axis=0)


def _rank_from_bottom(values, index: int) -> int:
    return 1 + int(np.sum(np.asarray(values) < values[index]))


def rarest(counts, recalls, digit: int, bottom: int) -> dict:
    """"Digit ``digit`` is recognized worst because it is rare" holds when it is among the
    ``bottom`` rarest training classes and the ``bottom`` lowest recalls."""
    counts, recalls = np.asarray(counts), np.asarray(recalls)
    count_rank, recall_rank = _rank_from_bottom(counts, digit), _rank_from_bottom(recalls, digit)
    return {"verdict": _verdict(count_rank <= bottom and recall_rank <= bottom), "ours": float(recalls[digit]),
            "count": int(counts[digit]), "count_rank": count_rank, "rarest": int(counts.argmin()),
            "rarest_count": int(counts.min()), "recall_rank": recall_rank, "lowest_recall": int(recalls.argmin()),
            "lowest_recall_value": float(recalls.min())}


def crossing(train, val, stated: int, tolerance: int) -> dict:
    """"Training accuracy overtakes validation accuracy from epoch ``stated``" (curves averaged over seeds).

    ``first`` is the first epoch where it does (None if never); ``ours`` the last epoch's difference.
    """
    above = np.flatnonzero(np.asarray(train) > np.asarray(val))
    first = int(above[0]) + 1 if len(above) else None
    return {"verdict": _verdict(first is not None and abs(first - stated) <= tolerance), "first": first,
            "ours": float(train[-1] - val[-1]), "epochs": len(train), "stated": stated}


def epoch_picking(y_true, val_histories, epoch_predictions) -> dict:
    """What choosing the epoch by its test score adds over choosing it by validation accuracy.

    Args:
        val_histories: per seed, validation accuracy after each epoch.
        epoch_predictions: per seed, an (epochs, test images) array of predicted labels.

    The claim that validating on the test set costs nothing holds unless the test-picked
    epoch is significantly better (McNemar, against the validation-picked one) in most seeds.
    """
    y_true = np.asarray(y_true)
    by_test, by_val, tests = [], [], []
    for val, preds in zip(val_histories, epoch_predictions):
        scores = (np.asarray(preds) == y_true).mean(axis=1)
        t, v = int(scores.argmax()), int(np.argmax(val))
        by_test.append(float(scores[t]))
        by_val.append(float(scores[v]))
        tests.append(evaluation.mcnemar(y_true, preds[t], preds[v]))
    result = beats(by_test, by_val, tests)
    return {"verdict": "not_reproduced" if result["verdict"] == "reproduced" else "reproduced",
            "ours": result["diff"], "diff": result["diff"], "by_test": result["ours"],
            "by_validation": result["other"], "tally": result["tally"], "p": result["p"]}


def best_f1(class_sizes, errors: int) -> float:
    """The highest 10-class F1 (macro or support-weighted) that ``errors`` wrong predictions allow.

    Each class's F1 loss, d / (2 TP + d) with d its false positives plus negatives, is
    concave in the errors; so the sum is smallest when every error lands in one cell of
    the confusion matrix, and trying all 90 cells finds the bound. Micro-F1 equals accuracy.
    """
    sizes = np.asarray(class_sizes, dtype=float)
    best = 0.0
    for a in range(len(sizes)):
        if errors > sizes[a]:
            continue
        for b in range(len(sizes)):
            if a == b:
                continue
            tp, fp, fn = sizes.copy(), np.zeros_like(sizes), np.zeros_like(sizes)
            tp[a] -= errors
            fn[a], fp[b] = errors, errors
            f1 = 2 * tp / (2 * tp + fp + fn)
            best = max(best, float(f1.mean()), float(np.average(f1, weights=sizes)))
    return best


def binary_errors(f1: float, positives: int) -> int:
    """Wrong predictions (false positives plus negatives) that give a binary F1 of ``f1`` with
    ``positives`` positive examples: F1 = 2 TP / (2 TP + errors), TP about ``positives``."""
    return round(2 * positives * (1 - f1) / f1)


def f1(stated: float, accuracy: float, y_true, y_pred) -> dict:
    """A 10-class F1 of ``stated`` at the paper's ``accuracy`` on the same test digits: attainable or not.

    Also our run's micro and macro F1, and the binary F1 of "not a 0" (labels read as
    booleans), the likely mistake behind a near-perfect F1.
    """
    from sklearn.metrics import f1_score

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    n = len(y_true)
    errors = round((1 - accuracy) * n)
    bound = best_f1(np.bincount(y_true, minlength=10), errors)
    positives = int(np.sum(y_true != 0))
    return {"verdict": "impossible" if stated > bound else "reproduced",
            "ours": float(f1_score(y_true, y_pred, average="macro")),
            "micro": float(f1_score(y_true, y_pred, average="micro")),
            "binary": float(f1_score(y_true != 0, y_pred != 0)), "paper_errors": errors, "bound": bound,
            "errors_needed": round(n * (1 - stated)), "binary_errors": binary_errors(stated, positives),
            "positives": positives, "test_size": n}


def steps(stated: int, images: int, batch: int) -> dict:
    """Steps per epoch: ``images`` / ``batch`` rounded up, against the ``stated`` count."""
    actual = math.ceil(images / batch)
    return {"verdict": "reproduced" if actual == stated else "impossible", "ours": actual,
            "implied_batch": images / stated}


def unverifiable(ours=None) -> dict:
    """Nothing to check against; ``ours`` is our related figure, shown for context."""
    return {"verdict": "unverifiable", "ours": ours}


def check(papers: dict[str, dict], results: dict[str, dict]) -> dict:
    """Stop unless every claim of ``papers`` has a result with a verdict and a figure (or, for an
    unverifiable claim, a stated reason), and no result is for an unknown claim.

    Args:
        results: paper number -> claim name -> result (from the rules above).

    Returns:
        the tally: ``claims`` (how many), and for each verdict the claims ("000.baseline") that got it.
    """
    problems = []
    for number, paper in papers.items():
        got = results.get(number, {})
        for name, claim in paper["claims"].items():
            r = got.get(name)
            where = f"claim {number}.{name}"
            if r is None:
                problems.append(f"{where}: no result (notebook 07 does not compute it)")
            elif r.get("verdict") not in VERDICTS:
                problems.append(f"{where}: verdict {r.get('verdict')!r} is not one of {', '.join(VERDICTS)}")
            elif r["verdict"] != "unverifiable" and r.get("ours") is None:
                problems.append(f"{where}: judged {r['verdict']!r} without a figure of ours")
            elif r["verdict"] == "unverifiable" and not claim.get("why"):
                problems.append(f"{where}: cannot be checked, but the data gives no reason ('why')")
        problems += [f"claim {number}.{name}: computed, but not in the claims data" for name in got
                     if name not in paper["claims"]]
    problems += [f"paper {number}: results, but no such paper in the claims data" for number in results
                 if number not in papers]
    if problems:
        raise ClaimsError("The course papers' claims are not all checked:\n  - " + "\n  - ".join(problems))
    tally = {"claims": sum(len(p["claims"]) for p in papers.values())}
    for verdict in VERDICTS:
        tally[verdict] = [f"{number}.{name}" for number, got in results.items()
                          for name, r in got.items() if r["verdict"] == verdict]
    return tally
