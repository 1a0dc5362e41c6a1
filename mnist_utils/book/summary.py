"""The report's abstract, conclusions and references, written from the run's artifacts.

Every number comes from a notebook's ``metrics.json`` or the run record; a
notebook whose artifacts are missing (a partial run) simply contributes no
sentence. Nothing here trains or predicts.
"""

from __future__ import annotations

import json
from pathlib import Path

KEYWORDS = {
    "en": (
        "handwritten digit recognition",
        "MNIST",
        "multilayer perceptron",
        "convolutional neural network",
        "regularization",
        "calibration",
        "reproducibility",
    ),
    "zh": ("手写数字识别", "MNIST", "多层感知机", "卷积神经网络", "正则化", "校准", "可复现性"),
}
# The works the study relies on, cited in the conclusions and the notebooks' prose.
REFERENCES = (
    "Y. LeCun, L. Bottou, Y. Bengio and P. Haffner. Gradient-based learning applied to document "
    "recognition. *Proceedings of the IEEE* 86(11), 2278–2324, 1998.",
    "N. Dalal and B. Triggs. Histograms of oriented gradients for human detection. *CVPR*, 2005.",
    "X. Glorot and Y. Bengio. Understanding the difficulty of training deep feedforward neural networks. "
    "*AISTATS*, 2010.",
    "N. Srivastava, G. Hinton, A. Krizhevsky, I. Sutskever and R. Salakhutdinov. Dropout: a simple way to "
    "prevent neural networks from overfitting. *JMLR* 15, 1929–1958, 2014.",
    "S. Ioffe and C. Szegedy. Batch normalization: accelerating deep network training by reducing internal "
    "covariate shift. *ICML*, 2015.",
    "D. P. Kingma and J. Ba. Adam: a method for stochastic optimization. *ICLR*, 2015.",
    "I. J. Goodfellow, J. Shlens and C. Szegedy. Explaining and harnessing adversarial examples. *ICLR*, 2015.",
    "D. Hendrycks and K. Gimpel. Gaussian error linear units (GELUs). arXiv:1606.08415, 2016.",
    "I. Loshchilov and F. Hutter. SGDR: stochastic gradient descent with warm restarts. *ICLR*, 2017.",
    "C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger. On calibration of modern neural networks. *ICML*, 2017.",
    "A. Madry, A. Makelov, L. Schmidt, D. Tsipras and A. Vladu. Towards deep learning models resistant to "
    "adversarial attacks. *ICLR*, 2018.",
    "D. Smilkov, N. Thorat, B. Kim, F. Viégas and M. Wattenberg. SmoothGrad: removing noise by adding "
    "noise. arXiv:1706.03825, 2017.",
    "C. G. Northcutt, A. Athalye and J. Mueller. Pervasive label errors in test sets destabilize machine "
    "learning benchmarks. *NeurIPS Datasets and Benchmarks*, 2021.",
    "Q. McNemar. Note on the sampling error of the difference between correlated proportions or "
    "percentages. *Psychometrika* 12(2), 153–157, 1947.",
)


def load(artifacts_dir: Path) -> dict[str, dict]:
    """Each notebook's ``metrics.json`` that exists, by notebook name."""
    return {
        p.parent.name: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(Path(artifacts_dir).glob("*/metrics.json"))
    }


def facts(metrics: dict[str, dict], record: dict) -> dict:
    """The numbers and choices the abstract and the conclusions state (``templates/sections``),
    one entry per notebook that has results (None for the others)."""
    runs = record.get("notebooks", {})
    profiles = sorted({n["profile"] for n in runs.values()})
    overridden = any(n.get("overrides") for n in runs.values())
    env = record.get("environment", {})
    out = {
        "profiles": profiles,
        "reduced": profiles not in ([], ["full"]) or overridden,
        "overridden": overridden,
        "machine": {"cpu_count": env.get("cpu_count"), "gpus": len(env.get("gpus") or [])},
        "baseline": None,
        "optimizers": None,
        "regularization": None,
        "cnn": None,
        "errors": None,
        "papers": None,
    }
    if (m := metrics.get("02_mlp_baseline")) is not None:
        out["baseline"] = {
            "hidden_units": m["hidden_units"],
            "seeds": len(m["seeds"]),
            "test_accuracy": m["test_accuracy"],
        }
    if (m := metrics.get("03_optimizers_activations")) is not None:
        best = m["best"]
        out["optimizers"] = {
            "activation": best["activation"],
            "optimizer": best["optimizer"],
            "test_accuracy": best["test_accuracy"],
            "relu_adam_best": (best["activation"], best["optimizer"]) == ("relu", "adam"),
            "relu_adam_test_accuracy": m.get("relu_adam_test_accuracy"),
            "optimizers": len({r["optimizer"] for r in m["runs"]}),
            "activations": len({r["activation"] for r in m["runs"]}),
        }
    if (m := metrics.get("04_regularization")) is not None:
        out["regularization"] = {
            "hidden": m["hidden"],
            "setting": m["best"]["setting"],
            "test_accuracy": m["best"]["test_accuracy"],
            "meets_target": m["best"]["meets_target"],
            "target": runs.get("04_regularization", {}).get("parameters", {}).get("target"),
        }
    if (m := metrics.get("05_cnn")) is not None:
        exports = {e["format"]: e for e in m.get("exports", [])}
        int8, keras = exports.get("TFLite int8"), exports.get("Keras")
        settings = runs.get("05_cnn", {}).get("parameters", {})
        out["cnn"] = {
            "test_accuracy": m["ours"]["test_accuracy"],
            "ensemble": m["ours"]["ensemble_test_accuracy"],
            "seeds": len(m.get("runs", {}).get("our CNN", [])),
            "warmup_epochs": settings.get("cnn_warmup_epochs"),
            "batch_norm": settings.get("cnn_batch_norm"),
            "int8_accuracy": int8["test accuracy (%)"] if int8 and keras else None,
            "int8_smaller": keras["file size (KB)"] / int8["file size (KB)"] if int8 and keras else None,
        }
    if (m := metrics.get("06_error_analysis")) is not None:
        cal = {row["model"]: row for row in m.get("calibration", [])}.get("CNN")
        fgsm = m.get("robustness", {}).get("FGSM ε", {}).get("CNN")
        out["errors"] = {
            "mlp": m["test_accuracy"]["MLP"],
            "cnn": m["test_accuracy"]["CNN"],
            "gap": m["test_accuracy"]["CNN"] - m["test_accuracy"]["MLP"],
            "top_confusion": (m.get("top_confusions_cnn") or [None])[0],
            "ece_before": cal["ECE before (%)"] if cal else None,
            "ece_after": cal["ECE after (%)"] if cal else None,
            "fgsm_epsilon": fgsm["levels"][1] if fgsm and len(fgsm["levels"]) > 1 else None,
            "fgsm_accuracy": fgsm["accuracy"][1] if fgsm and len(fgsm["levels"]) > 1 else None,
            "other_writers": m.get("sklearn_digits_accuracy", {}).get("CNN"),
        }
    if (m := metrics.get("07_course_papers")) is not None:
        out["papers"] = m["tally"]
    return out


def abstract(metrics: dict[str, dict], record: dict, language: str = "en", added: list[dict] = ()) -> str:
    """The abstract and keywords, as markdown (``templates/sections/abstract.<language>.md``);
    ``added``: the notebooks added to the study (``report.added_part``), whose questions it names."""
    from mnist_utils.book import prose

    values = {**facts(metrics, record), "keywords": KEYWORDS[language], "added": list(added)}
    return prose.section("abstract", values, language)


def conclusions(metrics: dict[str, dict], record: dict, language: str = "en", added: list[dict] = ()) -> str:
    """The conclusions and outlook section, as markdown (``templates/sections/conclusions.<language>.md``);
    ``added``: the notebooks added to the study (``report.added_part``), whose takeaways it lists too."""
    from mnist_utils.book import prose

    return prose.section("conclusions", {**facts(metrics, record), "added": list(added)}, language)


# How a course paper's kind and a missing year read in each edition's references.
PAPER_WORDS = {
    "en": {"course paper": "Course paper", "online tutorial": "Online tutorial", None: "undated"},
    "zh": {"course paper": "课程论文", "online tutorial": "网络教程", None: "无日期"},
}


def paper_references(language: str = "en") -> list[str]:
    """The four course papers (``papers.yaml``), by number, kind, year and translated title, without authors."""
    from mnist_utils import papers

    words, entries = PAPER_WORDS[language], []
    for number, paper in papers.load().items():
        kind, year = words[paper["kind"]], paper["year"] or words[None]
        title = paper["title"][language]
        origin = "English title as given" if paper.get("english_title_given") else "title translated"
        entries.append(
            f"{kind} {number}。《{title}》。{kind}，{year}。"
            if language == "zh"
            else f"{kind} {number}. *{title}* (in Chinese; {origin}). {kind}, {year}."
        )
    return entries


def references(language: str = "en") -> str:
    """The references section, as markdown: the works cited, then the four course papers
    (the works' entries keep their original language)."""
    title = "参考文献" if language == "zh" else "References"
    entries = list(REFERENCES) + paper_references(language)
    return f"# {title}\n\n" + "\n".join(f"{i}. {ref}" for i, ref in enumerate(entries, start=1))
