"""The translation table, figure localization and the bilingual display outputs."""

import base64

import pytest

from mnist_utils import display, i18n, plots


def test_translate_exact_entries_and_patterns():
    assert i18n.translate("validation accuracy (%)") == "验证准确率 (%)"
    assert i18n.translate("validation accuracy (%)", "en") == "validation accuracy (%)"
    assert i18n.translate("relu + adam vs baseline (02)") == "relu + adam 对比基线 (02)"
    assert i18n.translate("test errors (mean of 3 seeds)") == "测试错误数（3 个种子的平均）"
    assert i18n.translate("seed pair") == "种子对"  # the exact entry wins over the "seed {}" pattern
    assert i18n.translate("not in the table") == "not in the table"


def test_untranslated_ignores_names_math_and_code():
    assert not i18n.untranslated("ReLU 配 Adam，$\\varepsilon = 0.1$，`metrics.json`")
    assert i18n.untranslated("训练 accuracy")
    assert not i18n.untranslated("98.1 ± 0.2 %")


@pytest.fixture()
def shown(monkeypatch):
    """What display.* would have put in the notebook: (data, metadata) per output."""
    import IPython.display

    out = []
    monkeypatch.setattr(
        IPython.display, "display", lambda obj, raw=False, metadata=None: out.append((obj, metadata or {}))
    )
    return out


def test_figure_is_published_in_both_languages_with_no_missing_glyph(shown):
    import numpy as np

    plots.style()
    fig = plots.class_balance({"train": np.arange(10) + 5, "validation": np.arange(10) + 5})
    display.figure(fig, label="t-balance")
    [(english, meta)] = shown
    assert meta["mnist_report"]["kind"] == "figure" and meta["mnist_report"]["label"] == "t-balance"
    zh = meta["mnist_report"]["zh"]
    assert "untranslated" not in zh and "missing_glyphs" not in zh  # every label translated, every glyph drawn
    assert base64.b64decode(zh["data"]["image/png"])[:4] == b"\x89PNG"
    assert zh["data"]["image/png"] != english["image/png"]


def test_figure_reports_labels_left_in_english(shown):
    from matplotlib.figure import Figure

    fig = Figure()
    fig.add_subplot().set_xlabel("a label nobody translated")
    display.figure(fig, label="x")
    zh = shown[0][1]["mnist_report"]["zh"]
    assert zh["untranslated"] == ["a label nobody translated"]


def test_table_translates_headers_and_text_cells(shown):
    import pandas as pd

    df = pd.DataFrame({"model": ["our CNN", "LeNet-5"], "test accuracy (%)": [99.1, 98.9]})
    display.table(df, label="two")
    data, meta = shown[0]
    zh = meta["mnist_report"]["zh"]
    assert "test accuracy (%)" in data["text/html"]
    assert "测试准确率 (%)" in zh["data"]["text/html"] and "我们的 CNN" in zh["data"]["text/latex"]
    assert "untranslated" not in zh and meta["mnist_report"]["label"] == "two"
    # In LaTeX a header's unit goes under its name, and the unit-less header stays one line.
    assert "model & \\shortstack[l]{test accuracy\\\\(\\%)} \\\\\n" in data["text/latex"]
    assert "\\shortstack[l]{测试准确率\\\\(\\%)}" in zh["data"]["text/latex"]


def test_facts_publish_plain_values_shown_compactly(shown):
    import numpy as np

    from mnist_utils.book import prose

    display.facts(
        ours={"mean": np.float32(0.5), "std": None, "n": 3}, seeds=np.array([0, 1]), missing=float("nan"), name="adam"
    )
    [(data, _)] = shown
    values = data[prose.FACTS_MIME]
    assert values == {"ours": {"mean": 0.5, "std": None, "n": 3}, "seeds": [0, 1], "missing": None, "name": "adam"}
    assert data["text/plain"].splitlines() == [
        "ours = {mean: 0.5, std: None, n: 3}",
        "seeds = [0, 1]",
        "missing = None",
        "name = 'adam'",
    ]
    with pytest.raises(TypeError, match="not a plain value"):
        display.facts(model=object())
    shown.clear()
    result = {"verdict": "not_reproduced", "ours": {"mean": 0.9, "std": 0.01, "n": 3}, "claim": {"rule": "within"}}
    display.facts(p000={f"claim_{i}": result for i in range(8)}, short="x" * 90)  # as notebook 07 publishes
    [(data, _)] = shown
    lines = data["text/plain"].splitlines()
    assert (
        len(lines[0]) == display.FACT_WIDTH
        and lines[0].startswith("p000 = {claim_0: {verdict: ")
        and lines[0][-1] == "…"
    )
    assert lines[1] == "short = '" + "x" * 90 + "'"  # 100 characters: kept whole
    assert data[prose.FACTS_MIME]["p000"]["claim_7"] == result  # the templates get every value
