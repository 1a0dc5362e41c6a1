"""The report's languages: English, in which the notebooks are written, and Chinese.

The prose and the captions are markdown, translated cell by cell in ``notebooks/zh/``
(``prose``). Figure and table labels are translated here, through the table below:
``display`` draws each figure and table in both languages at once, so switching the
report's language re-executes nothing.
"""

from __future__ import annotations

import re

LANGUAGES = ("en", "zh")
# The fonts of a Chinese figure. matplotlib falls back along this list glyph by glyph:
# DejaVu Sans (the English figures' font) draws Latin letters and digits as before,
# Noto Sans CJK SC (Debian: fonts-noto-cjk) the Chinese characters.
FIGURE_FONTS = ["DejaVu Sans", "Noto Sans CJK SC"]

# Figure and table labels: English -> Chinese, matched exactly (after stripping spaces).
ZH: dict[str, str] = {
    # data (01)
    "train": "训练集",
    "validation": "验证集",
    "test": "测试集",
    "digit": "数字",
    "split": "划分",
    "share of split (%)": "占该划分的比例 (%)",
    "file": "文件",
    "algorithm": "算法",
    "verified checksum": "校验和（已验证）",
    "array": "数组",
    "shape": "形状",
    "dtype": "数据类型",
    "min": "最小值",
    "max": "最大值",
    "train %": "训练集 %",
    "validation %": "验证集 %",
    "test %": "测试集 %",
    "pixel intensity (0 = background, 255 = ink)": "像素强度（0 = 背景，255 = 墨迹）",
    "pixels (log scale)": "像素数（对数刻度）",
    # models, training (02-05)
    "layer": "层",
    "type": "类型",
    "output shape": "输出形状",
    "parameters": "参数量",
    "accuracy": "准确率",
    "epoch": "轮",
    "loss": "损失",
    "seed": "种子",
    "seeds": "种子数",
    "train accuracy": "训练准确率",
    "validation accuracy": "验证准确率",
    "test accuracy": "测试准确率",
    "validation loss": "验证损失",
    "accuracy per epoch": "每轮之后的准确率",
    "s / epoch (median)": "每轮秒数（中位数）",
    "s / epoch": "每轮秒数",
    "learning rate (log scale)": "学习率（对数刻度）",
    "validation accuracy (%)": "验证准确率 (%)",
    "train accuracy (%)": "训练准确率 (%)",
    "test accuracy (%)": "测试准确率 (%)",
    "accuracy (%)": "准确率 (%)",
    "optimizer": "优化器",
    "learning rate": "学习率",
    "lr": "学习率",
    "Keras default": "Keras 默认值",
    "activation": "激活函数",
    "train − val (points)": "训练 − 验证（百分点）",
    "train − validation (points)": "训练 − 验证（百分点）",
    "nesterov": "Nesterov",
    "comparison": "比较",
    "seed pair": "种子对",
    "accuracy A (%)": "A 的准确率 (%)",
    "accuracy B (%)": "B 的准确率 (%)",
    "only A right": "仅 A 正确",
    "only B right": "仅 B 正确",
    "p-value": "p 值",
    "baseline": "基线",
    "none": "无正则化",
    "batch norm": "批归一化",
    "early stopping": "早停",
    "cosine": "余弦衰减",
    "constant": "恒定",
    "1 hidden layer": "1 个隐藏层",
    "dashed: train, solid: validation": "虚线：训练，实线：验证",
    "parameters (log scale)": "参数量（对数刻度）",
    "setting": "设置",
    "train (%)": "训练 (%)",
    "validation (%)": "验证 (%)",
    "test (%)": "测试 (%)",
    "recipe": "方案",
    "batch": "批大小",
    "epochs": "轮数",
    "no": "否",
    "adam": "Adam",
    "sgd": "SGD",
    "paper 001 CNN": "论文 001 CNN",
    "our CNN": "我们的 CNN",
    "our CNN, no augmentation": "我们的 CNN（无数据增强）",
    "model": "模型",
    "multiply-adds (M)": "乘加次数 (M)",
    "training (s)": "训练时间 (s)",
    "inference (images/s)": "推理速度（图像/秒）",
    "training seconds (log scale)": "训练秒数（对数刻度）",
    "with vs without augmentation": "加与不加数据增强",
    "fold": "折",
    "held-out images": "留出图像数",
    "held-out accuracy (%)": "留出准确率 (%)",
    "format": "格式",
    "file size (KB)": "文件大小 (KB)",
    "latency (ms / image)": "延迟（毫秒/图像）",
    "throughput (images/s)": "吞吐量（图像/秒）",
    "TFLite float32": "TFLite float32",
    "TFLite int8": "TFLite int8",
    # error analysis (06)
    "support": "样本数",
    "precision": "精确率",
    "recall": "召回率",
    "f1": "F1",
    "macro average": "宏平均",
    "weighted average": "加权平均",
    "index": "数字",
    "predicted digit": "预测数字",
    "true digit": "真实数字",
    "temperature": "温度",
    "ECE before (%)": "缩放前 ECE (%)",
    "ECE after (%)": "缩放后 ECE (%)",
    "predictions changed": "改变的预测数",
    "confidence (top probability)": "置信度（最大概率）",
    "perfect calibration": "完美校准",
    "fraction": "比例",
    "count": "数量",
    "Gaussian noise σ": "高斯噪声 σ",
    "rotation (degrees)": "旋转（度）",
    "shift right and down (pixels)": "向右下平移（像素）",
    "FGSM ε": "FGSM ε",
    "epsilon": "ε",
    "MLP accuracy (%)": "MLP 准确率 (%)",
    "CNN accuracy (%)": "CNN 准确率 (%)",
}

# Labels with numbers or names in them: a template whose ``{}`` matches any text,
# carried over into the translation in order (each part translated in turn).
# The first that matches wins, so the specific come before the general.
ZH_PATTERNS: dict[str, str] = {
    "{} hidden layers": "{} 个隐藏层",
    "test errors (mean of {} seeds)": "测试错误数（{} 个种子的平均）",
    "test errors (mean of {} seed)": "测试错误数（{} 个种子的平均）",
    "seconds per epoch\n(per configuration of {} seed(s))": "每轮秒数\n（每个配置，{} 个种子）",
    "{} vs baseline (02)": "{} 对比基线 (02)",
    "{} vs {}": "{} 对比 {}",
    "{}: % of each true digit": "{}：占各真实数字的 %",
    "{}: counts": "{}：计数",
    "{}, before": "{}，缩放前",
    "{} precision": "{} 精确率",
    "{} recall": "{} 召回率",
    "{} f1": "{} F1",
    "patience {}": "耐心值 {}",
    "seed {}": "种子 {}",
}

# Latin words a Chinese text may keep: names of methods, models, units and libraries
# (tokens with digits or underscores, like float32 or x_train, are never counted as words).
KEEP = {
    "adam",
    "sgd",
    "rmsprop",
    "adagrad",
    "adadelta",
    "nadam",
    "momentum",
    "relu",
    "tanh",
    "sigmoid",
    "gelu",
    "elu",
    "selu",
    "swish",
    "leaky",
    "softmax",
    "mlp",
    "cnn",
    "cnns",
    "mlps",
    "lenet",
    "bn",
    "tflite",
    "tensorflow",
    "lite",
    "keras",
    "mnist",
    "emnist",
    "qmnist",
    "fgsm",
    "pgd",
    "ece",
    "he",
    "glorot",
    "xavier",
    "dropout",
    "ms",
    "kb",
    "mb",
    "gb",
    "px",
    "cpu",
    "gpu",
    "xla",
    "mcnemar",
    "scikit",
    "learn",
    "sklearn",
    "svm",
    "knn",
    "pca",
    "ci",
    "std",
    "sd",
    "auc",
    "roc",
    "lr",
    "id",
    "max",
    "min",
    "log",
    "nll",
    "ssim",
    "grad",
    "cam",
    "smoothgrad",
    "saliency",
    "batchnorm",
    "gap",
    "fc",
    "conv",
    "pool",
    "top",
    "nesterov",
    # Keras layer names and types, and the shape notation of the layer tables
    "dense",
    "hidden",
    "output",
    "flatten",
    "inputlayer",
    "input",
    "image",
    "channel",
    "batch",
    "reshape",
    "einsumdense",
    "batchnormalization",
    "maxpooling",
    "activation",
    "sequential",
    "augment",
    "probabilities",
    "normalization",
    "randomaffine",
}
_TOKEN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_WORD = re.compile(r"[A-Za-z][A-Za-z]+")
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


def _compiled_patterns() -> list[tuple[re.Pattern, str]]:
    return [
        (re.compile("^" + "(.+?)".join(map(re.escape, source.split("{}"))) + "$", re.S), target)
        for source, target in ZH_PATTERNS.items()
    ]


def translate(text: str, language: str = "zh") -> str:
    """``text`` in ``language``: from the table, then the patterns (whose placeholders are
    translated in turn); unchanged when English or when no entry matches."""
    if language == "en" or not text or not text.strip():
        return text
    key = text.strip()
    if key in ZH:
        return text.replace(key, ZH[key])
    for pattern, target in _compiled_patterns():
        m = pattern.match(key)
        if m:
            return text.replace(key, target.format(*(translate(g, language) for g in m.groups())))
    return text


def untranslated(text: str) -> bool:
    """Whether ``text`` still holds English words a Chinese reader should not meet
    (math between ``$`` signs and code between backticks do not count)."""
    text = re.sub(r"\$[^$]*\$|`[^`]*`", " ", text)
    # Tokens with digits or underscores (x_train, float32, t10k-images-idx3-ubyte, checksums)
    # are identifiers, not words to translate.
    words = [t for t in _TOKEN.findall(text) if not re.search(r"[\d_]", t)]
    return any(w.lower() not in KEEP for t in words for w in _WORD.findall(t))


def has_chinese(text: str) -> bool:
    """Whether ``text`` contains Chinese characters (or CJK punctuation)."""
    return bool(_CJK.search(text))


def register_cjk_font() -> bool:
    """Make sure matplotlib knows the CJK font of :data:`FIGURE_FONTS`.

    matplotlib caches the system's font list the first time it runs, so a font
    installed later (``make setup`` on a machine that already drew figures) stays
    unknown to it until it is added by file.

    Returns:
        Whether the font is available.
    """
    from pathlib import Path

    from matplotlib import font_manager

    name = FIGURE_FONTS[-1]
    if any(f.name == name for f in font_manager.fontManager.ttflist):
        return True
    for path in sorted(Path("/usr/share/fonts").glob("**/NotoSansCJK-*.ttc")):
        font_manager.fontManager.addfont(str(path))
    return any(f.name == name for f in font_manager.fontManager.ttflist)


def localize_figure(fig, language: str = "zh") -> list[str]:
    """Translate every label of a matplotlib figure in place: titles, axis labels, legends,
    annotations and the tick labels of categorical axes. The figure must have been drawn
    (saved) once, which is when matplotlib creates its tick labels.

    Returns:
        The texts left with English words in them (for the build to report).
    """
    from matplotlib.text import Text
    from matplotlib.ticker import FuncFormatter

    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            labels = [t.get_text() for t in axis.get_ticklabels()]
            if all(translate(label, language) == label for label in labels):
                continue  # numbers: leave the formatter (and its offset text) alone
            # Wrap the formatter rather than overwrite the tick texts: matplotlib
            # regenerates them from the formatter at every draw.
            old = axis.get_major_formatter()
            axis.set_major_formatter(FuncFormatter(lambda x, pos=None, old=old: translate(old(x, pos), language)))
    for text in fig.findobj(Text):
        text.set_text(translate(text.get_text(), language))
        # A text's font family is fixed when it is created, so set the fallback list on each.
        text.set_fontfamily(FIGURE_FONTS)
    left = {t.get_text() for t in fig.findobj(Text) if t.get_visible() and untranslated(t.get_text())}
    return sorted(left)
