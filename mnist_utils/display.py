"""Notebook output that reads well both in the HTML and in the LaTeX PDF.

A pandas DataFrame shows as monospaced text in nbconvert's PDF, so tables are
published with an HTML and a LaTeX representation side by side, and each
exporter picks its own. Captioned figures and tables carry ``mnist_report``
output metadata (kind, label, caption); the report builder numbers them in
document order and replaces ``[@fig:label]`` / ``[@tab:label]`` in the prose
with "Figure N" / "Table N".

Every output is published in English and Chinese at once: the English in the
output's data, the Chinese under ``mnist_report.zh`` in its metadata, which
the report builder swaps in for the Chinese edition (``i18n``).
"""

from __future__ import annotations

import re

from mnist_utils import i18n


def table(df, caption: str | None = None, index: bool = False, float_format: str = "{:.4g}",
          label: str | None = None, zh: str | None = None):
    """Display a DataFrame as a captioned table in HTML and LaTeX; ``label`` lets prose cite it
    as ``[@tab:label]`` (a caption is then required). ``zh``: the caption in Chinese (default:
    translated by ``i18n``); headers and text cells are translated by ``i18n``."""
    from IPython.display import display

    if label and not caption:
        raise ValueError(f"table {label!r}: a labelled table needs a caption")
    english = _table_bundle(df, caption, index, float_format)
    caption_zh = zh or (i18n.translate(caption) if caption else None)
    translated, untranslated = _translated_frame(df)
    zh_meta = {"data": _table_bundle(translated, caption_zh, index, float_format), "caption": caption_zh}
    if caption_zh and i18n.untranslated(caption_zh):
        untranslated.append(caption_zh)
    if untranslated:
        zh_meta["untranslated"] = untranslated
    display(english, raw=True, metadata=_numbered("table", caption, label, zh_meta))


def _table_bundle(df, caption, index, float_format) -> dict:
    """The HTML, LaTeX and plain-text representations of a (captioned) table."""
    def styled(escape):
        styler = df.style.format(escape=escape).format(
            float_format, subset=df.select_dtypes("float").columns, escape=escape)
        styler = styler.format_index(escape=escape, axis=1)
        return styler if index else styler.hide(axis="index")

    html = styled("html").set_table_attributes('class="dataframe"').to_html()
    latex = _stacked_units(styled("latex").to_latex(hrules=True, column_format="l" * (len(df.columns) + int(index))))
    # Shrink a table wider than the text block instead of letting it run off the page
    # (adjustbox is loaded by nbconvert's LaTeX template for figures anyway).
    latex = f"\\begin{{adjustbox}}{{max width=\\linewidth}}\n{latex}\\end{{adjustbox}}\n"
    if caption:
        html = f"<figure><figcaption><b>{caption}</b></figcaption>{html}</figure>"
        latex = (f"\\begin{{table}}[H]\\centering\\small\n\\caption{{{_tex(caption)}}}\n"
                 f"{latex}\\end{{table}}")
    else:
        latex = f"\\begin{{center}}\\small\n{latex}\\end{{center}}"
    return {"text/html": html, "text/latex": latex, "text/plain": df.to_string(index=index)}


def _stacked_units(latex: str) -> str:
    """Put the unit of each header of a LaTeX table, "name (unit)", on a line under its name.

    A header such as "inference (images/s)" is often the widest cell of its column, so a
    table of many columns gets narrower and is shrunk less to fit the page.
    """
    top, rule, rest = latex.partition("\\toprule\n")
    header, newline, body = rest.partition("\n")
    if not rule or not header.endswith(" \\\\"):
        return latex
    cells = [re.sub(r"^(.+?) (\(.+\))$", r"\\shortstack[l]{\1\\\\\2}", cell.strip())
             for cell in header.removesuffix(" \\\\").split(" & ")]
    return top + rule + " & ".join(cells) + " \\\\" + newline + body


def _translated_frame(df):
    """A copy of ``df`` with its headers, index and text cells in Chinese, and the
    texts left with English words in them."""
    left = []

    def tr(value):
        if not isinstance(value, str):
            return value
        value = i18n.translate(value)
        if i18n.untranslated(value) and value not in left:
            left.append(value)
        return value

    out = df.copy()
    out.columns = [tr(c) for c in df.columns]
    out.index = out.index.map(tr)
    out.index.name = tr(df.index.name)
    for i in range(out.shape[1]):  # by position: translated headers may repeat
        out.iloc[:, i] = out.iloc[:, i].map(tr)
    return out, left


def figure(fig, caption: str, label: str | None = None, dpi: int = 150, zh: str | None = None) -> None:
    """Display a matplotlib figure with a caption, numbered in the report; ``label`` lets
    prose cite it as ``[@fig:label]``; ``zh``: the caption in Chinese (default: translated
    by ``i18n``). Closes the figure, so it is not shown twice."""
    import matplotlib.pyplot as plt
    from IPython.display import Markdown, display

    english = _png(fig, dpi)
    chinese, untranslated, missing = _chinese_png(fig, dpi)
    plt.close(fig)
    zh_meta = {"data": {"image/png": chinese}, "caption": zh or i18n.translate(caption)}
    if i18n.untranslated(zh_meta["caption"]):
        untranslated.append(zh_meta["caption"])
    if untranslated:
        zh_meta["untranslated"] = untranslated
    if missing:
        zh_meta["missing_glyphs"] = missing
    display({"image/png": english}, raw=True, metadata=_numbered("figure", caption, label, zh_meta))
    # The caption again for readers of the notebook itself; the report shows its own.
    display(Markdown(f"*{caption}*"), metadata={"mnist_report": {"caption_of": label or caption}})


def _png(fig, dpi: int) -> str:
    """The figure as a base64 PNG (no software stamp, so equal figures give equal bytes)."""
    import base64
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _chinese_png(fig, dpi: int) -> tuple[str, list[str], list[str]]:
    """The figure with its labels in Chinese, as a base64 PNG; also the labels left in
    English and any font warnings (a missing glyph draws a box)."""
    import logging
    import warnings

    import matplotlib as mpl

    class Collect(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage())

    messages: list[str] = [] if i18n.register_cjk_font() else [
        f"font {i18n.FIGURE_FONTS[-1]!r} is not installed (Debian: apt-get install fonts-noto-cjk)"]
    handler = Collect(logging.WARNING)
    logger = logging.getLogger("matplotlib.font_manager")
    logger.addHandler(handler)
    fonts = {"font.family": i18n.FIGURE_FONTS}  # for texts created while drawing (new ticks)
    try:
        with mpl.rc_context(fonts), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            left = i18n.localize_figure(fig)
            png = _png(fig, dpi)
    finally:
        logger.removeHandler(handler)
    messages += [str(w.message) for w in caught]
    return png, left, sorted({m for m in messages if "glyph" in m.lower() or "font" in m.lower()})


def _numbered(kind: str, caption: str | None, label: str | None, zh: dict) -> dict:
    """Output metadata: what the report builder numbers (only captioned items get a number)
    and the Chinese edition of the output."""
    if not caption:
        return {"mnist_report": {"zh": zh}}
    return {"mnist_report": {"kind": kind, "caption": caption, "label": label, "zh": zh}}


def md(text: str, zh: str | None = None) -> None:
    """Display markdown whose numbers were formatted from results; ``zh``: the same in
    Chinese (without it the Chinese report flags the English text as untranslated)."""
    from IPython.display import Markdown, display

    display(Markdown(text), metadata={"mnist_report": {"zh": {"data": {"text/markdown": zh}}}} if zh else None)


def profile_note(profile: str) -> None:
    """Warn the reader when the numbers below come from a reduced profile, not the study."""
    if profile != "full":
        md(f"> **Note.** This notebook ran with the `{profile}` profile (fewer seeds, epochs or "
           f"images than the study), to check that it works. Its numbers are not results.",
           zh=f"> **注意。** 本笔记本以 `{profile}` 配置运行（种子、轮数或图像少于正式研究），"
              f"只为检查它能否运行。其中的数字不是研究结果。")


def _tex(text: str) -> str:
    """Escape the LaTeX special characters that can occur in captions."""
    for a, b in (("&", r"\&"), ("%", r"\%"), ("$", r"\$"),
                 ("#", r"\#"), ("_", r"\_"), ("{", r"\{"), ("}", r"\}")):
        text = text.replace(a, b)
    return text
