"""The course papers' claims: the data file, the rules that judge them, and the check that none is left out."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score

from mnist_utils import evaluation, papers, prose

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "07_course_papers.ipynb"
# MNIST's test set: digits per class.
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
# MNIST's 60,000 training images: digits per class.
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def claim_keys(data=None):
    data = data or papers.load()
    return {f"{number}.{name}" for number, paper in data.items() for name in paper["claims"]}


def test_the_claims_data_loads_and_covers_every_paper():
    data = papers.load()
    assert list(data) == ["000", "001", "002", "003"]
    assert len(claim_keys(data)) >= 15
    for paper in data.values():
        assert paper["kind"] in ("course paper", "online tutorial") and set(paper["title"]) == {"en", "zh"}
    assert {"000.baseline", "000.relu_sigmoid", "000.relu_tanh", "000.regularized_better", "000.regularized_gap",
            "000.confused_pairs", "001.accuracy", "001.f1", "001.cross_validation", "001.digit_2",
            "002.accuracy", "002.confused_pairs", "003.accuracy", "003.test_set_validation",
            "003.steps_per_epoch"} <= claim_keys(data)


def test_a_malformed_claim_is_refused(tmp_path):
    path = tmp_path / "claims.yaml"
    path.write_text("papers:\n  '009':\n    kind: course paper\n    year: 2025\n    title: {en: a, zh: b}\n"
                    "    claims:\n      x: {rule: guess}\n      y: {rule: unverifiable}\n"
                    "      z: {rule: unverifiable, why: never run, no setting}\n")
    with pytest.raises(papers.ClaimsError) as e:
        papers.load(path)
    assert "009.x: unknown rule 'guess'" in str(e.value) and "009.y: an unverifiable claim needs 'why'" in str(e.value)
    assert "009.z: no value for 'no setting' (quote a text that holds a comma)" in str(e.value)


def test_every_claim_is_in_the_report_in_both_languages_and_has_a_short_name():
    """Notebook 07's tables list exactly the claims of the data file, in English and in Chinese,
    and the abstract can name each one."""
    nb = json.loads(NOTEBOOK.read_text())
    english = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    chinese = (ROOT / "notebooks" / "zh" / "07_course_papers.yaml").read_text()
    keys = claim_keys()
    for text in (english, chinese):
        used = {f"{n}.{c}" for n, c in re.findall(r"\bp(\d{3})\.(\w+)", text)}
        assert used == keys, (keys - used, used - keys)
    for language in ("en", "zh"):
        names = [prose.render_text("{{ claim_name(k) }}", {"k": k}, language) for k in sorted(keys)]
        assert len(set(names)) == len(keys) and all(names)


def result_for_every_claim(data):
    return {number: {name: papers.at_most(0.001, 0.005) for name in paper["claims"]} for number, paper in data.items()}


def test_check_passes_a_complete_set_and_tallies_it():
    data = papers.load()
    results = result_for_every_claim(data)
    results["003"]["epoch_time"] = papers.unverifiable(8.0)
    results["001"]["f1"] = {"verdict": "impossible", "ours": 0.98}
    tally = papers.check(data, results)
    assert tally["claims"] == len(claim_keys(data))
    assert tally["unverifiable"] == ["003.epoch_time"] and tally["impossible"] == ["001.f1"]
    assert len(tally["reproduced"]) == tally["claims"] - 2 and tally["not_reproduced"] == []


def test_a_claim_without_a_figure_fails_the_check():
    data = papers.load()
    results = result_for_every_claim(data)
    del results["002"]["accuracy"]
    results["000"]["baseline"] = {"verdict": "reproduced", "ours": None}
    results["001"]["typo"] = papers.at_most(0.0, 0.1)
    with pytest.raises(papers.ClaimsError) as e:
        papers.check(data, results)
    message = str(e.value)
    assert "claim 002.accuracy: no result" in message
    assert "claim 000.baseline: judged 'reproduced' without a figure of ours" in message
    assert "claim 001.typo: computed, but not in the claims data" in message


def mnist_like_prediction(errors: int, seed: int = 0):
    """Labels with MNIST's test-class sizes, and a prediction with ``errors`` random mistakes."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(10), TEST_COUNTS)
    pred = y.copy()
    wrong = rng.choice(len(y), errors, replace=False)
    pred[wrong] = (y[wrong] + rng.integers(1, 10, errors)) % 10
    return y, pred


def test_f1_of_a_98_9_percent_accurate_prediction_against_scikit_learn():
    y, pred = mnist_like_prediction(111)
    assert np.mean(y == pred) == pytest.approx(0.9889)
    result = papers.f1(0.999556, 0.9889, y, pred)
    # Micro-F1 is accuracy; macro-F1 of a 98.9 %-accurate prediction is about 0.989, as scikit-learn computes it.
    assert result["micro"] == pytest.approx(0.9889)
    assert result["ours"] == pytest.approx(f1_score(y, pred, average="macro")) and 0.985 < result["ours"] < 0.992
    assert result["verdict"] == "impossible" and result["ours"] <= result["bound"] < 0.991
    assert result["paper_errors"] == 111 and result["errors_needed"] == 4
    # The binary mistake: "not a 0" as the positive class, 8 errors among 9,020 positives, gives 0.99956.
    assert result["positives"] == 9020 and result["binary_errors"] == 8
    y_bin = y != 0
    p_bin = y_bin.copy()
    p_bin[np.flatnonzero(y_bin)[:4]] = False  # 4 false negatives
    p_bin[np.flatnonzero(~y_bin)[:4]] = True  # 4 false positives
    assert f1_score(y_bin, p_bin) == pytest.approx(0.999556, abs=2e-6)


@pytest.mark.parametrize("seed", range(5))
def test_no_prediction_beats_the_f1_bound(seed):
    """best_f1 is an upper bound: random and concentrated errors never reach past it."""
    y, pred = mnist_like_prediction(111, seed)
    bound = papers.best_f1(np.bincount(y), 111)
    assert max(f1_score(y, pred, average="macro"), f1_score(y, pred, average="weighted")) <= bound
    one_cell = y.copy()
    one_cell[np.flatnonzero(y == 1)[:111]] = 7  # every error in one cell of the confusion matrix
    assert max(f1_score(y, one_cell, average="macro"), f1_score(y, one_cell, average="weighted")) <= bound + 1e-12
    assert papers.best_f1(np.bincount(y), 0) == 1.0


def test_accuracy_rules():
    assert papers.at_least([0.975, 0.972], 0.97)["verdict"] == "reproduced"
    assert papers.at_least([0.975, 0.968], 0.97)["verdict"] == "not_reproduced"
    close = papers.within([0.9905, 0.9911], 0.9889, 0.003)
    assert close["verdict"] == "reproduced" and close["diff"] == pytest.approx(0.0019)
    folds = papers.within([0.99, 0.991], [0.982167, 0.98675, 0.982917, 0.98375, 0.985], 0.003)
    assert folds["stated"] == pytest.approx(0.984117, abs=1e-6) and folds["verdict"] == "not_reproduced"
    assert papers.at_most(0.004, 0.005)["verdict"] == "reproduced"
    assert papers.smaller(0.01, 0.02)["verdict"] == "reproduced"


def test_beats_needs_a_higher_mean_and_significance_in_most_seed_pairs():
    y = np.zeros(1000, dtype=int)
    clearly = [evaluation.mcnemar(y, np.r_[np.zeros(990), np.ones(10)], np.r_[np.zeros(950), np.ones(50)])] * 3
    result = papers.beats([0.99] * 3, [0.95] * 3, clearly)
    assert result["verdict"] == "reproduced" and result["tally"]["won"] == 3 and result["p"] < 0.001
    barely = [evaluation.mcnemar(y, np.r_[np.zeros(990), np.ones(10)], np.r_[np.zeros(988), np.ones(12)])] * 3
    result = papers.beats([0.990] * 3, [0.988] * 3, barely)
    assert result["verdict"] == "not_reproduced" and result["diff"] > 0 and result["p"] > 0.05


def test_confused_pairs_are_unordered_ranked_and_share_tied_ranks():
    y = np.array([3] * 10 + [5] * 10 + [4] * 10 + [9] * 10 + [7] * 10)
    pred = y.copy()
    pred[:3], pred[10:12] = 5, 3  # 3/5 confused 5 times, either way
    pred[20:24] = 9  # 4/9: 4 times
    pred[40:44] = 9  # 7/9: 4 times, tied with 4/9
    result = papers.top_pairs(y, [pred], [[5, 3], [4, 9]], top=1)
    assert [r["pair"] for r in result["top"]] == ["3/5"]
    assert [(c["pair"], c["rank"], c["per_seed"]) for c in result["ours"]] == [("3/5", 1, 5.0), ("4/9", 2, 4.0)]
    assert result["verdict"] == "not_reproduced"
    assert papers.top_pairs(y, [pred], [[7, 9], [4, 9]], top=2)["verdict"] == "reproduced"


def test_digit_2_is_not_rare_in_mnist():
    recalls = np.full(10, 0.99)
    recalls[2] = 0.97
    result = papers.rarest(TRAIN_COUNTS, recalls, digit=2, bottom=3)
    assert result["count"] == 5958 and result["rarest"] == 5 and result["rarest_count"] == 5421
    assert result["count_rank"] == 7 and result["recall_rank"] == 1 and result["verdict"] == "not_reproduced"


def test_crossing_and_steps():
    result = papers.crossing([0.92, 0.96, 0.985, 0.99], [0.96, 0.98, 0.984, 0.985], stated=3, tolerance=1)
    assert result["first"] == 3 and result["verdict"] == "reproduced" and result["ours"] == pytest.approx(0.005)
    never = papers.crossing([0.9, 0.95], [0.96, 0.97], stated=7, tolerance=1)
    assert never["first"] is None and never["verdict"] == "not_reproduced"
    steps = papers.steps(600, 60000, 128)
    assert steps["ours"] == 469 and steps["implied_batch"] == 100 and steps["verdict"] == "impossible"
    assert papers.steps(469, 60000, 128)["verdict"] == "reproduced"


def test_picking_the_epoch_on_the_test_set():
    """Epoch 2 has the best validation score, epoch 3 the best test score: the gain is their difference."""
    y = np.zeros(1000, dtype=int)
    epochs = np.zeros((3, 1000), dtype=int)
    epochs[0, :100] = epochs[1, :30] = epochs[2, :10] = 1  # test accuracy 0.90, 0.97, 0.99
    result = papers.epoch_picking(y, [[0.9, 0.98, 0.97]], [epochs])
    assert result["by_test"]["mean"] == pytest.approx(0.99) and result["by_validation"]["mean"] == pytest.approx(0.97)
    assert result["diff"] == pytest.approx(0.02) and result["verdict"] == "not_reproduced"  # p < 0.05 on 20 digits
    same = papers.epoch_picking(y, [[0.9, 0.97, 0.98]], [epochs])
    assert same["diff"] == 0 and same["p"] == 1.0 and same["verdict"] == "reproduced"
