"""Abstract, conclusions and references written from a run's metrics."""

from mnist_utils import summary

METRICS = {
    "02_mlp_baseline": {"hidden_units": 128, "seeds": [0, 1, 2], "test_accuracy": {"mean": 0.9762, "std": 0.001}},
    "03_optimizers_activations": {"best": {"activation": "gelu", "optimizer": "adam",
                                           "test_accuracy": {"mean": 0.9774, "std": 0.001}},
                                  "relu_adam_test_accuracy": {"mean": 0.9766, "std": 0.0005}},
    "04_regularization": {"hidden": [256, 256], "best": {"setting": "dropout 0.2", "meets_target": True,
                                                          "test_accuracy": {"mean": 0.9849, "std": 0.0014}}},
    "06_error_analysis": {"test_accuracy": {"MLP": 0.9861, "CNN": 0.9922},
                          "calibration": [{"model": "CNN", "ECE before (%)": 0.13, "ECE after (%)": 0.154}],
                          "top_confusions_cnn": [{"true": 9, "predicted": 4, "count": 7}],
                          "robustness": {"FGSM ε": {"CNN": {"levels": [0.0, 0.05], "accuracy": [0.9922, 0.876]}}},
                          "sklearn_digits_accuracy": {"CNN": 0.917}},
}
RECORD = {"notebooks": {"04_regularization": {"profile": "full", "parameters": {"target": 0.983}}}}


def test_abstract_states_the_run_s_numbers():
    text = summary.abstract(METRICS, RECORD)
    for expected in ("97.62 ± 0.10 %", "(mean ± standard deviation over 3 seeds)", "GELU with Adam",
                     "does not hold here; ReLU with Adam scores 97.66 ± 0.05 %", "256 × 256 MLP", "dropout 0.2",
                     "98.49 ± 0.14 %", "meeting the 98.3 % target", "best MLP (98.61 %)", "best CNN (99.22 %)",
                     "mistakes a 9 for a 4 (7 test images)", "from 0.13 % to 0.15 %",
                     "$\\varepsilon = 0.05$ lowers its accuracy to 87.6 %", "**Keywords:**"):
        assert expected in text, expected
    assert "profile" not in text  # the full profile needs no caveat


def test_missing_notebooks_are_left_out_and_other_profiles_are_named():
    partial = {"02_mlp_baseline": {**METRICS["02_mlp_baseline"], "seeds": [0]}}
    text = summary.abstract(partial, {"notebooks": {"02_mlp_baseline": {"profile": "smoke"}}})
    assert "(1 seed)" in text and "`smoke` profile, not from the full study" in text
    assert "CNN" not in text.split("**Keywords:**")[0]


def test_conclusions_compute_the_gap_and_references_are_numbered():
    text = summary.conclusions(METRICS, RECORD)
    assert text.startswith("# Conclusions and outlook")
    assert "beats the best MLP by 0.61 percentage points" in text and "scores 91.7 %" in text
    refs = summary.references()
    assert refs.startswith("# References") and f"{len(summary.REFERENCES)}. " in refs
    for author in ("LeCun", "Srivastava", "Kingma", "Glorot", "Goodfellow", "Madry", "Northcutt"):
        assert author in refs


def test_chinese_abstract_and_conclusions_state_the_same_numbers():
    text = summary.abstract(METRICS, RECORD, "zh")
    assert text.startswith("**摘要：**") and "**关键词：**" in text
    for expected in ("97.62 ± 0.10 %（均值 ± 标准差，3 个种子）", "GELU 配 Adam", "ReLU 配 Adam 的测试准确率为 97.66 ± 0.05 %",
                     "256 × 256 的 MLP", "达到 98.3 % 的目标", "最佳 MLP（98.61 %）", "CNN 最常把 9 误认为 4（7 张测试图像）",
                     "从 0.13 % 变为 0.15 %", "$\\varepsilon = 0.05$ 的 FGSM 攻击使其准确率降到 87.6 %"):
        assert expected in text, expected
    conclusions = summary.conclusions(METRICS, RECORD, "zh")
    assert conclusions.startswith("# 总结与展望") and "领先最佳 MLP 0.61 个百分点" in conclusions
    assert summary.references("zh").startswith("# 参考文献")
