"""The report's abstract, conclusions and references, written from the run's artifacts.

Every number comes from a notebook's ``metrics.json`` or the run record; a
notebook whose artifacts are missing (a partial run) simply contributes no
sentence. Nothing here trains or predicts.
"""

from __future__ import annotations

import json
from pathlib import Path

from mnist_utils import i18n
from mnist_utils.evaluation import format_pct

KEYWORDS = {
    "en": ("handwritten digit recognition", "MNIST", "multilayer perceptron", "convolutional neural network",
           "regularization", "calibration", "reproducibility"),
    "zh": ("手写数字识别", "MNIST", "多层感知机", "卷积神经网络", "正则化", "校准", "可复现性"),
}
# The works the study relies on, cited in the conclusions and the notebooks' prose.
REFERENCES = (
    "Y. LeCun, L. Bottou, Y. Bengio and P. Haffner. Gradient-based learning applied to document "
    "recognition. *Proceedings of the IEEE* 86(11), 2278–2324, 1998.",
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


# How the notebooks' configuration names read in prose.
NAMES = {"relu": "ReLU", "gelu": "GELU", "tanh": "tanh", "sigmoid": "sigmoid", "sgd": "SGD",
         "nesterov": "SGD with Nesterov momentum", "rmsprop": "RMSprop", "adam": "Adam"}
NAMES_ZH = {**NAMES, "nesterov": "带 Nesterov 动量的 SGD"}


def load(artifacts_dir: Path) -> dict[str, dict]:
    """Each notebook's ``metrics.json`` that exists, by notebook name."""
    return {p.parent.name: json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(Path(artifacts_dir).glob("*/metrics.json"))}


def _pct(entry) -> str:
    """'97.74 ± 0.10 %' from ``{"mean": .., "std": ..}``, '98.61 %' from a fraction."""
    if isinstance(entry, dict):
        return format_pct(entry["mean"], entry.get("std"))
    return format_pct(entry)


def _seeds(n: int) -> str:
    return f"{n} seed{'s' if n != 1 else ''}"


def _target(record: dict, notebook: str):
    return record.get("notebooks", {}).get(notebook, {}).get("parameters", {}).get("target")


def _int8(m: dict) -> tuple[dict | None, float | None]:
    """Notebook 05's int8 TFLite export row and the Keras file's size, if exported."""
    int8 = next((e for e in m.get("exports", []) if e["format"] == "TFLite int8"), None)
    keras_size = next((e["file size (KB)"] for e in m.get("exports", []) if e["format"] == "Keras"), None)
    return int8, keras_size


def _chooser(language: str):
    """``t(english, chinese)``: the one of the two in ``language``."""
    return lambda english, chinese: chinese if language == "zh" else english


def findings(metrics: dict[str, dict], record: dict, language: str = "en") -> dict[str, str]:
    """One sentence per study, keyed by notebook, for the notebooks that have results
    (``language``: "en" or "zh"; the numbers are looked up once, the sentences written in both)."""
    t = _chooser(language)
    names = t(NAMES, NAMES_ZH)
    out = {}
    if (m := metrics.get("02_mlp_baseline")) is not None:
        n, several = len(m["seeds"]), len(m["seeds"]) > 1
        out["02"] = t(f"A multilayer perceptron with one hidden layer of {m['hidden_units']} units reaches "
                      f"{_pct(m['test_accuracy'])} test accuracy "
                      f"({'mean ± standard deviation over ' if several else ''}{_seeds(n)}).",
                      f"含一个 {m['hidden_units']} 单元隐藏层的多层感知机测试准确率为 "
                      f"{_pct(m['test_accuracy'])}（{'均值 ± 标准差，' if several else ''}{n} 个种子）。")
    if (m := metrics.get("03_optimizers_activations")) is not None:
        best = m["best"]
        activation, optimizer = (names.get(best[k], best[k]) for k in ("activation", "optimizer"))
        if (best["activation"], best["optimizer"]) == ("relu", "adam"):
            claim = t("as the seed study claimed", "与种子研究的结论一致")
        else:
            relu_adam = _pct(m["relu_adam_test_accuracy"])
            claim = t("so the seed study's claim that ReLU with Adam is best does not hold here; ReLU with Adam "
                      f"scores {relu_adam}",
                      f"因此种子研究“ReLU 配 Adam 最好”的结论在这里不成立；ReLU 配 Adam 的测试准确率为 {relu_adam}")
        out["03"] = t(f"Of four optimizers, each at its own tuned learning rate, and four activations, "
                      f"{activation} with {optimizer} is best on validation and scores "
                      f"{_pct(best['test_accuracy'])} on test ({claim}).",
                      f"在四种优化器（各用调好的学习率）和四种激活函数中，{activation} 配 {optimizer} 的验证准确率最高，"
                      f"测试准确率为 {_pct(best['test_accuracy'])}（{claim}）。")
    if (m := metrics.get("04_regularization")) is not None:
        best = m["best"]
        hidden = " × ".join(str(h) for h in m["hidden"])
        setting = i18n.translate(best["setting"], language)
        target = _target(record, "04_regularization")
        verdict = t(f", {'meeting' if best['meets_target'] else 'short of'} the {format_pct(target, digits=1)} target",
                    f"，{'达到' if best['meets_target'] else '未达到'} {format_pct(target, digits=1)} 的目标") if target else ""
        out["04"] = t(f"Among the regularizers compared on a {hidden} MLP, {setting} is best on "
                      f"validation, with {_pct(best['test_accuracy'])} test accuracy{verdict}.",
                      f"在 {hidden} 的 MLP 上比较的正则化方法中，{setting} 的验证准确率最高，"
                      f"测试准确率为 {_pct(best['test_accuracy'])}{verdict}。")
    if (m := metrics.get("05_cnn")) is not None:
        ours = m["ours"]
        n = len(m["runs"]["our CNN"]) if "our CNN" in m.get("runs", {}) else 0
        int8, keras_size = _int8(m)
        export = t(f" Quantized to int8 for TensorFlow Lite, the best seed keeps {int8['test accuracy (%)']:.2f} % "
                   f"in a file {keras_size / int8['file size (KB)']:.1f} times smaller than its Keras original.",
                   f"量化为 TensorFlow Lite int8 后，最佳种子的模型文件比 Keras 原文件小 "
                   f"{keras_size / int8['file size (KB)']:.1f} 倍，测试准确率为 {int8['test accuracy (%)']:.2f} %。"
                   ) if int8 and keras_size else ""
        out["05"] = t(f"A batch-normalized CNN trained with a warm-up and cosine learning-rate schedule and "
                      f"data augmentation reaches {_pct(ours['test_accuracy'])} over {_seeds(n)}, and "
                      f"{_pct(ours['ensemble_test_accuracy'])} as an ensemble of those seeds.{export}",
                      f"采用批归一化、预热加余弦学习率调度和数据增强训练的 CNN 在 {n} 个种子上的测试准确率为 "
                      f"{_pct(ours['test_accuracy'])}，这些种子的集成为 {_pct(ours['ensemble_test_accuracy'])}。{export}")
    if (m := metrics.get("06_error_analysis")) is not None:
        cal = {row["model"]: row for row in m.get("calibration", [])}
        top = m.get("top_confusions_cnn", [{}])[0]
        fgsm = m.get("robustness", {}).get("FGSM ε", {}).get("CNN")
        mlp, cnn = _pct(m["test_accuracy"]["MLP"]), _pct(m["test_accuracy"]["CNN"])
        parts = [t(f"The error analysis compares the best MLP ({mlp}) with the best CNN ({cnn})",
                   f"误差分析比较了最佳 MLP（{mlp}）与最佳 CNN（{cnn}）")]
        if top:
            parts.append(t(f"the CNN most often mistakes a {top['true']} for a {top['predicted']} "
                           f"({top['count']} test images)",
                           f"CNN 最常把 {top['true']} 误认为 {top['predicted']}（{top['count']} 张测试图像）"))
        if "CNN" in cal:
            before, after = (f"{cal['CNN'][f'ECE {w} (%)']:.2f} %" for w in ("before", "after"))
            parts.append(t(f"temperature scaling moves its expected calibration error from {before} to {after}",
                           f"温度缩放把它的期望校准误差从 {before} 变为 {after}"))
        if fgsm and len(fgsm["levels"]) > 1:
            epsilon, left = f"$\\varepsilon = {fgsm['levels'][1]:g}$", format_pct(fgsm["accuracy"][1], digits=1)
            parts.append(t(f"an FGSM attack of {epsilon} lowers its accuracy to {left}",
                           f"{epsilon} 的 FGSM 攻击使其准确率降到 {left}"))
        out["06"] = t("; ".join(parts) + ".", "；".join(parts) + "。")
    return out


def _profiles(record: dict) -> list[str]:
    return sorted({n["profile"] for n in record.get("notebooks", {}).values()})


def abstract(metrics: dict[str, dict], record: dict, language: str = "en") -> str:
    """The abstract and keywords, as markdown."""
    said = findings(metrics, record, language)
    profile = _profiles(record)
    reduced = profile not in ([], ["full"])
    names = f"`{'`, `'.join(profile)}`"
    if language == "zh":
        caveat = f"这些数字来自 {names} 配置，而非完整研究。" if reduced else ""
        text = ("本报告在笔记本电脑 CPU 上训练、比较并分析用于 MNIST 手写数字识别的多层感知机和卷积神经网络，"
                "文中每个数字都由附录所记录的那次运行计算得出。" + caveat + "".join(said.values()))
        return f"**摘要：** {text.strip()}\n\n**关键词：** {'；'.join(KEYWORDS['zh'])}"
    caveat = f" These figures come from the {names} profile, not from the full study." if reduced else ""
    text = ("This report trains, compares and analyses multilayer perceptrons and convolutional neural "
            "networks for handwritten digit recognition on MNIST, on a laptop CPU, with every number "
            "computed by the run recorded in the appendix." + caveat + " " + " ".join(said.values()))
    return f"**Abstract.** {text.strip()}\n\n**Keywords:** {'; '.join(KEYWORDS['en'])}."


def conclusions(metrics: dict[str, dict], record: dict, language: str = "en") -> str:
    """The conclusions and outlook section, as markdown."""
    t = _chooser(language)
    said = findings(metrics, record, language)
    titles = t({"02": "Baseline", "03": "Optimizers and activations", "04": "Regularization",
                "05": "Convolutional networks", "06": "Errors, calibration and robustness"},
               {"02": "基线", "03": "优化器与激活函数", "04": "正则化", "05": "卷积网络", "06": "误差、校准与鲁棒性"})
    lines = [t("# Conclusions and outlook", "# 总结与展望")]
    if said:
        lines.append(t("What this run found, notebook by notebook:", "本次运行逐个笔记本的发现："))
        lines += ["\n".join(f"- **{titles[k]}{t('.', '。')}** {v}" for k, v in said.items())]
    errors = metrics.get("06_error_analysis")
    if errors is not None:
        gap = 100 * (errors["test_accuracy"]["CNN"] - errors["test_accuracy"]["MLP"])
        lines.append(t(
            f"The best CNN {'beats' if gap > 0 else 'trails'} the best MLP by {abs(gap):.2f} percentage points "
            "on the same test images. A convolution shares its weights across positions and sees only a "
            "neighbourhood, priors about images that a fully connected layer has to learn from the data.",
            f"在相同的测试图像上，最佳 CNN {'领先' if gap > 0 else '落后于'}最佳 MLP {abs(gap):.2f} 个百分点。"
            "卷积在各个位置共享权重、只看局部邻域，这是关于图像的先验，而全连接层只能从数据中学到它们。"))
        other = errors.get("sklearn_digits_accuracy", {}).get("CNN")
        if other is not None:
            there, here = format_pct(other, digits=1), format_pct(errors["test_accuracy"]["CNN"], digits=1)
            lines.append(t(f"On handwriting collected outside MNIST (scikit-learn's 8 × 8 digits, scaled up) the "
                           f"CNN scores {there}, against {here} on the MNIST test set.",
                           f"在 MNIST 之外采集的手写数字上（scikit-learn 的 8 × 8 数字，放大后），CNN 的准确率为 "
                           f"{there}，而在 MNIST 测试集上为 {here}。"))
    lines.append(t(
        "**Outlook.** The record profile (`params/record.yaml`) trains the CNN longer and ensembles more "
        "seeds, for readers with more time or a GPU. The test set holds some mislabelled digits "
        "(Northcutt et al. 2021), which caps what any accuracy above about 99.8 % can show. Natural next "
        "steps are adversarial training against the FGSM weakness (Madry et al. 2018) and training data "
        "that is more varied than MNIST's.",
        "**展望。** 记录配置（`params/record.yaml`）把 CNN 训练得更久并集成更多种子，适合时间更充裕或有 GPU 的读者。"
        "测试集中有一些标注错误的数字（Northcutt 等，2021），这使得高于约 99.8 % 的准确率难以说明问题。"
        "自然的下一步是针对 FGSM 弱点的对抗训练（Madry 等，2018），以及比 MNIST 更多样的训练数据。"))
    return "\n\n".join(lines)


def references(language: str = "en") -> str:
    """The references section, as markdown (the entries keep their original language)."""
    title = "参考文献" if language == "zh" else "References"
    return f"# {title}\n\n" + "\n".join(f"{i}. {ref}" for i, ref in enumerate(REFERENCES, start=1))
