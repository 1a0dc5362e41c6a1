"""The course papers' claims (``papers.yaml``) and the rules that judge them against our measurements.

Each rule takes what the study measured and returns a result: a ``verdict`` (one of
:data:`VERDICTS`), ``ours`` (the figure the report shows) and the details its sentence
needs. Notebook 07 computes one result per claim and calls :func:`check`, which stops
the run if a claim of the data file has no result, or no figure, or no stated reason.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np

from mnist_utils import evaluation

DATA = Path(__file__).with_suffix(".yaml")
VERDICTS = ("reproduced", "not_reproduced", "unverifiable", "impossible")
# Each rule's fields in the claims data: the arguments its function takes from the claim (the
# rest come from the notebook's measurements). Besides these a claim may hold only `rule`, `why`
# (why it cannot be checked), `paper` (the paper's own figures, shown beside ours) and `recipe`
# (the paper's settings, which the notebook must report what it ran with).
CLAIM_FIELDS = {
    "at_least": ("stated",),
    "within": ("stated", "tolerance"),
    "beats": (),
    "ranked_first": (),
    "faster_steadier": ("early",),
    "smaller": (),
    "at_most": ("tolerance",),
    "saturates": ("tolerance",),
    "shared_errors": ("share",),
    "fewer_and_beats": (),
    "cheaper_not_worse": (),
    "steadier_slower": (),
    "follows_rate": (),
    "drops": ("least",),
    "lighter": (),
    "top_pairs": ("pairs", "top"),
    "rarest": ("digit", "bottom"),
    "crossing": ("stated", "tolerance"),
    "no_gain": (),
    "f1": ("stated", "accuracy"),
    "steps": ("stated", "images", "batch"),
    "unverifiable": (),
    "over_budget": (),
}
RULES = tuple(CLAIM_FIELDS)
OTHER_FIELDS = ("rule", "why", "paper", "recipe", "covers")


class ClaimsError(ValueError):
    """The claims data is malformed, or a claim it lists has no computed result."""


def load(path: str | Path = DATA) -> dict[str, dict]:
    """The papers of the claims data file, by number ("000"), each with kind, year, title and claims."""
    import yaml

    papers = yaml.safe_load(Path(path).read_text(encoding="utf-8"))["papers"]
    problems = []
    for number, paper in papers.items():
        for key in ("kind", "year", "title", "listed", "claims"):
            if key not in paper:
                problems.append(f"paper {number}: no {key!r}")
        for name, claim in paper.get("claims", {}).items():
            covers = claim.get("covers", [])
            if not isinstance(covers, list) or not all(
                isinstance(n, int) and 1 <= n <= paper.get("listed", 0) for n in covers
            ):
                problems.append(
                    f"claim {number}.{name}: 'covers' must list numbers of the paper's listed claims, "
                    f"1 to {paper.get('listed')}, not {covers!r}"
                )
            rule = claim.get("rule")
            if rule not in RULES:
                problems.append(f"claim {number}.{name}: unknown rule {rule!r} (rules: {', '.join(RULES)})")
            else:
                fields = CLAIM_FIELDS[rule]
                unused = [key for key in claim if key not in fields and key not in OTHER_FIELDS]
                if unused:
                    problems.append(
                        f"claim {number}.{name}: rule {rule} does not use {', '.join(map(repr, unused))} "
                        f"(it takes {', '.join(fields) or 'nothing'} from the claim; the paper's settings "
                        f"go under 'recipe', its other figures under 'paper')"
                    )
                missing = [key for key in fields if key not in claim]
                if missing:
                    problems.append(f"claim {number}.{name}: rule {rule} needs {', '.join(map(repr, missing))}")
            if claim.get("rule") in ("unverifiable", "over_budget") and not claim.get("why"):
                problems.append(f"claim {number}.{name}: an unverifiable claim needs 'why'")
            empty = [key for key, value in claim.items() if value is None]
            if empty:  # in a {flow: mapping}, an unquoted comma starts a new, empty key
                problems.append(
                    f"claim {number}.{name}: no value for {', '.join(map(repr, empty))} "
                    f"(quote a text that holds a comma)"
                )
    if problems:
        raise ClaimsError(f"{path}:\n  - " + "\n  - ".join(problems))
    return papers


def coverage(papers: dict[str, dict]) -> dict:
    """How many of the claims each paper lists (its ``listed``, numbered from 1 in its own order)
    the data file's claims check (their ``covers``), and which are not checked yet."""
    missing = {
        number: [
            n
            for n in range(1, paper["listed"] + 1)
            if not any(n in claim.get("covers", []) for claim in paper["claims"].values())
        ]
        for number, paper in papers.items()
    }
    listed = sum(paper["listed"] for paper in papers.values())
    unchecked = sum(len(m) for m in missing.values())
    return {"listed": listed, "checked": listed - unchecked, "missing": {k: v for k, v in missing.items() if v}}


def _verdict(holds: bool) -> str:
    return "reproduced" if holds else "not_reproduced"


def at_least(values, stated: float) -> dict:
    """The paper's "at least ``stated``" holds when every seed of ours reaches it."""
    return {
        "verdict": _verdict(min(values) >= stated),
        "ours": evaluation.summary(values),
        "lowest": float(min(values)),
        "stated": stated,
    }


def within(values, stated, tolerance: float) -> dict:
    """The paper's accuracy (or the mean of its list) holds when our mean is within ``tolerance``."""
    stated = float(np.mean(stated))
    ours = evaluation.summary(values)
    return {
        "verdict": _verdict(abs(ours["mean"] - stated) <= tolerance),
        "ours": ours,
        "stated": stated,
        "diff": ours["mean"] - stated,
        "tolerance": tolerance,
    }


def beats(a, b, tests: list[dict]) -> dict:
    """ "A beats B" holds when A's mean accuracy is higher and A is significantly better in most seed pairs.

    Args:
        a, b: per-seed test accuracies; tests: :func:`evaluation.mcnemar` of A against B, per seed pair.
    """
    tally = evaluation.mcnemar_tally(tests)
    diff = float(np.mean(a) - np.mean(b))
    return {
        "verdict": _verdict(diff > 0 and 2 * tally["won"] > tally["pairs"]),
        "ours": evaluation.summary(a),
        "other": evaluation.summary(b),
        "diff": diff,
        "tally": tally,
        "p": max(t["p_value"] for t in tests) if tests else None,
    }


def ranked_first(best, claimed, tests: list[dict], claimed_is_best: bool) -> dict:
    """ "The paper's pick is the best configuration" holds when the study ranks it first (notebook 03
    ranks its grid on validation accuracy). As for :func:`beats`, the claim has to be shown: a pick
    that is not ranked first is not the best, however small the gap. The result keeps :func:`beats`'s
    comparison of our best with the pick, to say how far it is.

    Args:
        best, claimed: per-seed test accuracies of our best configuration and of the paper's pick
            (the same lists if the pick is our best); tests: :func:`evaluation.mcnemar` of the best
            against the pick, per seed pair (none if they are the same).
    """
    return {**beats(best, claimed, tests), "verdict": _verdict(claimed_is_best)}


def faster_steadier(a, b, early: int) -> dict:
    """ "A converges faster and more stably than B early in training": holds when A's mean
    validation accuracy after the first epoch is higher than B's, and the spread between its
    seeds (standard deviation, averaged over the first ``early`` epochs) is smaller.

    Args:
        a, b: validation accuracy per seed (rows) and epoch (columns), each at its own tuned rate.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    epochs = min(early, a.shape[1], b.shape[1])

    def described(curves):
        spread = float(np.mean(np.std(curves[:, :epochs], axis=0, ddof=1))) if len(curves) > 1 else None
        return {"first": evaluation.summary(curves[:, 0]), "spread": spread}

    ours, other = described(a), described(b)
    faster = ours["first"]["mean"] > other["first"]["mean"]
    steadier = ours["spread"] is not None and other["spread"] is not None and ours["spread"] < other["spread"]
    return {
        "verdict": _verdict(faster and steadier),
        "ours": ours,
        "other": other,
        "epochs": epochs,
        "faster": faster,
        "steadier": steadier,
    }  # no "diff": the verdict rests on two figures, which the row shows


def smaller(a: float, b: float) -> dict:
    """ "A is smaller than B" (a gap, an error count)."""
    return {"verdict": _verdict(a < b), "ours": float(a), "other": float(b), "diff": float(a - b)}


def at_most(value: float, tolerance: float) -> dict:
    """ "Close to nothing": our figure is at most ``tolerance``."""
    return {"verdict": _verdict(value <= tolerance), "ours": float(value), "tolerance": tolerance}


def saturates(parameters, val_accuracy, gap, tolerance: float) -> dict:
    """ "A deeper or wider network saturates accuracy and overfits more": holds when the largest
    network's validation accuracy is at most ``tolerance`` above the best of the smaller ones
    (accuracy has stopped rising with size) and the training-validation gap rises with the
    parameter count (a Spearman rank correlation above zero).

    Args:
        parameters, val_accuracy, gap: one value per network of the capacity study (means over seeds).
    """
    from scipy.stats import spearmanr

    order = np.argsort(parameters, kind="stable")
    size, accuracy, gap = (np.asarray(v, dtype=float)[order] for v in (parameters, val_accuracy, gap))
    gain = float(accuracy[-1] - accuracy[:-1].max())
    rho = float(spearmanr(size, gap).statistic) if np.ptp(gap) > 0 else 0.0  # a flat gap does not rise
    return {
        "verdict": _verdict(gain <= tolerance and rho > 0),
        "ours": gain,
        "rho": rho,
        "saturated": gain <= tolerance,
        "largest": {"parameters": int(size[-1]), "val_accuracy": float(accuracy[-1]), "gap": float(gap[-1])},
        "best_smaller": float(accuracy[:-1].max()),
        "networks": len(size),
        "tolerance": tolerance,
    }


def shared_errors(y_true, a, b, share: float) -> dict:
    """ "A's errors come from the digits, not from the model": holds when, averaged over seed
    pairs, at least ``share`` of A's test errors are errors of B too, a model of another structure.

    Args:
        a, b: per seed, each model's predicted labels (paired by position).
    """
    y_true = np.asarray(y_true)
    shares, errors_a, errors_b = [], [], []
    for pred_a, pred_b in zip(a, b):
        wrong_a, wrong_b = np.asarray(pred_a) != y_true, np.asarray(pred_b) != y_true
        shares.append(float(wrong_b[wrong_a].mean()) if wrong_a.any() else 1.0)  # no errors: none is B's alone
        errors_a.append(int(wrong_a.sum()))
        errors_b.append(int(wrong_b.sum()))
    ours = evaluation.summary(shares)
    return {
        "verdict": _verdict(ours["mean"] >= share),
        "ours": ours,
        "share": share,
        "errors": float(np.mean(errors_a)),
        "other_errors": float(np.mean(errors_b)),
    }


def fewer_and_beats(a, b, tests: list[dict], parameters_a: int, parameters_b: int) -> dict:
    """ "A generalizes better with fewer parameters than B" (parameter sharing): A has fewer
    parameters and beats B (:func:`beats`)."""
    result = beats(a, b, tests)
    fewer = parameters_a < parameters_b
    return {
        **result,
        "verdict": _verdict(fewer and result["verdict"] == "reproduced"),
        "fewer": fewer,
        "parameters": int(parameters_a),
        "other_parameters": int(parameters_b),
    }


def cheaper_not_worse(a, b, tests: list[dict], multiply_adds_a: int, multiply_adds_b: int) -> dict:
    """ "A cuts the computation and keeps the quality of B": A has fewer multiply-adds per image
    and is significantly worse (McNemar p < 0.05, in B's favour) in fewer than half the seed pairs."""
    result = beats(a, b, tests)
    cheaper = multiply_adds_a < multiply_adds_b
    return {
        **result,
        "verdict": _verdict(cheaper and 2 * result["tally"]["lost"] < result["tally"]["pairs"]),
        "cheaper": cheaper,
        "multiply_adds": int(multiply_adds_a),
        "other_multiply_adds": int(multiply_adds_b),
    }


def loss_measures(step_losses) -> dict:
    """Speed and steadiness of one run from its training loss step by step (epochs x steps,
    ``training.train(record_loss=True)``): ``first``, the mean loss over the first epoch (lower is
    faster), and ``spread``, the standard deviation of the last epoch's step losses as a share of
    their mean. A share, because a loss that has fallen further also moves less in absolute terms:
    a faster run would look steadier for being ahead, not for moving less."""
    losses = np.asarray(step_losses, dtype=float)
    last = losses[-1]
    return {"first": float(np.mean(losses[0])), "spread": float(np.std(last) / np.mean(last))}


def steadier_slower(lower: list[dict], base: list[dict], higher: list[dict]) -> dict:
    """ "A lower rate would be steadier but slower, a higher one faster but less steady": holds when,
    in the mean over seeds, the lower rate's loss spread is below the recipe's and the higher rate's
    above it, and the lower rate's first-epoch loss is above the recipe's and the higher rate's below it.

    Args:
        lower, base, higher: :func:`loss_measures` of each seed's run at the lower rate, the
            recipe's and the higher one.
    """
    mean = {
        name: {key: evaluation.summary([m[key] for m in runs]) for key in ("first", "spread")}
        for name, runs in {"lower": lower, "base": base, "higher": higher}.items()
    }
    spread, first = ({name: mean[name][key]["mean"] for name in mean} for key in ("spread", "first"))
    parts = {  # each half of the claim, against the recipe's rate
        "lower_steadier": spread["lower"] < spread["base"],
        "lower_slower": first["lower"] > first["base"],
        "higher_less_steady": spread["higher"] > spread["base"],
        "higher_faster": first["higher"] < first["base"],
    }
    return {"verdict": _verdict(all(parts.values())), "ours": mean, "parts": parts}


def follows_rate(spreads: dict, decayed: list[float], rate: float) -> dict:
    """ "The loss fluctuates with the learning rate, and decaying the rate could help": holds when the
    mean loss spread (:func:`loss_measures`) rises with the rate, and a run whose rate decays from the
    recipe's spreads less, in the mean, than the recipe at its constant rate.

    Args:
        spreads: {rate: each seed's spread at that constant rate}, ``rate`` among them.
        decayed: each seed's spread with the rate decaying from ``rate``.
        rate: the recipe's rate.
    """
    rates = sorted(spreads)
    means = [float(np.mean(spreads[r])) for r in rates]
    rises = all(a < b for a, b in itertools.pairwise(means))
    calmer = float(np.mean(decayed)) < float(np.mean(spreads[rate]))
    return {
        "verdict": _verdict(rises and calmer),
        "ours": {f"{r:g}": evaluation.summary(spreads[r]) for r in rates},
        "decayed": evaluation.summary(decayed),
        "rises": rises,
        "calmer": calmer,
    }


def drops(clean: float, shifted: float, least: float) -> dict:
    """ "Sensitive to a shift in the data": holds when accuracy on the shifted data is more than
    ``least`` below accuracy on data like the training data."""
    drop = float(clean - shifted)
    return {
        "verdict": _verdict(drop > least),
        "ours": drop,
        "clean": float(clean),
        "shifted": float(shifted),
        "least": least,
    }


def lighter(candidates: dict[str, dict], reference: dict) -> dict:
    """ "These networks would make the model lighter": holds when every candidate has fewer
    parameters and fewer multiply-adds per image than the ``reference`` model.

    Args:
        candidates: name -> ``{"parameters", "multiply_adds"}``; reference: the same for the model they would replace.
    """
    light = {
        name: c["parameters"] < reference["parameters"] and c["multiply_adds"] < reference["multiply_adds"]
        for name, c in candidates.items()
    }
    return {
        "verdict": _verdict(bool(light) and all(light.values())),
        "ours": candidates,
        "reference": reference,
        "lighter": light,
    }


def confused_pairs(y_true, predictions) -> list[dict]:
    """Unordered digit pairs by how often a model mixes them up (either way), per seed, most first."""
    from sklearn.metrics import confusion_matrix

    cm = sum(confusion_matrix(y_true, p, labels=range(10)) for p in predictions) / len(predictions)
    both = cm + cm.T
    rows = [{"pair": f"{a}/{b}", "per_seed": float(both[a, b])} for a in range(10) for b in range(a + 1, 10)]
    return sorted(rows, key=lambda r: -r["per_seed"])


def top_pairs(y_true, predictions, pairs, top: int) -> dict:
    """ "The most confused pairs are ``pairs``" holds when each is among our ``top`` pairs.

    A pair's rank counts the pairs confused strictly more often, so ties share a rank.
    """
    ranking = confused_pairs(y_true, predictions)
    counts = {r["pair"]: r["per_seed"] for r in ranking}
    claimed = []
    for a, b in pairs:
        key = f"{min(a, b)}/{max(a, b)}"
        claimed.append(
            {"pair": key, "per_seed": counts[key], "rank": 1 + sum(c > counts[key] for c in counts.values())}
        )
    return {
        "verdict": _verdict(all(c["rank"] <= top for c in claimed)),
        "ours": claimed,
        "top": ranking[:top],
        "top_pairs": [r["pair"] for r in ranking[:top]],
        "seeds": len(predictions),
    }


def recalls(y_true, predictions) -> np.ndarray:
    """Each digit's recall (share of its test images recognized), averaged over the seeds' predictions."""
    from sklearn.metrics import recall_score

    return np.mean(
        [recall_score(y_true, p, labels=range(10), average=None, zero_division=0) for p in predictions], axis=0
    )


def _rank_from_bottom(values, index: int) -> int:
    return 1 + int(np.sum(np.asarray(values) < values[index]))


def rarest(counts, recalls, digit: int, bottom: int) -> dict:
    """ "Digit ``digit`` is recognized worst because it is rare" holds when it is among the
    ``bottom`` rarest training classes and the ``bottom`` lowest recalls."""
    counts, recalls = np.asarray(counts), np.asarray(recalls)
    count_rank, recall_rank = _rank_from_bottom(counts, digit), _rank_from_bottom(recalls, digit)
    return {
        "verdict": _verdict(count_rank <= bottom and recall_rank <= bottom),
        "ours": float(recalls[digit]),
        "count": int(counts[digit]),
        "count_rank": count_rank,
        "rarest": int(counts.argmin()),
        "rarest_count": int(counts.min()),
        "recall_rank": recall_rank,
        "lowest_recall": int(recalls.argmin()),
        "lowest_recall_value": float(recalls.min()),
    }


def crossing(train, val, stated: int, tolerance: int) -> dict:
    """ "Training accuracy overtakes validation accuracy from epoch ``stated``" (curves averaged over seeds).

    ``first`` is the first epoch where it does (None if never); ``ours`` the last epoch's difference.
    """
    above = np.flatnonzero(np.asarray(train) > np.asarray(val))
    first = int(above[0]) + 1 if len(above) else None
    return {
        "verdict": _verdict(first is not None and abs(first - stated) <= tolerance),
        "first": first,
        "ours": float(train[-1] - val[-1]),
        "epochs": len(train),
        "stated": stated,
    }


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
    return {
        "verdict": "not_reproduced" if result["verdict"] == "reproduced" else "reproduced",
        "ours": result["diff"],
        "diff": result["diff"],
        "by_test": result["ours"],
        "by_validation": result["other"],
        "tally": result["tally"],
        "p": result["p"],
    }


def f1_placement(class_sizes, errors: int, weights=None) -> dict:
    """The highest F1 averaged over classes (with ``weights``; equal weights: macro-F1) that
    ``errors`` wrong predictions allow, and where those errors go.

    Each class k of ``n_k`` items gets FN_k of them predicted wrong and FP_k other items
    predicted as k; its F1 is 2 (n_k − FN_k) / (2 n_k − FN_k + FP_k). Every error is one false
    negative and one false positive, so Σ FN = Σ FP = ``errors``. A confusion matrix with a zero
    diagonal has these row and column sums exactly when FN_k ≤ n_k and FN_k + FP_k ≤ ``errors``
    for every k (a class's own errors cannot be predicted as itself; by max-flow/min-cut, no
    other set of classes limits the placement). Nothing else constrains F1, so the best F1 is
    the maximum of Σ w_k F1_k over integer (FN_k, FP_k) within those limits, which a dynamic
    programme over the classes finds exactly: its state is the errors placed so far, (Σ FN, Σ FP).

    F1 is neither concave nor convex in the errors (FN / (2n − FN) is convex), so no shortcut
    such as "all errors in one cell" is safe: 111 errors from 2, 3, 7 and 9 all predicted as 1
    beat every one-cell placement.

    Returns:
        ``f1`` (the bound), and ``fn`` and ``fp``, per class, of a placement that reaches it.
    """
    sizes = [int(n) for n in class_sizes]
    if min(sizes) <= 0 or not 0 <= errors <= sum(sizes):
        raise ValueError(f"need positive class sizes and 0 <= errors <= {sum(sizes)}, not {sizes} and {errors}")
    w = np.full(len(sizes), 1 / len(sizes)) if weights is None else np.asarray(weights, dtype=float)
    e = int(errors)
    best = np.full((e + 1, e + 1), -np.inf)  # best[a, b]: best sum so far with a FN and b FP placed
    best[0, 0] = 0.0
    picks = []
    for n, weight in zip(sizes, w):
        after, pick = np.full_like(best, -np.inf), np.zeros(best.shape + (2,), dtype=int)
        for a in range(min(n, e) + 1):
            for b in range(e + 1 - a):  # this class's (FN, FP) = (a, b), added to every earlier state
                candidate = best[: e + 1 - a, : e + 1 - b] + weight * 2 * (n - a) / (2 * n - a + b)
                better = candidate > after[a:, b:]
                after[a:, b:][better] = candidate[better]
                pick[a:, b:][better] = (a, b)
        best = after
        picks.append(pick)
    placed, a, b = [], e, e
    for pick in reversed(picks):  # walk back through the choices that reached (errors, errors)
        fn, fp = map(int, pick[a, b])
        placed.insert(0, (fn, fp))
        a, b = a - fn, b - fp
    return {"f1": float(best[e, e]), "fn": [fn for fn, _ in placed], "fp": [fp for _, fp in placed]}


def best_f1(class_sizes, errors: int) -> float:
    """The highest 10-class F1, macro or support-weighted, that ``errors`` wrong predictions allow
    (:func:`f1_placement` with equal weights and with the class sizes). Micro-F1 equals accuracy."""
    sizes = np.asarray(class_sizes)
    return max(f1_placement(sizes, errors)["f1"], f1_placement(sizes, errors, sizes / sizes.sum())["f1"])


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
    bound = best_f1(np.unique(y_true, return_counts=True)[1], errors)  # the classes of the test digits
    positives = int(np.sum(y_true != 0))
    return {
        "verdict": "impossible" if stated > bound else "reproduced",
        "ours": float(f1_score(y_true, y_pred, average="macro")),
        "micro": float(f1_score(y_true, y_pred, average="micro")),
        "binary": float(f1_score(y_true != 0, y_pred != 0)),
        "paper_errors": errors,
        "bound": bound,
        "errors_needed": round(n * (1 - stated)),
        "binary_errors": binary_errors(stated, positives),
        "positives": positives,
        "test_size": n,
    }


def steps(stated: int, images: int, batch: int) -> dict:
    """Steps per epoch: ``images`` / ``batch`` rounded up, against the ``stated`` count."""
    actual = math.ceil(images / batch)
    return {
        "verdict": "reproduced" if actual == stated else "impossible",
        "ours": actual,
        "implied_batch": images / stated,
    }


def unverifiable(ours=None) -> dict:
    """Nothing to check against; ``ours`` is our related figure, shown for context."""
    return {"verdict": "unverifiable", "ours": ours}


def over_budget(flops: float, limit: float) -> dict:
    """A claim the study could check, but only with more training than its budget allows:
    ``flops`` is what a fair check would take, ``limit`` the whole study's budget. Its verdict is
    "unverifiable"; the tally also lists it under ``over_budget``."""
    return {"verdict": "unverifiable", "ours": float(flops), "share": float(flops / limit)}


def judge(claim: dict, recipe: dict | None = None, **measured) -> dict:
    """Judge one claim of the data file by the rule it names.

    The claim's ``rule`` picks the function, which takes its :data:`CLAIM_FIELDS` from the claim
    and the rest (``measured``) from the notebook. ``recipe`` is what the notebook ran with, for
    each setting the claim's ``recipe`` states; a setting it does not report, or reports
    without the claim stating it, is an error, and one that differs from the paper's is kept in
    the result's ``departs`` (the smoke profile trains for fewer epochs, for example).

    Returns:
        the rule's result, with ``rule``, ``claim`` (the claim as the data file gives it) and ``departs``.
    """
    rule = claim["rule"]
    stated, recipe = claim.get("recipe", {}), recipe or {}
    if set(stated) != set(recipe):
        raise ClaimsError(
            f"rule {rule}: the claim's recipe states {sorted(stated)}, the notebook reports {sorted(recipe)}"
        )
    clash = [key for key in measured if key in CLAIM_FIELDS[rule]]
    if clash:
        raise ClaimsError(f"rule {rule}: {', '.join(clash)} come from the claims data, not from the notebook")
    result = RULE_FUNCTIONS[rule](**{key: claim[key] for key in CLAIM_FIELDS[rule]}, **measured)
    departs = {key: {"paper": stated[key], "ours": recipe[key]} for key in stated if recipe[key] != stated[key]}
    return {**result, "rule": rule, "claim": claim, "departs": departs}


RULE_FUNCTIONS = {
    "at_least": at_least,
    "within": within,
    "beats": beats,
    "ranked_first": ranked_first,
    "faster_steadier": faster_steadier,
    "smaller": smaller,
    "at_most": at_most,
    "saturates": saturates,
    "shared_errors": shared_errors,
    "fewer_and_beats": fewer_and_beats,
    "cheaper_not_worse": cheaper_not_worse,
    "steadier_slower": steadier_slower,
    "follows_rate": follows_rate,
    "drops": drops,
    "lighter": lighter,
    "top_pairs": top_pairs,
    "rarest": rarest,
    "crossing": crossing,
    "no_gain": epoch_picking,
    "f1": f1,
    "steps": steps,
    "unverifiable": unverifiable,
    "over_budget": over_budget,
}


def check(papers: dict[str, dict], results: dict[str, dict]) -> dict:
    """Stop unless every claim of ``papers`` has a result of the rule the data names (:func:`judge`),
    with a verdict and a figure (or, for an unverifiable claim, a stated reason), and no result
    is for an unknown claim.

    Args:
        results: paper number -> claim name -> result (from the rules above).

    Returns:
        the tally: ``claims`` (how many), for each verdict the claims ("000.baseline") that got it,
        ``over_budget`` (the unverifiable claims that only the budget keeps from being checked),
        ``by_paper`` (paper number -> its claim count and the count of each verdict) and
        ``departs``: the claims judged on a recipe other than the paper's.
    """
    problems = []
    for number, paper in papers.items():
        got = results.get(number, {})
        for name, claim in paper["claims"].items():
            r = got.get(name)
            where = f"claim {number}.{name}"
            if r is None:
                problems.append(f"{where}: no result (notebook 07 does not compute it)")
            elif r.get("rule") != claim["rule"]:
                problems.append(
                    f"{where}: judged by rule {r.get('rule')!r}, but the claims data says "
                    f"{claim['rule']!r} (judge it with papers.judge)"
                )
            elif r.get("verdict") not in VERDICTS:
                problems.append(f"{where}: verdict {r.get('verdict')!r} is not one of {', '.join(VERDICTS)}")
            elif r["verdict"] != "unverifiable" and r.get("ours") is None:
                problems.append(f"{where}: judged {r['verdict']!r} without a figure of ours")
            elif r["verdict"] == "unverifiable" and not claim.get("why"):
                problems.append(f"{where}: cannot be checked, but the data gives no reason ('why')")
        problems += [
            f"claim {number}.{name}: computed, but not in the claims data"
            for name in got
            if name not in paper["claims"]
        ]
    problems += [
        f"paper {number}: results, but no such paper in the claims data" for number in results if number not in papers
    ]
    if problems:
        raise ClaimsError("The course papers' claims are not all checked:\n  - " + "\n  - ".join(problems))
    tally = {"claims": sum(len(p["claims"]) for p in papers.values()), "papers": len(papers)}
    for verdict in VERDICTS:
        tally[verdict] = [
            f"{number}.{name}" for number, got in results.items() for name, r in got.items() if r["verdict"] == verdict
        ]
    tally["over_budget"] = [  # among the unverifiable: checkable, but beyond the budget
        f"{number}.{name}"
        for number, got in results.items()
        for name, r in got.items()
        if r["rule"] == "over_budget" and r["verdict"] == "unverifiable"
    ]
    tally["by_paper"] = {  # each paper's claim count and how many of them each verdict got
        number: {"claims": len(paper["claims"])}
        | {verdict: sum(r["verdict"] == verdict for r in results.get(number, {}).values()) for verdict in VERDICTS}
        for number, paper in papers.items()
    }
    tally["departs"] = [
        f"{number}.{name}" for number, got in results.items() for name, r in got.items() if r["departs"]
    ]
    return tally
