"""Metrics against known values; plot helpers draw non-empty images."""

import re

import numpy as np
import pandas as pd
import pytest

from mnist_utils import analysis, artifacts, evaluation, plots


def test_accuracy_and_misclassified_order():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.45, 0.55]])
    y = np.array([0, 0, 1, 1])
    assert evaluation.accuracy(y, probs) == 0.5
    # wrong: rows 1 (conf 0.8) and 2 (conf 0.6), most confident first
    assert evaluation.misclassified(y, probs).tolist() == [1, 2]


def test_mean_std_uses_sample_deviation():
    mean, std = evaluation.mean_std([0.97, 0.98, 0.99])
    assert mean == pytest.approx(0.98) and std == pytest.approx(0.01)
    assert evaluation.mean_std([0.5]) == (0.5, None)
    assert evaluation.format_pct(0.9781, 0.0009) == "97.81 ± 0.09 %"
    assert evaluation.format_pct(0.9781) == "97.81 %"
    assert evaluation.pct_mean_std([0.97, 0.98, 0.99]) == "98.00 ± 1.00"
    assert evaluation.pct_mean_std([0.9781]) == "97.81"


def test_class_counts():
    assert evaluation.class_counts(np.array([0, 0, 3]), 4).tolist() == [2, 0, 0, 1]


def _images(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), np.arange(n) % 10


@pytest.mark.parametrize(
    "name",
    [
        "balance",
        "samples",
        "means",
        "histogram",
        "curves",
        "errors",
        "time",
        "grouped",
        "confusion",
        "reliability",
        "saliency",
        "robustness",
    ],
)
def test_plot_helpers_write_nonempty_png(tmp_path, name):
    x, y = _images()
    probs = np.full((40, 10), 0.05)
    probs[np.arange(40), (y + 1) % 10] = 0.55
    fig = {
        "balance": lambda: plots.class_balance({"train": np.bincount(y), "test": np.bincount(y)}),
        "samples": lambda: plots.samples_per_class(x, y, per_class=3),
        "means": lambda: plots.mean_images(x, y),
        "histogram": lambda: plots.intensity_histogram(x),
        "curves": lambda: plots.learning_curves(
            [{"loss": [1, 0.5], "val_loss": [1.1, 0.6], "accuracy": [0.5, 0.8], "val_accuracy": [0.4, 0.7]}] * 2
        ),
        "errors": lambda: plots.misclassified_grid(x, y, probs, np.arange(5)),
        "time": lambda: plots.accuracy_vs_time(
            {"a": [([1.0, 1.0], [0.98, 0.99])], "b": [([2.0], [0.985])] * 2}, floor=0.97
        ),
        "grouped": lambda: plots.grouped_bars(pd.DataFrame({"x": [1, 2], "y": [2, 1]}).rename_axis("digit"), "errors"),
        "confusion": lambda: plots.confusion_panels(y, {"a": probs.argmax(1), "b": y}),
        "reliability": lambda: plots.reliability_diagram(
            {"before": analysis.reliability(y, probs), "after": analysis.reliability(y, probs)}
        ),
        "saliency": lambda: plots.saliency_grid(x[:3] / 255, x[:3] / 255, ["a", "b", "c"]),
        "robustness": lambda: plots.robustness(
            {"noise": {"m": ([0, 1], [0.9, 0.5])}, "shift": {"m": ([0, 2], [0.9, 0.2])}}
        ),
    }[name]()
    path = tmp_path / f"{name}.png"
    artifacts.save_figure(fig, path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_save_json_is_atomic_and_stable(tmp_path):
    path = tmp_path / "m.json"
    artifacts.save_json(path, {"b": np.float32(0.5), "a": np.arange(2)})
    first = path.read_bytes()
    artifacts.save_json(path, {"a": [0, 1], "b": 0.5})
    assert path.read_bytes() == first
    assert artifacts.load_json(path) == {"a": [0, 1], "b": 0.5}
    with pytest.raises(FileNotFoundError, match="mnist-study run --only"):
        artifacts.load_json(tmp_path / "02_x" / "metrics.json")


def test_accuracy_axis_stops_at_100_and_keeps_its_floor_only_when_points_reach_above_it():
    high = plots.accuracy_vs_time({"a": [([1.0, 1.0], [0.98, 1.0])]}, floor=0.97).axes[0].get_ylim()
    low = plots.accuracy_vs_time({"a": [([1.0, 1.0], [0.6, 0.7])]}, floor=0.97).axes[0].get_ylim()
    assert high[0] == 97.0 and high[1] == 100.0
    assert 0 < low[0] < 60 and 70 < low[1] < 97  # not the floor: that would turn the axis upside down


def test_mcnemar_exact_binomial_known_value():
    y = np.zeros(100, dtype=int)
    a, b = np.zeros(100, dtype=int), np.zeros(100, dtype=int)
    a[:2] = 1  # A wrong on 2 digits
    b[2:12] = 1  # B wrong on 10 others
    result = evaluation.mcnemar(y, a, b)
    assert (result["a_only"], result["b_only"]) == (10, 2)
    # two-sided: 2 * P(X <= 2), X ~ Binomial(12, 1/2) = 2 * (1 + 12 + 66) / 4096
    assert result["p_value"] == pytest.approx(158 / 4096)
    assert evaluation.mcnemar(y, b, a)["p_value"] == pytest.approx(158 / 4096)
    assert evaluation.mcnemar(y, a, a)["p_value"] == 1.0


def test_load_array_round_trip_and_missing(tmp_path):
    artifacts.save_array(tmp_path / "p.npy", np.arange(5, dtype=np.uint8))
    assert artifacts.load_array(tmp_path / "p.npy").tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(FileNotFoundError, match="--only 02"):
        artifacts.load_array(tmp_path / "02_mlp" / "test_predictions.npy")


def test_named_arrays_round_trip_without_pickles(tmp_path):
    arrays = {"paper 001 CNN/0/final": np.arange(4, dtype=np.uint8), "LeNet-5/1/epochs": np.eye(3, dtype=np.uint8)}
    artifacts.save_arrays(tmp_path / "p.npz", arrays)
    loaded = artifacts.load_arrays(tmp_path / "p.npz")
    assert set(loaded) == set(arrays) and all(np.array_equal(loaded[k], v) for k, v in arrays.items())
    artifacts.save_arrays(tmp_path / "objects.npz", {"x": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ValueError, match="allow_pickle"):
        artifacts.load_arrays(tmp_path / "objects.npz")
    with pytest.raises(FileNotFoundError, match="--only 05"):
        artifacts.load_arrays(tmp_path / "05_cnn" / "test_predictions.npz")


def test_seconds_to_reach_counts_whole_epochs():
    assert evaluation.seconds_to_reach([2.0, 3.0, 4.0], [0.5, 0.9, 0.95], 0.9) == 5.0
    assert evaluation.seconds_to_reach([2.0, 3.0], [0.5, 0.6], 0.9) is None


def test_mcnemar_tally_and_verdict_count_significance_only_in_its_direction():
    from mnist_utils.book import prose

    win = {"a_only": 30, "b_only": 5, "p_value": 1e-5}
    loss = {"a_only": 5, "b_only": 30, "p_value": 1e-5}
    tie = {"a_only": 10, "b_only": 10, "p_value": 1.0}
    tally = evaluation.mcnemar_tally([win, loss, tie])
    assert tally == {"pairs": 3, "better": 1, "won": 1, "lost": 1}
    text = prose.render_text('{{ verdict(t, "A", "B") }}', {"t": tally})
    assert text == (
        "A is right where B is wrong more often than the reverse in 1 of 3 seed pairs, "
        "significantly (McNemar p < 0.05); it is significantly worse in 1."
    )
    one = prose.render_text('{{ verdict(t, "A", "B") }}', {"t": evaluation.mcnemar_tally([tie])})
    assert one == "A is right where B is wrong no more often than the reverse in its only seed pair."
    none = evaluation.mcnemar_tally([loss, tie])  # no pair where A does better
    assert prose.render_text('{{ verdict(t, "甲", "乙") }}', {"t": none}, "zh") == (
        "在 2 个种子对中，没有一个里 甲 对而 乙 错的情况多于反过来的情况；有 1 个显著更差。"
    )
    assert prose.render_text('{{ verdict(t, "甲", "乙") }}', {"t": tally}, "zh") == (
        "在 3 个种子对中，有 1 个里 甲 对而 乙 错的情况多于反过来的情况，"
        "且显著（显著指 McNemar p < 0.05）；有 1 个显著更差。"
    )


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_mcnemar_sentence_reads_well_at_every_count(language):
    """Every tally of 1 to 3 seed pairs: no "0 of", "in 0" or "0 个" phrase, one sentence, and the
    words for none, one, some and all of the pairs where they apply."""
    from mnist_utils.book import prose

    said = {}
    for pairs in (1, 2, 3):
        for better in range(pairs + 1):
            for won in range(better + 1):
                for lost in range(pairs - better + 1):
                    t = {"pairs": pairs, "better": better, "won": won, "lost": lost}
                    text = prose.render_text('{{ verdict(t, "A", "B") }}', {"t": t}, language)
                    assert not re.search(r"\b0 of|in 0(?![.,\d])|(?<!\d)0 个|\{|  ", text), (t, text)
                    assert text.endswith("." if language == "en" else "。") and text.count("。") <= 1, (t, text)
                    said[pairs, better, won, lost] = text
    words = {
        "en": (
            "in none of 3 seed pairs",
            "in 2 of 3 seed pairs, 1 of them significantly",
            "in 3 of 3 seed pairs, each significantly",
            "in 2 of 2 seed pairs, none of them significantly",
            "more often than the reverse in its only seed pair, significantly",
            "it is significantly worse there",
        ),
        "zh": (
            "没有一个里",
            "其中 1 个显著",
            "每个都显著",
            "但都不显著",
            "在唯一的种子对中，A 对而 B 错的情况多于反过来的情况，且显著",
            "A 在该对中显著更差",
        ),
    }[language]
    keys = ((3, 0, 0, 0), (3, 2, 1, 0), (3, 3, 3, 0), (2, 2, 0, 0), (1, 1, 1, 0), (1, 0, 0, 1))
    for key, expected in zip(keys, words):
        assert expected in said[key], (key, said[key])


def test_scores_and_summaries_in_full():
    assert evaluation.accuracy(np.array([1, 0, 1]), np.array([[0.2, 0.8], [0.9, 0.1], [0.7, 0.3]])) == 2 / 3
    assert evaluation.mean_std([0.5, 0.75]) == (0.625, pytest.approx(0.1767767))  # two values have a deviation
    assert evaluation.mean_std([1, 2]) == (1.5, pytest.approx(0.7071068)) and evaluation.mean_std([3])[1] is None
    assert evaluation.summary([0.5, 0.75]) == {"mean": 0.625, "std": pytest.approx(0.1767767), "n": 2}
    assert evaluation.format_pct(0.97812, 0.00091, digits=3) == "97.812 ± 0.091 %"
    assert evaluation.class_counts(np.array([0, 0, 3])).tolist() == [2, 0, 0, 1, 0, 0, 0, 0, 0, 0]  # ten digits
    tied = np.array([[0.1, 0.9], [0.1, 0.9], [0.2, 0.8], [0.1, 0.9]])
    assert evaluation.misclassified(np.zeros(4, dtype=int), tied).tolist() == [0, 1, 3, 2]  # ties keep their order
    assert evaluation.misclassified(np.zeros(4, dtype=int), tied, n=2).tolist() == [0, 1]
    confidence = np.repeat([0.9, 0.8], 40)
    np.random.default_rng(0).shuffle(confidence)  # many ties: an unstable sort reorders them
    many = np.stack([1 - confidence, confidence], axis=1)
    order = evaluation.misclassified(np.zeros(80, dtype=int), many, n=80)
    assert order.tolist() == sorted(range(80), key=lambda i: -confidence[i])  # Python's sort is stable


def test_mcnemar_in_full_and_with_equal_disagreements():
    y = np.zeros(8, dtype=int)
    a, b = np.array([0, 0, 0, 1, 1, 0, 0, 0]), np.array([1, 1, 0, 0, 0, 0, 0, 1])
    assert evaluation.mcnemar(y, a, b) == {
        "a_only": 3,
        "b_only": 2,
        "accuracy_a": 0.75,
        "accuracy_b": 0.625,
        "p_value": 1.0,
    }
    b[7] = 0  # 2 against 2: p = 1 by the binomial test itself
    assert evaluation.mcnemar(y, a, b)["p_value"] == 1.0
    one_sided = np.array([1, 1, 1, 1, 1, 1, 0, 0])  # B wrong on 6 digits A gets right: p = 2 / 2^6
    assert evaluation.mcnemar(y, np.zeros(8, dtype=int), one_sided)["p_value"] == pytest.approx(2 / 64)


def test_mcnemar_tally_at_the_threshold_and_on_a_tie():
    at = {"a_only": 30, "b_only": 10, "p_value": evaluation.SIGNIFICANT}
    below = {"a_only": 10, "b_only": 30, "p_value": evaluation.SIGNIFICANT - 1e-9}
    assert evaluation.mcnemar_tally([{**below, "p_value": evaluation.SIGNIFICANT}])["lost"] == 0
    tie = {"a_only": 10, "b_only": 10, "p_value": 0.01}  # a tie is neither better nor worse
    assert evaluation.mcnemar_tally([at, below, tie]) == {"pairs": 3, "better": 1, "won": 0, "lost": 1}


def test_mcnemar_frame_and_branch_runs_as_tables():
    from mnist_utils.training import BranchResult

    tests = [{"a_only": 3, "b_only": 1, "accuracy_a": 0.75, "accuracy_b": 0.5, "p_value": 0.625}]
    frame = evaluation.mcnemar_frame(tests, "A vs B", ["0/0"])
    assert frame.to_dict("records") == [
        {
            "comparison": "A vs B",
            "seed pair": "0/0",
            "accuracy A (%)": 75.0,
            "accuracy B (%)": 50.0,
            "only A right": 3,
            "only B right": 1,
            "p-value": 0.625,
        }
    ]
    empty = evaluation.mcnemar_frame([], "A vs B", [])
    assert list(empty.columns) == list(frame.columns)
    both = pd.concat([frame, empty])  # as notebook 03 builds its table, when one comparison has no pairs
    numbers = ["accuracy A (%)", "accuracy B (%)", "only A right", "only B right", "p-value"]
    assert both[numbers].dtypes.tolist() == frame[numbers].dtypes.tolist() == [float, float, int, int, float]
    from mnist_utils import display

    tiny = pd.concat([evaluation.mcnemar_frame([{**tests[0], "p_value": 4.4e-66}], "A vs B", ["0/0"]), empty])
    html = display._table_bundle(tiny, False, "{:.4g}")["text/html"]
    assert "4.4e-66" in html and "0.000000" not in html and "75.000000" not in html
    run = BranchResult(
        seed=1,
        history={"val_accuracy": [0.25, 0.5, 0.75], "val_loss": [0.9, 0.5, 0.25]},
        train_accuracy=0.875,
        model=None,
        branch=0,
    )
    table = evaluation.summarize_branch_runs({("relu", "adam"): ([run], [2.0, 4.0, 9.0])}, ("activation", "optimizer"))
    assert table.to_dict("records") == [
        {
            "activation": "relu",
            "optimizer": "adam",
            "seed": 1,
            "val_accuracy": 0.75,
            "val_loss": 0.25,
            "train_accuracy": 0.875,
            "epoch_seconds": 4.0,
        }
    ]
    single = evaluation.summarize_branch_runs({"relu": ([run], [1.0])}, ("activation",))
    assert single["activation"].tolist() == ["relu"]
    with pytest.raises(ValueError):
        evaluation.summarize_branch_runs({("relu", "adam"): ([run], [1.0])}, ("activation",))  # strict: parts match
