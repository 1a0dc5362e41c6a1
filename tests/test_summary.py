"""Abstract, conclusions and references written from a run's metrics."""

from mnist_utils.book import summary

METRICS = {
    "02_mlp_baseline": {"hidden_units": 128, "seeds": [0, 1, 2], "test_accuracy": {"mean": 0.9762, "std": 0.001}},
    "03_optimizers_activations": {
        "best": {"activation": "gelu", "optimizer": "adam", "test_accuracy": {"mean": 0.9774, "std": 0.001}},
        "relu_adam_test_accuracy": {"mean": 0.9766, "std": 0.0005},
        "runs": [{"activation": a, "optimizer": o} for a in ("relu", "gelu", "tanh") for o in ("adam", "sgd")],
    },
    "04_regularization": {
        "hidden": [256, 256],
        "best": {"setting": "dropout 0.2", "meets_target": True, "test_accuracy": {"mean": 0.9849, "std": 0.0014}},
    },
    "06_error_analysis": {
        "test_accuracy": {"MLP": 0.9861, "CNN": 0.9922},
        "calibration": [{"model": "CNN", "ECE before (%)": 0.13, "ECE after (%)": 0.154}],
        "top_confusions_cnn": [{"true": 9, "predicted": 4, "count": 7}],
        "robustness": {"FGSM ε": {"CNN": {"levels": [0.0, 0.05], "accuracy": [0.9922, 0.876]}}},
        "sklearn_digits_accuracy": {"CNN": 0.917},
    },
}
RECORD = {
    "notebooks": {"04_regularization": {"profile": "full", "parameters": {"target": 0.983}}},
    "environment": {"cpu_count": 2, "gpus": []},
}


def test_abstract_states_the_run_s_numbers():
    text = summary.abstract(METRICS, RECORD)
    for expected in (
        "97.62 ± 0.10 %",
        "(mean ± standard deviation over 3 seeds)",
        "GELU with Adam",
        "does not hold here; ReLU with Adam scores 97.66 ± 0.05 %",
        "256 × 256 MLP",
        "dropout 0.2",
        "98.49 ± 0.14 %",
        "meeting the 98.3 % target",
        "best MLP (98.61 %)",
        "best CNN (99.22 %)",
        "mistakes a 9 for a 4 (7 test images)",
        "from 0.13 % to 0.15 %",
        "$\\varepsilon = 0.05$ lowers its accuracy to 87.6 %",
        "**Keywords:**",
        "on 2 CPU cores",
        "Of 2 optimizers, each at its own tuned learning rate, and 3 activations",
    ):
        assert expected in text, expected
    assert "profile" not in text  # the full profile needs no caveat


def test_missing_notebooks_are_left_out_and_other_profiles_are_named():
    partial = {"02_mlp_baseline": {**METRICS["02_mlp_baseline"], "seeds": [0]}}
    text = summary.abstract(
        partial,
        {
            "notebooks": {"02_mlp_baseline": {"profile": "smoke"}},
            "environment": {"cpu_count": 16, "gpus": ["GPU 0: NVIDIA H200"]},
        },
    )
    assert "on MNIST, on 1 GPU, with every number" in text
    assert "(1 seed)" in text and "`smoke` profile, not from the full study" in text
    assert "CNN" not in text.split("**Keywords:**")[0]


def test_conclusions_compute_the_gap_and_references_are_numbered():
    text = summary.conclusions(METRICS, RECORD)
    assert text.startswith("# Conclusions and outlook")
    assert "beats the best MLP by 0.61 percentage points" in text and "scores 91.7 %" in text
    flat = " ".join(text.split())
    assert "against attacks such as the FGSM one that brought the CNN to 87.6 % at $\\varepsilon = 0.05$" in flat
    without = summary.conclusions(
        {**METRICS, "06_error_analysis": {**METRICS["06_error_analysis"], "robustness": {}}}, RECORD
    )
    assert "Natural next steps are adversarial training (Madry et al. 2018), and training data" in " ".join(
        without.split()
    )
    refs = summary.references()
    assert refs.startswith("# References") and f"{len(summary.REFERENCES)}. " in refs
    for author in ("LeCun", "Srivastava", "Kingma", "Glorot", "Goodfellow", "Madry", "Northcutt"):
        assert author in refs


def test_chinese_abstract_and_conclusions_state_the_same_numbers():
    text = summary.abstract(METRICS, RECORD, "zh")
    assert text.startswith("**摘要：**") and "**关键词：**" in text
    for expected in (
        "97.62 ± 0.10 %（均值 ± 标准差，3 个种子）",
        "GELU 配 Adam",
        "ReLU 配 Adam 的测试准确率为 97.66 ± 0.05 %",
        "256 × 256 的 MLP",
        "达到 98.3 % 的目标",
        "最佳 MLP（98.61 %）",
        "CNN 最常把 9 误认为 4（7 张测试图像）",
        "从 0.13 % 变为 0.15 %",
        "$\\varepsilon = 0.05$ 的 FGSM 攻击使其准确率降到 87.6 %",
    ):
        assert expected in text, expected
    conclusions = summary.conclusions(METRICS, RECORD, "zh")
    assert conclusions.startswith("# 总结与展望") and "领先最佳 MLP 0.61 个百分点" in conclusions
    assert summary.references("zh").startswith("# 参考文献")


PAPERS = {
    "07_course_papers": {
        "tally": {
            "claims": 6,
            "papers": 4,
            "departs": [],
            "reproduced": ["000.baseline", "002.accuracy"],
            "not_reproduced": ["000.regularized_better", "001.cross_validation"],
            "impossible": ["001.f1"],
            "unverifiable": ["000.adam_sgd"],
        }
    }
}


def test_abstract_and_conclusions_state_how_the_course_papers_claims_fared():
    for language, expected in (
        (
            "en",
            (
                "Of 6 claims checked in 4 course papers on MNIST, 2 hold",
                "2 do not (paper 000's L2 and dropout improving accuracy and paper 001's cross-validation scores)",
                "1 is impossible as stated (paper 001's F1)",
                "1 cannot be checked.",
            ),
        ),
        (
            "zh",
            (
                "在 4 篇关于 MNIST 的课程论文中检验的 6 条论断里",
                "2 条成立",
                "2 条不成立（论文 000 的 L2 与 dropout 提高准确率和论文 001 的交叉验证分数）",
                "1 条按原文不可能成立（论文 001 的 F1）",
            ),
        ),
    ):
        for text in (
            summary.abstract({**METRICS, **PAPERS}, RECORD, language),
            summary.conclusions({**METRICS, **PAPERS}, RECORD, language),
        ):
            for phrase in expected:
                assert phrase in text, (language, phrase)
    assert "course papers" not in summary.abstract(METRICS, RECORD)  # no 07 results, no sentence


def test_more_than_three_claims_not_reproduced_are_counted_per_paper_in_the_abstract():
    failed = ["000.regularized_better", "000.no_overfitting", "001.cross_validation", "003.accuracy"]
    tally = {
        **PAPERS["07_course_papers"]["tally"],
        "claims": 9,
        "not_reproduced": failed,
        "by_paper": {
            "000": {"claims": 4, "not_reproduced": 2},
            "001": {"claims": 2, "not_reproduced": 1},
            "002": {"claims": 1, "not_reproduced": 0},  # none failed: not named
            "003": {"claims": 2, "not_reproduced": 1},
        },
    }
    metrics = {**METRICS, "07_course_papers": {"tally": tally}}
    english, chinese = (summary.abstract(metrics, RECORD, language) for language in ("en", "zh"))
    assert "4 do not (2 of paper 000's 4, 1 of paper 001's 2 and 1 of paper 003's 2)" in english
    assert "4 条不成立（论文 000 的 4 条中 2 条、论文 001 的 2 条中 1 条和论文 003 的 2 条中 1 条）" in chinese
    # The claims that only the budget keeps from being checked are counted among those that cannot be.
    over = {**tally, "unverifiable": ["000.adam_sgd", "002.batch_norm_speed"], "over_budget": ["002.batch_norm_speed"]}
    over_metrics = {**METRICS, "07_course_papers": {"tally": over}}
    assert "2 cannot be checked (1 of them only within the study's budget)." in summary.abstract(over_metrics, RECORD)
    assert "2 条无法检验（其中 1 条只是在本研究的预算内无法检验）" in summary.abstract(over_metrics, RECORD, "zh")
    # Three are still named, as the test above shows with two.
    three = {**tally, "not_reproduced": failed[:3]}
    assert (
        "3 do not (paper 000's L2 and dropout improving accuracy, paper 000's baseline not overfitting and paper 001's"
        in (summary.abstract({**METRICS, "07_course_papers": {"tally": three}}, RECORD))
    )


def test_the_course_papers_are_cited_by_kind_year_and_translated_title_without_authors():
    from mnist_utils import papers

    refs = summary.references()
    assert (
        "Course paper 000. *Keras-based handwritten digit image recognition and model optimization* "
        "(in Chinese; English title as given). Course paper, 2025." in refs
    )
    assert (
        "Online tutorial 003. *MNIST handwritten digit recognition* (in Chinese; title translated). "
        "Online tutorial, undated." in refs
    )
    assert f"{len(summary.REFERENCES) + len(papers.load())}. " in refs
    assert "课程论文 001。《基于深度学习的图像识别系统：MNIST 手写数字项目》。课程论文，2024。" in summary.references(
        "zh"
    )


def test_a_run_with_p_overrides_is_not_called_the_full_study():
    record = {"notebooks": {"02_mlp_baseline": {"profile": "full", "overrides": {"epochs": 3}}}}
    text = summary.abstract({"02_mlp_baseline": METRICS["02_mlp_baseline"]}, record)
    assert "`full` profile with parameters changed for the run (`-p`), not from the full study" in text
    assert "（本次运行用 `-p` 改过参数）" in summary.abstract(
        {"02_mlp_baseline": METRICS["02_mlp_baseline"]}, record, "zh"
    )
